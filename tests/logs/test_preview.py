"""The real program, previewed offline: Alloy with S3 storage holds no secret value in any document,
and the collectors' state survives a switch between them on Docker."""

from __future__ import annotations

import json

import pytest
import yaml

from logs.promtail import POSITIONS_DIR
from preview.__main__ import PLACEHOLDER
from tests.conftest import ROOT, STACKS, run_preview, stack_settings

# The stacks whose stack file deploys to Docker (prod moved to Kubernetes).
DOCKER_STACKS = [stack for stack in STACKS if stack_settings(stack).platform == "docker"]
CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"


def preview_with_logs(tmp_path, stack: str, logs: dict, **settings: object):
    """The stack previewed with these log settings (and these other top-level settings)."""
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    config["config"]["monitoring:logs"] = logs
    config["config"].update({f"monitoring:{key}": value for key, value in settings.items()})
    tmp_path.mkdir(parents=True, exist_ok=True)
    config_file = tmp_path / f"Pulumi.{stack}.yaml"
    config_file.write_text(yaml.safe_dump(config))
    out = tmp_path / "build"
    result = run_preview(stack, out, "--config-file", str(config_file))
    assert result.returncode == 0, result.stderr
    return result, out, json.loads((out / "resources.json").read_text())["resources"]


def named(resources, type_token: str, name: str):
    (found,) = [r for r in resources if r["type"] == type_token and r["name"] == name]
    return found


def test_alloy_and_s3_preview_without_secret_values(tmp_path):
    s3 = {"endpoint": "minio.internal:9000", "bucket": "loki-chunks", "access_key_id": "loki-writer"}
    result, out, resources = preview_with_logs(tmp_path, "prod", {"collector": "alloy", "drop_debug": True, "s3": s3})
    # The preview stands in a placeholder for every needed secret: it must appear in no document.
    sentinel = f"{PLACEHOLDER}-loki_s3_secret_access_key"
    assert "loki_s3_secret_access_key" in result.stderr  # the secret is needed, so a placeholder was used
    documents = [path for path in out.rglob("*") if path.is_file()]
    assert (out / "alloy" / "config.alloy").is_file() and not (out / "promtail").exists()
    for path in documents:
        assert sentinel not in path.read_text(), path
    loki = yaml.safe_load((out / "loki" / "loki.yml").read_text())
    assert loki["storage_config"]["aws"]["secret_access_key"] == "${LOKI_S3_SECRET_ACCESS_KEY}"
    types = {r["type"] for r in resources}
    assert "monitoring:alloy:Alloy" in types and "monitoring:promtail:Promtail" not in types


@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_collector_state_outlives_a_switch_and_alloy_reads_promtails_positions(tmp_path, stack):
    """On Docker with protected state (as prod on Docker): each collector's volume is kept on the host when the
    stack switches away from it but not protected (Pulumi refuses to remove a protected resource, so
    the one-setting switch would fail), and Alloy mounts Promtail's positions volume read-only by
    its Docker name. Mutation caught: the platform ignoring `outlives_service` or `borrowed_from`."""
    prefix = stack_settings(stack).prefix
    _, _, with_promtail = preview_with_logs(tmp_path / "promtail", stack, {"collector": "promtail"}, protect_state=True)
    _, _, with_alloy = preview_with_logs(tmp_path / "alloy", stack, {"collector": "alloy"}, protect_state=True)
    positions = named(with_promtail, VOLUME, "promtail-positions")
    state = named(with_alloy, VOLUME, "alloy-state")
    for volume in positions, state:
        assert (volume["protect"], volume["retain_on_delete"]) == (False, True), volume["name"]
    assert positions["inputs"]["name"] == f"{prefix}-promtail-positions"
    alloy_mounts = {m["target"]: m for m in named(with_alloy, CONTAINER, "alloy")["inputs"]["mounts"]}
    borrowed = alloy_mounts[POSITIONS_DIR]
    assert (borrowed["type"], borrowed["source"], borrowed.get("readOnly")) == ("volume", positions["inputs"]["name"], True)
    assert not [r for r in with_alloy if r["type"] == VOLUME and "promtail" in r["name"]], "Alloy must not own it"
