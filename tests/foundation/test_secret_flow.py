"""Secrets are handed to the program and reach only secret inputs: a sentinel value per secret is set
as the stack's config, the whole program runs under the mock engine, and every input is searched.

The sentinel is what the product code receives (not a value the test merely hopes is absent), so
the "nowhere in plain text" assertion can fail: each secret must also be found where it belongs.
"""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from tests.conftest import ROOT
# The logs tests' planted secret, here actually handed to the program.
from tests.logs.conftest import SENTINEL_SECRET as SENTINEL

PROGRAM = """
import json, runpy, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import pulumi
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await
from preview.__main__ import add_missing_secrets, read_stack_config
from preview.engine import RecordingMonitor, StackMocks

flat, secret_keys, _ = read_stack_config(Path(sys.argv[2]))
add_missing_secrets("staging", flat, secret_keys)
for key in secret_keys:
    flat[key] = sys.argv[3] + "-" + key.split(":")[-1]
pulumi.runtime.set_all_config(flat, secret_keys)
mocks = StackMocks()
monitor = RecordingMonitor(mocks)
pulumi.runtime.set_mocks(mocks, project="monitoring", stack="staging", preview=False, monitor=monitor)
_sync_await(run_pulumi_func(lambda: runpy.run_path(sys.argv[1] + "/stack/__main__.py", run_name="__main__")))
print(json.dumps({
    "secret_keys": [key.split(":")[-1] for key in secret_keys],
    "resources": [
        {"type": r.type, "name": r.name, "plain": json.dumps(r.inputs), "revealed": json.dumps(r.revealed_inputs)}
        for r in monitor.registrations
    ],
}))
"""


def test_every_secret_reaches_only_secret_inputs(tmp_path):
    """Mutations caught: a secret written into a rendered document or a plain input (an env var
    without `Output.secret`, a config file upload); a secret the program never hands over; a secret
    a deployed service reads but `settings/secrets.py` does not declare (the real postgres and redis
    exporters once failed the preview with a KeyError)."""
    config = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    # Loki's S3 key is needed only with object storage: configure it, so that secret flows too.
    config["config"]["monitoring:logs"] = {
        **(config["config"].get("monitoring:logs") or {}),
        "s3": {"endpoint": "minio.internal:9000", "bucket": "loki", "access_key_id": "loki"},
    }
    # Tempo's S3 key likewise, with its blocks in object storage.
    config["config"]["monitoring:traces"] = {
        "tempo": {"s3": {"endpoint": "minio.internal:9000", "bucket": "tempo", "access_key_id": "tempo"}},
    }
    # The real database exporters need their passwords (a preview in real mode once failed on them).
    exporters = dict(config["config"].get("monitoring:exporters") or {})
    exporters["postgres"] = {"mode": "real"}
    exporters["redis"] = {"mode": "real", "password": True}
    config["config"]["monitoring:exporters"] = exporters
    config_file = tmp_path / "Pulumi.staging.yaml"
    config_file.write_text(yaml.safe_dump(config))
    completed = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(ROOT), str(config_file), SENTINEL],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert {"grafana_admin_password", "loki_s3_secret_access_key", "postgres_exporter_password",
            "redis_exporter_password", "tempo_s3_secret_access_key"} <= set(report["secret_keys"])
    for resource in report["resources"]:
        assert SENTINEL not in resource["plain"], f"{resource['type']} {resource['name']} holds a secret in plain text"
    holders = {
        key: {r["name"] for r in report["resources"] if f"{SENTINEL}-{key}" in r["revealed"]}
        for key in report["secret_keys"]
    }
    assert all(holders.values()), f"secrets never handed to any resource: {holders}"
    # The container's secret file, the rotation resource and the provider's credentials.
    assert {"grafana", "admin-password"} <= holders["grafana_admin_password"]
    assert "loki" in holders["loki_s3_secret_access_key"]
    assert "tempo" in holders["tempo_s3_secret_access_key"]
    assert "postgres-exporter" in holders["postgres_exporter_password"]
    assert "redis-exporter" in holders["redis_exporter_password"]
