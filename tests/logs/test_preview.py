"""The real program, previewed offline with S3 storage and Alloy: no secret value in any document."""

from __future__ import annotations

import json

import yaml

from preview.__main__ import PLACEHOLDER
from tests.conftest import ROOT, run_preview


def test_alloy_and_s3_preview_without_secret_values(tmp_path):
    config = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    config["config"]["monitoring:logs"] = {
        "collector": "alloy",
        "drop_debug": True,
        "s3": {"endpoint": "minio.internal:9000", "bucket": "loki-chunks", "access_key_id": "loki-writer"},
    }
    config_file = tmp_path / "Pulumi.prod.yaml"
    config_file.write_text(yaml.safe_dump(config))
    out = tmp_path / "build"
    result = run_preview("prod", out, "--config-file", str(config_file))
    assert result.returncode == 0, result.stderr
    # The preview stands in a placeholder for every needed secret: it must appear in no document.
    sentinel = f"{PLACEHOLDER}-loki_s3_secret_access_key"
    assert "loki_s3_secret_access_key" in result.stderr  # the secret is needed, so a placeholder was used
    documents = [path for path in out.rglob("*") if path.is_file()]
    assert (out / "alloy" / "config.alloy").is_file() and not (out / "promtail").exists()
    for path in documents:
        assert sentinel not in path.read_text(), path
    loki = yaml.safe_load((out / "loki" / "loki.yml").read_text())
    assert loki["storage_config"]["aws"]["secret_access_key"] == "${LOKI_S3_SECRET_ACCESS_KEY}"
    resources = json.loads((out / "resources.json").read_text())["resources"]
    types = {r["type"] for r in resources}
    assert "monitoring:alloy:Alloy" in types and "monitoring:promtail:Promtail" not in types
