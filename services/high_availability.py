"""The replicated shape of the core services, where the platform can run several copies.

One Docker host runs one copy of each service; a cluster runs Prometheus as two identical replicas
(each with its own `replica` external label, dropped before Alertmanager deduplicates) and
Alertmanager as a three-peer gossip mesh, as kube-prometheus does. The names here are the stable
identities both the platform (StatefulSet pods behind a headless Service) and the renderers (peer
lists, Prometheus' alertmanagers) agree on.
"""

from __future__ import annotations

from services.spec import ApiRead, PeerMesh, PortSpec
from settings.model import StackSettings

PROMETHEUS_REPLICAS = 2
ALERTMANAGER_PEERS = 3
# Alertmanager's gossip port (its upstream default), TCP and UDP.
ALERTMANAGER_CLUSTER_PORT = 9094
# The headless Service that gives each StatefulSet pod a DNS name: <pod>.<service>.<namespace>.svc.
PEER_SERVICE_SUFFIX = "peers"

# What Prometheus reads to discover its targets on a cluster (kubernetes_sd_configs roles node, pod,
# service, endpoints, endpointslice) and the kubelet's cAdvisor metrics through the nodes/metrics
# subresource; read-only, nothing else.
PROMETHEUS_API_READS = (
    ApiRead(("nodes", "pods", "services", "endpoints")),
    ApiRead(("endpointslices",), api_group="discovery.k8s.io"),
    ApiRead(("nodes/metrics",), get_only=True),
)
# The log collector maps pod log files to their pod's labels (kubernetes_sd role pod).
COLLECTOR_API_READS = (ApiRead(("pods",)),)


def replicated(settings: StackSettings) -> bool:
    """Whether the stack's platform runs several copies of a service (a cluster, not one host)."""
    return settings.platform == "kubernetes"


def peer_service(service: str) -> str:
    return f"{service}-{PEER_SERVICE_SUFFIX}"


def peer_hosts(settings: StackSettings, service: str, replicas: int) -> list[str]:
    """The stable DNS name of each replica of a service on the cluster, in ordinal order."""
    namespace = settings.kubernetes.namespace
    return [f"{service}-{ordinal}.{peer_service(service)}.{namespace}.svc" for ordinal in range(replicas)]


def alertmanager_mesh(tls: bool = False) -> PeerMesh:
    """The mesh's ports: memberlist's TCP streams and UDP packets, or over TLS only TCP (Alertmanager's
    TLS transport sends packets over TLS streams too and opens no UDP socket, cluster/tls_transport.go)."""
    tcp = PortSpec("mesh-tcp", ALERTMANAGER_CLUSTER_PORT)
    if tls:
        return PeerMesh(ports=(tcp,))
    return PeerMesh(ports=(tcp, PortSpec("mesh-udp", ALERTMANAGER_CLUSTER_PORT, protocol="UDP")))


def alertmanager_cluster_args(settings: StackSettings) -> tuple[str, ...]:
    """Alertmanager's gossip flags on a cluster: listen on the mesh port, join every peer by name.

    `$(POD_IP)` is expanded by the kubelet from the pod's own address (see `identity_env`).
    """
    peers = peer_hosts(settings, "alertmanager", ALERTMANAGER_PEERS)
    return (
        f"--cluster.listen-address=0.0.0.0:{ALERTMANAGER_CLUSTER_PORT}",
        f"--cluster.advertise-address=$(POD_IP):{ALERTMANAGER_CLUSTER_PORT}",
        *(f"--cluster.peer={host}:{ALERTMANAGER_CLUSTER_PORT}" for host in peers),
    )
