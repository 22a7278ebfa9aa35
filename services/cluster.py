"""What changes in a service description when the stack runs on a cluster instead of one host.

The rendered documents stay the same; what differs is the deployment shape (replicas, peers, one
agent per node, GPU nodes), what each service reads from the cluster API, and the few flags that
name the host (the node exporter's listen address, Alertmanager's mesh, the log collector's source).
"""

from __future__ import annotations

import dataclasses

from logs.pipeline import DOCKER_SOCKET, POD_LOGS_DIR
from render.cluster_tls import CLUSTER_TLS_FILE, cluster_tls_flag, gossip_tls_on, render_cluster_tls_config
from render.serialize import to_yaml
from render.tls_clients import CA_SECRET
from render.web_config import CA_FILE
from services.high_availability import (
    ALERTMANAGER_PEERS,
    COLLECTOR_API_READS,
    PROMETHEUS_API_READS,
    PROMETHEUS_REPLICAS,
    alertmanager_cluster_args,
    alertmanager_mesh,
    replicated,
)
from services.spec import ConfigFile, HostMount, SecretFile, ServiceSpec
from settings.model import StackSettings

COLLECTORS = ("promtail", "alloy")


def _prometheus(settings: StackSettings, spec: ServiceSpec) -> ServiceSpec:
    return dataclasses.replace(
        spec,
        replicas=PROMETHEUS_REPLICAS,
        stable_identity=True,
        max_unavailable=1,
        # Two replicas scrape independently: a dashboard that hopped between them would flicker.
        sticky_clients=True,
        api_reads=PROMETHEUS_API_READS,
        identity_env={"POD_NAME": "name"},
    )


def _alertmanager(settings: StackSettings, spec: ServiceSpec) -> ServiceSpec:
    single = "--cluster.listen-address="
    command = tuple(arg for arg in spec.command if arg != single) + alertmanager_cluster_args(settings)
    files, secret_files = spec.files, spec.secret_files
    if gossip_tls_on(settings):
        # Mutual TLS between the peers (render/cluster_tls.py): the file names only the secret files.
        command += (cluster_tls_flag(spec.config_dir),)
        files += (ConfigFile(CLUSTER_TLS_FILE, to_yaml(render_cluster_tls_config(settings))),)
        present = {f.file_name for f in secret_files}
        secret_files += tuple(SecretFile(key, name) for key, name in ((CA_SECRET, CA_FILE),) if name not in present)
    return dataclasses.replace(
        spec,
        command=command,
        files=files,
        secret_files=secret_files,
        replicas=ALERTMANAGER_PEERS,
        stable_identity=True,
        peers=alertmanager_mesh(gossip_tls_on(settings)),
        # Two of three peers keep the mesh (and its notification log) alive through a drain.
        max_unavailable=1,
        identity_env={"POD_IP": "ip"},
    )


def _loki(settings: StackSettings, spec: ServiceSpec) -> ServiceSpec:
    # Single binary: one replica that owns its volume (or the S3 bucket) and its name.
    # Tempo and Pyroscope run the same way (single binary, blocks on their own volume or bucket).
    return dataclasses.replace(spec, stable_identity=True)


def _collector(settings: StackSettings, spec: ServiceSpec) -> ServiceSpec:
    # Pod logs are files under the node's /var/log/pods; there is no Docker socket on a cluster node.
    mounts = tuple(
        HostMount(POD_LOGS_DIR, POD_LOGS_DIR) if mount.mount_path == DOCKER_SOCKET else mount for mount in spec.host_mounts
    )
    return dataclasses.replace(
        spec,
        host_mounts=mounts,
        per_node=True,
        api_reads=COLLECTOR_API_READS,
        # Each collector tails only the pods of its own node.
        identity_env={"HOSTNAME": "node"},
    )


def _node_exporter(settings: StackSettings, spec: ServiceSpec) -> ServiceSpec:
    # On a cluster node there is no stack network gateway: listen on the node's own address.
    port = spec.health.port
    command = tuple(f"--web.listen-address=:{port}" if arg.startswith("--web.listen-address=") else arg for arg in spec.command)
    return dataclasses.replace(
        spec, command=command, health=dataclasses.replace(spec.health, host="127.0.0.1"), per_node=True
    )


def _dcgm_exporter(settings: StackSettings, spec: ServiceSpec) -> ServiceSpec:
    return dataclasses.replace(spec, per_node=True, node_pool="gpu")


SHAPES = {
    "prometheus": _prometheus,
    "alertmanager": _alertmanager,
    "loki": _loki,
    "tempo": _loki,
    "pyroscope": _loki,
    "promtail": _collector,
    "alloy": _collector,
    "node-exporter": _node_exporter,
    "dcgm-exporter": _dcgm_exporter,
}


def for_platform(settings: StackSettings, specs: dict[str, ServiceSpec]) -> dict[str, ServiceSpec]:
    """The services as the stack's platform runs them: unchanged on one host, reshaped on a cluster.

    On a cluster the kubelet serves cAdvisor's metrics itself (`/metrics/cadvisor`), so the real
    cAdvisor is not deployed there; its mock still is.
    """
    if not replicated(settings):
        return specs
    shaped = {}
    for key, spec in specs.items():
        if spec.name == "cadvisor" and not spec.built_image:
            continue
        shape = SHAPES.get(spec.name)
        shaped[key] = shape(settings, spec) if shape else spec
    return shaped
