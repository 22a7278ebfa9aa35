"""The manifests scanned by checkov (its Kubernetes framework, default checks), as CI runs it.

Each exception is declared on the workload itself as checkov reads it (`checkov.io/skip<N>:
<CHECK>=<reason>`): a reason is required, and an exception that no longer matches a finding is a
failure too (the scan of the same manifests with the exceptions removed must find exactly them).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT
from tests.kubernetes.platform_support import EVERYTHING_ON, preview_with

CHECKOV = ROOT / ".venv-scan" / "bin" / "checkov"
SKIP_PREFIX = "checkov.io/skip"


def scan(directory) -> dict:
    assert CHECKOV.exists(), "checkov is missing: run scripts/setup.sh (it installs requirements-scan.txt)"
    completed = subprocess.run(
        [str(CHECKOV), "--directory", str(directory), "--framework", "kubernetes", "--output", "json", "--compact"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.stdout.strip(), completed.stderr[-2000:]
    report = json.loads(completed.stdout)
    assert report["check_type"] == "kubernetes"
    return report


def declared_exceptions(directory) -> set[tuple[str, str]]:
    """(check id, checkov's resource id) for every exception annotation; each must carry a reason."""
    found = set()
    for path in directory.rglob("*.yaml"):
        document = yaml.safe_load(path.read_text())
        metadata = document["metadata"]
        for key, value in (metadata.get("annotations") or {}).items():
            if key.startswith(SKIP_PREFIX):
                check, _, reason = value.partition("=")
                assert len(reason.strip()) > 10, f"{path.name}: exception {check} without a reason"
                resource = ".".join(part for part in (document["kind"], metadata.get("namespace"), metadata["name"]) if part)
                found.add((check, resource))
    return found


def without_exceptions(source, target):
    shutil.copytree(source, target)
    for path in target.rglob("*.yaml"):
        document = yaml.safe_load(path.read_text())
        annotations = document["metadata"].get("annotations") or {}
        for key in [key for key in annotations if key.startswith(SKIP_PREFIX)]:
            del annotations[key]
        path.write_text(yaml.safe_dump(document))
    return target


@pytest.fixture(scope="module")
def scanned(previews, tmp_path_factory):
    everything = preview_with(tmp_path_factory.mktemp("k8s-scan-everything"), "prod", EVERYTHING_ON)
    return {"prod": previews["prod"].out / "kubernetes", "everything-on": everything.out / "kubernetes"}


@pytest.mark.parametrize("variant", ["prod", "everything-on"])
def test_manifests_pass_the_scanners_default_checks(scanned, variant):
    report = scan(scanned[variant])
    summary = report["summary"]
    failures = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in report["results"]["failed_checks"]]
    assert failures == []
    assert summary["parsing_errors"] == 0
    # Every object was read and checked (a scan that read nothing would pass too).
    assert summary["resource_count"] >= len(list(scanned[variant].rglob("*.yaml")))
    assert summary["passed"] > 500


@pytest.mark.parametrize("variant", ["prod", "everything-on"])
def test_every_exception_is_needed_and_explained(scanned, variant, tmp_path):
    declared = declared_exceptions(scanned[variant])
    assert declared, "the host agents and pinned-by-tag images are expected exceptions"
    bare = scan(without_exceptions(scanned[variant], tmp_path / "bare"))
    findings = {(c["check_id"], c["resource"]) for c in bare["results"]["failed_checks"]}
    assert findings == declared
