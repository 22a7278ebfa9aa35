"""Small compliant resources, as Pulumi sends them (camelCase inputs), for the policies' unit tests.
Each test copies one and breaks exactly what its policy checks."""

from __future__ import annotations

import copy
from typing import Any

from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions

from services.exceptions import NODE_EXPORTER_HOST

CONTAINER = "docker:index/container:Container"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
SELECTOR = {"app.kubernetes.io/name": "grafana"}


def options(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def docker_container() -> dict[str, Any]:
    return {
        "image": "grafana/grafana:11.6.3",
        "memory": 512,
        "cpus": 0.5,
        "healthcheck": {"tests": ["CMD", "wget", "-q", "http://127.0.0.1:3000/api/health"]},
        "labels": [{"label": "monitoring.service", "value": "grafana"}],
        "ports": [{"internal": 3000, "external": 23000, "ip": "127.0.0.1"}],
        "envs": ["GF_PATHS_CONFIG=/etc/grafana/grafana.ini"],
        "mounts": [{"type": "volume", "source": "grafana-data", "target": "/var/lib/grafana"}],
    }


def restricted_context() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"}}


def k8s_container() -> dict[str, Any]:
    return {
        "name": "grafana",
        "image": "grafana/grafana:11.6.3",
        "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}},
        "livenessProbe": {"httpGet": {"path": "/api/health", "port": 3000}},
        "securityContext": restricted_context(),
    }


def k8s_workload(kind: str = DEPLOYMENT, replicas: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"name": "grafana", "namespace": "monitoring", "labels": dict(SELECTOR)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(SELECTOR)},
            "template": {"metadata": {"labels": dict(SELECTOR)},
                         "spec": {"containers": [k8s_container()], "securityContext": {"runAsNonRoot": True}}},
            **({"volumeClaimTemplates": [{"metadata": {"name": "data"}}],
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"}}
               if kind == STATEFULSET else {}),
        },
    }


def host_workload() -> dict[str, Any]:
    """The node exporter's shape: host namespaces, carrying its documented exception."""
    workload = k8s_workload()
    workload["metadata"]["annotations"] = {"checkov.io/skip1": f"CKV_K8S_17={NODE_EXPORTER_HOST}"}
    workload["spec"]["template"]["spec"].update(hostNetwork=True, hostPID=True)
    return workload


def stack_resource(type_: str, name: str, props: dict[str, Any], stack: str = "prod", protect: bool = False) -> PolicyResource:
    urn = f"urn:pulumi:{stack}::monitoring::{type_}::{name}"
    return PolicyResource(type_, copy.deepcopy(props), urn, name, options(protect), None, None, [], {})
