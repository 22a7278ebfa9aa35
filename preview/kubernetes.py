"""The Kubernetes objects of a preview as manifests: what `kubectl diff -f` / `kubectl apply -f` take.

pulumi-kubernetes registers each object with its full manifest as inputs (apiVersion, kind,
metadata, spec/data...), so the manifests are read from the registrations themselves. Secret values
stay masked (`[secret]`), exactly as in resources.json.
"""

from __future__ import annotations

from typing import Any

import yaml

from preview.engine import MASK, RecordingMonitor, Registration

KUBERNETES_PREFIX = "kubernetes:"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
# The directory of cluster-scoped objects (ClusterRoles, bindings, namespaces).
CLUSTER_SCOPED = "_cluster"


def is_kubernetes_object(registration: Registration) -> bool:
    return registration.custom and registration.type.startswith(KUBERNETES_PREFIX) and "kind" in registration.inputs


def manifest(registration: Registration) -> dict[str, Any]:
    """The object's manifest; a Secret's values masked one by one (its keys are not secret)."""
    document = dict(registration.inputs)
    for field in ("data", "stringData"):
        if document.get(field) == MASK:
            document[field] = {key: MASK for key in registration.revealed_inputs.get(field, {})}
    return document


def manifest_path(document: dict[str, Any]) -> str:
    """`<namespace>/<kind>-<name>.yaml`, or `_cluster/<kind>-<name>.yaml` for cluster-scoped objects."""
    metadata = document.get("metadata", {})
    scope = metadata.get("namespace") or CLUSTER_SCOPED
    return f"{scope}/{document['kind'].lower()}-{metadata['name']}.yaml"


def kubernetes_manifests(monitor: RecordingMonitor) -> dict[str, str]:
    """Relative path under `kubernetes/` -> the YAML of one object."""
    manifests: dict[str, str] = {}
    for registration in monitor.registrations:
        if is_kubernetes_object(registration):
            document = manifest(registration)
            manifests[manifest_path(document)] = yaml.safe_dump(document, sort_keys=True, default_flow_style=False)
    return manifests


def config_map_documents(registration: Registration) -> dict[str, str]:
    """The rendered documents a ConfigMap carries, by `<service>/<path under its config dir>`."""
    from platforms.kubernetes_objects import LABEL_NAME, config_relpath

    service = registration.inputs.get("metadata", {}).get("labels", {}).get(LABEL_NAME)
    if not service:
        return {}
    return {f"{service}/{config_relpath(key)}": content for key, content in registration.inputs.get("data", {}).items()}
