"""What the Kubernetes rendering tests share: stack settings on either platform, the vendored field
inventory of the pinned Prometheus' `kubernetes_sd_config`, and prometheus.yml with its Kubernetes
discovery swapped for file SD (Debian's Prometheus 2.42 is built without Kubernetes SD).

The file SD stand-in is faithful where it matters: its target groups carry the discovery labels
Kubernetes SD would set (names from the inventory), so the rendered relabeling runs unchanged on them.
"""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import yaml

from settings import StackSettings, parse_settings
from tests.conftest import stack_raw_config

INVENTORY = Path(__file__).parent / "upstream" / "prometheus-v3.5.0-kubernetes-sd.yaml"
# Grafana's address depends on where it is published (a host port, an Ingress): pinned, so the two
# platforms' rule annotations and dashboard links can be compared byte for byte.
PINNED_GRAFANA_URL = "https://grafana.example.org"
PINNED_REGISTRY = "registry.example.org/monitoring"


def raw_on_platform(raw: dict[str, Any], platform: str) -> dict[str, Any]:
    """Stack settings with only the platform switched (and what the platform requires to be valid)."""
    switched = json.loads(json.dumps(raw))
    switched["platform"] = platform
    switched["grafana"] = {**switched.get("grafana", {}), "url": switched.get("grafana", {}).get("url") or PINNED_GRAFANA_URL}
    if platform == "kubernetes":
        # A cluster pulls the mock image from a registry (a Docker host builds it locally).
        exporters = switched.setdefault("exporters", {})
        exporters["mock_image"] = {**exporters.get("mock_image", {})}
        exporters["mock_image"]["registry"] = exporters["mock_image"].get("registry") or PINNED_REGISTRY
        kubernetes = switched.setdefault("kubernetes", {})
        retention_size = switched.get("prometheus", {}).get("retention_size")
        storage = kubernetes.setdefault("storage", {})
        if retention_size and "prometheus" not in storage:
            # The TSDB volume must exceed the size cap (K1's validation): a quarter more.
            number, unit = re.fullmatch(r"(\d+)([A-Z]+)", retention_size).groups()
            storage["prometheus"] = f"{int(number) * 5 // 4}{unit}"
    return switched


def stack_on_platform(stack: str, platform: str) -> StackSettings:
    return parse_settings(raw_on_platform(stack_raw_config(stack), platform), stack)


@lru_cache(maxsize=1)
def inventory() -> dict[str, Any]:
    return yaml.safe_load(INVENTORY.read_text())


def unknown_fields(value: Any, type_name: Any, path: str = "") -> list[str]:
    """Every field of `value` the inventory's `type_name` does not accept, as dotted paths (with
    the allowed fields), plus values outside an enum and shapes that do not fit."""
    types = inventory()["types"]
    if isinstance(type_name, list):
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [p for index, item in enumerate(value) for p in unknown_fields(item, type_name[0], f"{path}[{index}]")]
    if isinstance(type_name, dict):
        return [] if value in type_name["enum"] else [f"{path}: {value!r} is not one of {type_name['enum']}"]
    if type_name == "scalar":
        return [] if not isinstance(value, (dict, list)) else [f"{path}: expected a scalar"]
    if type_name == "list":
        return [] if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value) else [f"{path}: expected a list of scalars"]
    if type_name == "map":
        return [] if isinstance(value, dict) else [f"{path}: expected a mapping"]
    if not isinstance(value, dict):
        return [f"{path}: expected a mapping ({type_name})"]
    fields = _fields(type_name)
    problems = []
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key not in fields:
            problems.append(f"{where}: unknown field of {type_name} (known: {', '.join(sorted(fields))})")
        else:
            problems += unknown_fields(item, fields[key], where)
    return problems


def _fields(type_name: str) -> dict[str, Any]:
    declared = dict(inventory()["types"][type_name])
    inline = declared.pop("$inline", None)
    return {**(_fields(inline) if inline else {}), **declared}


def http_client_fields() -> frozenset[str]:
    return frozenset(_fields("http_client_config"))


def meta_label_known(role: str, label: str) -> bool:
    """Whether `label` is a discovery label Kubernetes SD's `role` sets (per the inventory)."""
    for pattern in inventory()["meta_labels"][role]:
        if label == pattern or (pattern.endswith("<name>") and re.fullmatch(re.escape(pattern[:-6]) + r"[a-zA-Z0-9_]+", label)):
            return True
    return False


def kubernetes_jobs(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    return (job for job in config["scrape_configs"] if "kubernetes_sd_configs" in job)


def with_file_sd(config: dict[str, Any], directory: Path) -> dict[str, Any]:
    """prometheus.yml with each job's `kubernetes_sd_configs` replaced by one file SD file,
    `<directory>/<job>.json`, everything else (relabeling included) unchanged."""
    swapped = copy.deepcopy(config)
    for job in kubernetes_jobs(swapped):
        del job["kubernetes_sd_configs"]
        job["file_sd_configs"] = [{"files": [str(directory / f"{job['job_name']}.json")], "refresh_interval": "1s"}]
    return swapped


def pod_target(address: str, namespace: str, pod: str, node: str, labels: dict[str, str],
               phase: str = "Running", port_name: str = "http") -> dict[str, Any]:
    """A file SD target group as Kubernetes SD's pod role yields it for one container port."""
    meta = {
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_pod_name": pod,
        "__meta_kubernetes_pod_ip": address.rsplit(":", 1)[0],
        "__meta_kubernetes_pod_node_name": node,
        "__meta_kubernetes_pod_phase": phase,
        "__meta_kubernetes_pod_ready": "true",
        "__meta_kubernetes_pod_container_name": "main",
        "__meta_kubernetes_pod_container_port_name": port_name,
        "__meta_kubernetes_pod_container_port_number": address.rsplit(":", 1)[1],
        **{"__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", k): v for k, v in labels.items()},
        **{"__meta_kubernetes_pod_labelpresent_" + re.sub(r"[^a-zA-Z0-9_]", "_", k): "true" for k in labels},
    }
    for label in meta:
        assert meta_label_known("pod", label), f"{label} is not a label the pinned Prometheus' pod role sets"
    return {"targets": [address], "labels": meta}


def node_target(address: str, node: str) -> dict[str, Any]:
    """A file SD target group as Kubernetes SD's node role yields it (address: the kubelet's)."""
    meta = {"__meta_kubernetes_node_name": node, "__meta_kubernetes_node_address_InternalIP": address.rsplit(":", 1)[0]}
    for label in meta:
        assert meta_label_known("node", label), f"{label} is not a label the pinned Prometheus' node role sets"
    # The node role sets `instance` to the node's name itself.
    return {"targets": [address], "labels": {**meta, "instance": node}}
