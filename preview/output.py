"""What the offline preview writes: the resource graph and the documents as deployed."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

from preview.engine import MASK, RecordingMonitor, Registration
from preview.kubernetes import CONFIG_MAP, config_map_documents, kubernetes_manifests

CONTAINER = "docker:index/container:Container"
DASHBOARD = "grafana:oss/dashboard:Dashboard"
DATASOURCE = "grafana:oss/dataSource:DataSource"
API_COMPONENT = "monitoring:api:MonitoringApi"


def label_map(registration: Registration) -> dict[str, str]:
    return {item["label"]: item["value"] for item in registration.inputs.get("labels", [])}


def deployed_documents(monitor: RecordingMonitor) -> dict[str, str]:
    """Relative build path -> content, taken from what the resources actually carry."""
    documents: dict[str, str] = {}
    for registration in monitor.registrations:
        if registration.type == CONTAINER:
            labels = label_map(registration)
            config_dir = labels.get("monitoring.config_dir")
            service = labels.get("monitoring.service")
            for upload in registration.inputs.get("uploads", []):
                path = upload["file"]
                if config_dir and path.startswith(config_dir + "/") and upload.get("content") != MASK:
                    documents[f"{service}/{path[len(config_dir) + 1:]}"] = upload["content"]
        elif registration.type == CONFIG_MAP:
            documents.update(config_map_documents(registration))
        elif registration.type == DASHBOARD:
            config = json.loads(registration.inputs["configJson"])
            documents[f"grafana/dashboards/{config['uid']}.json"] = json.dumps(config, indent=2, sort_keys=True) + "\n"
        elif registration.type == DATASOURCE:
            inputs = registration.inputs
            documents[f"grafana/datasources/{inputs['uid']}.json"] = json.dumps(inputs, indent=2, sort_keys=True) + "\n"
    return documents


def api_documents(monitor: RecordingMonitor) -> dict[str, str]:
    """The monitoring API's OpenAPI document, when the stack deploys the API (generated from its code)."""
    if not any(registration.type == API_COMPONENT for registration in monitor.registrations):
        return {}
    from api.app import openapi_json

    return {"api/openapi.json": openapi_json()}


def write_build(out_dir: Path, monitor: RecordingMonitor) -> None:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    # Registration order depends on async scheduling; sorted by URN the file diffs cleanly between runs.
    resources = sorted((registration.as_json() for registration in monitor.registrations), key=lambda r: r["urn"])
    (out_dir / "resources.json").write_text(
        json.dumps({"resources": resources, "outputs": monitor.stack_outputs}, indent=2, sort_keys=True) + "\n"
    )
    # Every Kubernetes object as a manifest, under kubernetes/<namespace>/ (none on Docker).
    manifests = {f"kubernetes/{path}": content for path, content in kubernetes_manifests(monitor).items()}
    for relpath, content in sorted({**deployed_documents(monitor), **manifests, **api_documents(monitor)}.items()):
        path = out_dir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def print_tree(monitor: RecordingMonitor) -> None:
    children: dict[str, list[Registration]] = defaultdict(list)
    roots = []
    for registration in monitor.registrations:
        (children[registration.parent] if registration.parent else roots).append(registration)

    def show(registration: Registration, depth: int) -> None:
        flags = " [protected]" if registration.protect else ""
        print(f"{'  ' * depth}{registration.type}  {registration.name}{flags}")
        for child in children.get(registration.urn, []):
            show(child, depth + 1)

    for root in roots:
        show(root, 0)
