"""The opt-in eBPF profiler (profiles.ebpf) makes the collector DaemonSet privileged in the host's
PID namespace: a documented exception, declared as checkov reads it, and nothing else changes."""

from __future__ import annotations

import pytest
import yaml

from tests.kubernetes.platform_support import preview_with
from tests.kubernetes.test_manifests_scan import declared_exceptions, scan, without_exceptions


@pytest.fixture(scope="module")
def agents(tmp_path_factory):
    out = tmp_path_factory.mktemp("k8s-ebpf")
    preview = preview_with(out, "prod", {"monitoring:profiles": {"ebpf": True}})
    return preview.out / "kubernetes" / "monitoring-host"


def test_the_ebpf_collector_is_privileged_with_its_reason(agents):
    daemonset = yaml.safe_load((agents / "daemonset-alloy.yaml").read_text())
    pod = daemonset["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "alloy")
    assert pod["hostPID"] is True and container["securityContext"]["privileged"] is True
    assert "eBPF" in daemonset["metadata"]["annotations"]["monitoring.io/security-exception"]


def test_the_scan_passes_and_every_exception_is_needed(agents, tmp_path):
    report = scan(agents)
    assert [c["check_id"] for c in report["results"]["failed_checks"]] == []
    bare = scan(without_exceptions(agents, tmp_path / "bare"))
    assert {(c["check_id"], c["resource"]) for c in bare["results"]["failed_checks"]} == declared_exceptions(agents)
