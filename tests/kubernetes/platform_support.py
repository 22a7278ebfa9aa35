"""Shared by the platform and manifest tests: previews on the Kubernetes platform and their manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT, Preview, run_preview

# Every optional object kind and host agent at once: ingress, GPU nodes, a published Service type,
# S3 for Loki (a secret read from the environment), Promtail instead of Alloy.
EVERYTHING_ON = {
    "monitoring:platform": "kubernetes",
    "monitoring:kubernetes": {
        "namespace": "observability",
        "storage_class": "fast-ssd",
        "storage": {"prometheus": "250GB"},
        "image_pull_secrets": ["registry-credentials"],
        "placement": {
            "node_selector": {"node-role.example.com/monitoring": "true"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "monitoring", "effect": "NoSchedule"}],
        },
        "ingress": {"class_name": "nginx", "host": "grafana.example.com", "tls_secret": "grafana-tls"},
        "service_type": "LoadBalancer",
    },
    "monitoring:exposure": {"publish": ["grafana"]},
    "monitoring:logs": {
        "collector": "promtail",
        "s3": {"endpoint": "minio.example.com:9000", "bucket": "loki", "access_key_id": "loki"},
    },
    "monitoring:exporters": {
        "node": {"mode": "real"},
        "cadvisor": {"mode": "real"},
        "dcgm": {"mode": "shadow"},
        "vllm": {"mode": "mock"},
        "mock_image": {"registry": "registry.example.com/monitoring"},
    },
    # Backups to S3 with Loki in S3: no Loki job, Loki reported by the Prometheus job as skipped.
    "monitoring:backup": {"s3": {"endpoint": "minio.example.com:9000", "bucket": "backups", "access_key_id": "backup"}},
}


def preview_with(tmp_path: Path, stack: str, overrides: dict[str, Any]) -> Preview:
    """The stack's own settings with `overrides` (top-level keys replaced), previewed offline."""
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    document["config"].update(overrides)
    config_file = tmp_path / f"Pulumi.{stack}.yaml"
    config_file.write_text(yaml.safe_dump(document))
    out = tmp_path / "build"
    completed = run_preview(stack, out, "--config-file", str(config_file))
    assert completed.returncode == 0, completed.stderr
    resources = json.loads((out / "resources.json").read_text())
    return Preview(stack, out, resources["resources"], resources["outputs"])


def manifests(preview: Preview) -> dict[str, dict[str, Any]]:
    """Relative path under build/<stack>/kubernetes/ -> the parsed manifest."""
    root = preview.out / "kubernetes"
    return {str(path.relative_to(root)): yaml.safe_load(path.read_text()) for path in sorted(root.rglob("*.yaml"))}


def of_kind(documents: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """Objects of one kind by `<namespace>/<name>` (or the name alone when cluster-scoped)."""
    found = {}
    for document in documents.values():
        if document["kind"] == kind:
            metadata = document["metadata"]
            key = f"{metadata['namespace']}/{metadata['name']}" if "namespace" in metadata else metadata["name"]
            found[key] = document
    return found


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def workloads(documents: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {key: doc for kind in WORKLOAD_KINDS for key, doc in of_kind(documents, kind).items()}


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return workload["spec"]["template"]["spec"]["containers"]
