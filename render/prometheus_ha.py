"""What prometheus.yml adds where Prometheus runs as identical replicas (a cluster, as kube-prometheus
runs it): each replica's own `replica` external label, dropped from alerts so that Alertmanager sees
the replicas' copies of an alert as one, and every Alertmanager peer as a destination (each peer
receives every alert; the mesh shares what was already notified).

On one Docker host none of this applies and prometheus.yml stays as it was.
"""

from __future__ import annotations

from typing import Any

from services.high_availability import ALERTMANAGER_PEERS, PROMETHEUS_REPLICAS, peer_hosts, replicated
from services.topology import CONTAINER_PORTS, Endpoints
from settings.model import StackSettings

REPLICA_LABEL = "replica"
# The pod's own name, set by the platform from the downward API (services/cluster.py identity_env).
REPLICA_ENV = "POD_NAME"


def replica_external_labels(settings: StackSettings) -> dict[str, str]:
    """`replica: ${POD_NAME}`: Prometheus expands environment variables in external label values
    (always since 3.0; behind --enable-feature=expand-external-labels on 2.x, see replica_flags)."""
    return {REPLICA_LABEL: f"${{{REPLICA_ENV}}}"} if replicated(settings) else {}


def alert_relabeling(settings: StackSettings) -> dict[str, Any]:
    """`alerting.alert_relabel_configs` dropping the replica label (the alerts are otherwise identical)."""
    if not replicated(settings):
        return {}
    return {"alert_relabel_configs": [{"action": "labeldrop", "regex": REPLICA_LABEL}]}


def alertmanager_addresses(settings: StackSettings, endpoints: Endpoints) -> list[str]:
    """Where Prometheus sends alerts: the one Alertmanager, or every peer of the mesh by its stable
    DNS name (`alertmanager-<i>.alertmanager-peers.<namespace>.svc:9093`)."""
    if not replicated(settings):
        return [endpoints["alertmanager"].address]
    port = CONTAINER_PORTS["alertmanager"]
    return [f"{host}:{port}" for host in peer_hosts(settings, "alertmanager", ALERTMANAGER_PEERS)]


def prometheus_write_urls(settings: StackSettings, endpoints: Endpoints) -> dict[str, str]:
    """Remote-write URL of each Prometheus, by client name: the one Prometheus, or every replica by its
    stable DNS name (a write through the Service would reach one replica only, and the other
    replica's copy of a log-derived series would have gaps)."""
    if not replicated(settings):
        return {"prometheus": f"{endpoints['prometheus'].url}/api/v1/write"}
    port = CONTAINER_PORTS["prometheus"]
    return {
        host.split(".")[0]: f"http://{host}:{port}/api/v1/write"
        for host in peer_hosts(settings, "prometheus", PROMETHEUS_REPLICAS)
    }


def _major_version(image: str) -> int | None:
    tag = image.split("@")[0].rsplit(":", 1)[-1].lstrip("v")
    return int(tag.split(".")[0]) if tag.split(".")[0].isdigit() else None


def replica_flags(settings: StackSettings) -> list[str]:
    """Flags a replica needs for its external label: Prometheus 2.x (an overridden image) expands
    `${POD_NAME}` only with the feature flag, 3.x always (the flag was removed in 3.0)."""
    if not replicated(settings):
        return []
    major = _major_version(settings.prometheus.image)
    return ["--enable-feature=expand-external-labels"] if major is not None and major < 3 else []
