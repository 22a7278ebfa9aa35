"""How scrape jobs find their targets on Kubernetes: `kubernetes_sd_configs` and the relabeling that
gives discovered targets the labels they carry on Docker (`exporter`, `source`, `env`, `instance`)
plus `namespace`, `pod` and `node`.

The contract with the Kubernetes platform (platforms/kubernetes.py reads it from here): every pod
the stack declares carries the labels

    app.kubernetes.io/name: <ServiceSpec.name>     e.g. prometheus, node-exporter, mock-node
    app.kubernetes.io/part-of: monitoring

and runs in `kubernetes.namespace`, or in `kubernetes.agents_namespace` for the per-node host agents
(PER_NODE). Jobs keep the pods of one service by those two labels (`keep` relabeling, so every job
shares one pod watch per namespace instead of opening its own), address each pod at its IP and the
service's own port (no Service and no declared container port needed), and name it:

    instance   the node's name for per-node agents (one per node, as one per host on Docker),
               `<pod>:<port>` for everything else (stable for StatefulSet pods, readable for all)
    namespace, pod, node   from the pod's metadata

The pod role fits every workload (each replica is scraped, not one behind a Service's balancing);
the node role reaches each kubelet for the container metrics of `/metrics/cadvisor`, directly with
Prometheus' service-account token (RBAC `nodes/metrics`, read-only), as kube-prometheus does — no
cAdvisor DaemonSet runs on a cluster.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from settings.model import StackSettings

NAME_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF = "monitoring"
# The host agents: one pod per node in the agents' own namespace (services/cluster.py makes them per_node).
PER_NODE = frozenset({"node-exporter", "dcgm-exporter", "promtail", "alloy"})

# Where every pod finds its own service account's credentials (mounted by Kubernetes).
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
KUBELET_CADVISOR_PATH = "/metrics/cadvisor"
# The kubelet's cAdvisor series (labels container, id, image, name, namespace, pod: kubelet
# server.go containerPrometheusLabelsFunc) name the container `container`, empty for pod-level
# cgroups and `POD` for a sandbox (pause) container, and carry the runtime's id in `name`. The
# container rules and dashboards read Docker cAdvisor's `name` and leave out `name=""`: `name` takes
# the container's name, so both platforms feed the same rules and pods' cgroups stay out.
KUBELET_CADVISOR_NAME = (
    {"source_labels": ["container"], "regex": "(.*)", "target_label": "name", "replacement": "$1", "action": "replace"},
    {"source_labels": ["container"], "regex": "POD", "target_label": "name", "replacement": "", "action": "replace"},
)

POD_META = "__meta_kubernetes_pod_"


def meta_label(label: str) -> str:
    """The discovery label Prometheus derives from a Kubernetes pod label (invalid characters -> `_`)."""
    return POD_META + "label_" + re.sub(r"[^a-zA-Z0-9_]", "_", label)


def namespace_of(settings: StackSettings, service: str) -> str:
    kubernetes = settings.kubernetes
    return kubernetes.agents_namespace if service in PER_NODE else kubernetes.namespace


def _keep_labels(labels: Mapping[str, str]) -> dict[str, Any]:
    keys = sorted(labels)
    return {
        "source_labels": [meta_label(key) for key in keys],
        # Label values are [A-Za-z0-9_.-]: only the dot needs escaping in the anchored RE2.
        "regex": ";".join(labels[key].replace(".", r"\.") for key in keys),
        "action": "keep",
    }


def _copy(source: str, target: str, replacement: str = "$1") -> dict[str, Any]:
    return {"source_labels": [source], "regex": "(.+)", "target_label": target, "replacement": replacement,
            "action": "replace"}


def pod_discovery(settings: StackSettings, namespaces: list[str], labels: Mapping[str, str], port: int,
                  per_node: bool) -> dict[str, Any]:
    """A job's discovery of the pods carrying `labels` in `namespaces`, scraped on `port`: its
    `kubernetes_sd_configs` and the relabeling of discovery labels that comes first in its
    `relabel_configs`."""
    return {
        "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": sorted(namespaces)}}],
        "relabel_configs": [
            _keep_labels(labels),
            # A finished pod (a Job's, an evicted one) keeps its IP in the API for a while: not a target.
            {"source_labels": [POD_META + "phase"], "regex": "Succeeded|Failed", "action": "drop"},
            # The pod role yields one target per declared container port (or per container): the
            # service's own port is the one scraped; identical targets then collapse into one.
            {"source_labels": [POD_META + "ip"], "regex": "([^:]+)", "target_label": "__address__",
             "replacement": f"$1:{port}", "action": "replace"},
            {"source_labels": [POD_META + "ip"], "regex": "(.+:.+)", "target_label": "__address__",
             "replacement": f"[$1]:{port}", "action": "replace"},
            _copy(POD_META + "node_name", "instance") if per_node
            else _copy(POD_META + "name", "instance", f"$1:{port}"),
            _copy("__meta_kubernetes_namespace", "namespace"),
            _copy(POD_META + "name", "pod"),
            _copy(POD_META + "node_name", "node"),
        ],
    }


def stack_pods(settings: StackSettings, service: str, port: int) -> dict[str, Any]:
    """Discovery of the pods of one of the stack's own services (core service, exporter or mock)."""
    return pod_discovery(
        settings, [namespace_of(settings, service)], {NAME_LABEL: service, PART_OF_LABEL: PART_OF}, port,
        per_node=service in PER_NODE,
    )


def vllm_pods(settings: StackSettings) -> dict[str, Any]:
    """Discovery of the user's vLLM servers by their pod labels (`kubernetes.discovery.vllm`)."""
    vllm = settings.kubernetes.discovery.vllm
    return pod_discovery(settings, list(vllm.namespaces), vllm.match_labels, vllm.port, per_node=False)


def kubelet_cadvisor(settings: StackSettings) -> dict[str, Any]:
    """Every node's kubelet, scraped for `/metrics/cadvisor` over HTTPS with the service-account token.

    The node role names each target after its node (`instance`) and addresses the kubelet's own port."""
    return {
        "kubernetes_sd_configs": [{"role": "node"}],
        "scheme": "https",
        "metrics_path": KUBELET_CADVISOR_PATH,
        "authorization": {"credentials_file": f"{SERVICE_ACCOUNT_DIR}/token"},
        "tls_config": {
            "ca_file": f"{SERVICE_ACCOUNT_DIR}/ca.crt",
            "insecure_skip_verify": not settings.kubernetes.discovery.kubelet_tls_verify,
        },
        "relabel_configs": [_copy("__meta_kubernetes_node_name", "node")],
        "metric_relabel_configs": list(KUBELET_CADVISOR_NAME),
    }


def scraped_namespaces(settings: StackSettings) -> list[str]:
    """Every namespace Prometheus lists pods in: where its read-only discovery rights are needed."""
    kubernetes = settings.kubernetes
    names = {kubernetes.namespace, kubernetes.agents_namespace}
    if settings.exporters.runs_real("vllm"):
        names.update(kubernetes.discovery.vllm.namespaces)
    return sorted(names)
