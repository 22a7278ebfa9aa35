"""Every network flow the stack needs on a cluster, as data: the NetworkPolicies allow these and nothing else.

Both namespaces deny all ingress and egress by default; each flow below is opened on both ends (the
sender's egress and the receiver's ingress). Host-network pods (the node exporter) are outside
NetworkPolicy's reach: Kubernetes does not apply policies to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from platforms.kubernetes_objects import LABEL_INSTANCE, LABEL_NAME
from profiles.alloy import GRAFANA_PPROF_PORT, profiled_names
from render.gateway import GATEWAY, gated, gated_services
from services.api import NAME as API
from services.api import reached_upstreams
from services.backup import reached_services
from services.spec import ServiceSpec
from settings.model import StackSettings
from traces.tempo import RECEIVER_PORTS as TRACE_RECEIVER_PORTS

# A peer outside the stack: any address (the API server, kubelets, receivers' SaaS, S3, probe targets).
ANYWHERE = "*"
# Any pod in any namespace of the cluster (an ingress controller, users' jobs pushing metrics).
ANY_POD = "any-pod"
# The cluster DNS (kube-system), which every pod resolving a name needs.
CLUSTER_DNS = "cluster-dns"
# The label Kubernetes sets on every namespace with its own name.
NAMESPACE_LABEL = "kubernetes.io/metadata.name"

COLLECTORS = ("promtail", "alloy")
# Alertmanager receivers' ports: HTTPS webhooks (Slack, PagerDuty, generic) and SMTP (25, 465, 587).
RECEIVER_PORTS = (443, 25, 465, 587)
# The API server (443 behind its Service, 6443 on the control plane) and the kubelet (cAdvisor, 10250).
API_SERVER_PORTS = (443, 6443)


@dataclass(frozen=True)
class Flow:
    source: str  # a service name, ANYWHERE or ANY_POD
    destination: str  # a service name, ANYWHERE or CLUSTER_DNS
    ports: tuple[int, ...]  # empty: every port
    protocol: str
    why: str


def stack_flows(settings: StackSettings, specs: Sequence[ServiceSpec]) -> list[Flow]:
    """The flows of this stack's services, with why each one exists."""
    by_name = {spec.name: spec for spec in specs}
    flows: list[Flow] = []
    for spec in specs:
        flows.append(Flow(spec.name, CLUSTER_DNS, (53,), "UDP", "name lookups"))
        flows.append(Flow(spec.name, CLUSTER_DNS, (53,), "TCP", "name lookups (large answers)"))
        # A scheduled job serves no metrics: it pushes them (backup jobs, below); nor does the gateway.
        if spec.name not in ("prometheus", GATEWAY) and not spec.security.host_network and not spec.schedule:
            flows.append(Flow("prometheus", spec.name, (spec.health.port,), "TCP", "Prometheus scrapes its metrics"))
        for destination, port, why in reached_services(spec):
            if destination is None:
                flows.append(Flow(spec.name, ANYWHERE, (port,), "TCP", why))
            elif destination in by_name:
                flows.append(Flow(spec.name, destination, (by_name[destination].health.port,), "TCP", why))
        for destination, why in reached_upstreams(spec):
            if destination in by_name:
                flows.append(Flow(spec.name, _via(settings, destination), (by_name[destination].health.port,), "TCP", why))
    if "prometheus" in by_name:
        flows.append(Flow("prometheus", "prometheus", (by_name["prometheus"].health.port,), "TCP",
                          "each replica scrapes both replicas (meta-monitoring)"))
        # Targets are discovered (pods, nodes, the kubelet, the user's vLLM servers) or listed in settings.
        flows.append(Flow("prometheus", ANYWHERE, (), "TCP",
                          "the API server (discovery), kubelets (cAdvisor), host-network node exporters, the user's targets"))
    if "alertmanager" in by_name:
        alertmanager = by_name["alertmanager"]
        for sender in ("prometheus", "loki", "grafana"):
            if sender in by_name:
                flows.append(Flow(sender, "alertmanager", (alertmanager.health.port,), "TCP",
                                  {"prometheus": "alerts", "loki": "the ruler's log alerts",
                                   "grafana": "the Alertmanager datasource"}[sender]))
        if alertmanager.peers:
            for port in alertmanager.peers.ports:
                flows.append(Flow("alertmanager", "alertmanager", (port.container_port,), port.protocol,
                                  "the peers' gossip mesh (silences, notification log)"))
        flows.append(Flow("alertmanager", ANYWHERE, RECEIVER_PORTS, "TCP", "notifications to the receivers"))
    if "loki" in by_name:
        loki_port = by_name["loki"].health.port
        for sender in (*COLLECTORS, "grafana"):
            if sender in by_name:
                flows.append(Flow(sender, _via(settings, "loki"), (loki_port,), "TCP",
                                  "the Loki datasource" if sender == "grafana" else "pushes log lines"))
        if "prometheus" in by_name:
            flows.append(Flow("loki", "prometheus", (by_name["prometheus"].health.port,), "TCP",
                              "the ruler's recording rules (remote write)"))
        if settings.logs.s3:
            flows.append(Flow("loki", ANYWHERE, (_port_of(settings.logs.s3.endpoint),), "TCP", "S3 object storage"))
    if "grafana" in by_name and "prometheus" in by_name:
        flows.append(Flow("grafana", "prometheus", (by_name["prometheus"].health.port,), "TCP", "the Prometheus datasource"))
    flows += _signal_flows(settings, by_name)
    if GATEWAY in by_name:
        for service in gated_services(settings):
            if service in by_name:
                flows.append(Flow(GATEWAY, service, (by_name[service].health.port,), "TCP",
                                  "passes authenticated requests on (the gateway)"))
    for collector in COLLECTORS:
        if collector in by_name:
            flows.append(Flow(collector, ANYWHERE, API_SERVER_PORTS, "TCP", "the API server (pod discovery)"))
    for keeper in sorted(name for name, spec in by_name.items() if spec.api_writes):
        flows.append(Flow(keeper, ANYWHERE, API_SERVER_PORTS, "TCP",
                          "the API server (the object it keeps: " + ", ".join(w.name for w in by_name[keeper].api_writes) + ")"))
    if "blackbox-exporter" in by_name:
        flows.append(Flow("blackbox-exporter", ANYWHERE, (), "TCP", "probes the stack's endpoints and the configured URLs"))
    if API in by_name:
        api_port = by_name[API].health.port
        flows.append(Flow(ANY_POD, API, (api_port,), "TCP", "users and their tools call the monitoring API"))
        if "api" in _published(settings):
            flows.append(Flow(ANYWHERE, API, (api_port,), "TCP", "users, through the published Service"))
    if "pushgateway" in by_name:
        flows.append(Flow(ANY_POD, "pushgateway", (by_name["pushgateway"].health.port,), "TCP", "batch jobs push metrics"))
    if "grafana" in by_name and (settings.kubernetes.ingress or "grafana" in _published(settings)):
        flows.append(Flow(ANYWHERE, "grafana", (by_name["grafana"].health.port,), "TCP",
                          "users, through the ingress controller or the published Service"))
    for name in _published(settings):
        if name != "grafana" and name in by_name:
            flows.append(Flow(ANYWHERE, _via(settings, name), (by_name[name].health.port,), "TCP",
                              "users, through the published Service"))
    return flows


def _signal_flows(settings: StackSettings, by_name: dict[str, ServiceSpec]) -> list[Flow]:
    """Traces and profiles: applications to the collector, the collector to Tempo and Pyroscope (and
    to the Go services it profiles), Tempo's span metrics to Prometheus, Grafana's two datasources."""
    flows: list[Flow] = []
    collectors = [name for name in COLLECTORS if name in by_name]
    if "tempo" in by_name:
        tempo_port = by_name["tempo"].health.port
        for collector in collectors:
            flows.append(Flow(ANY_POD, collector, tuple(TRACE_RECEIVER_PORTS.values()), "TCP",
                              "applications send traces (OTLP, Jaeger, Zipkin)"))
            flows.append(Flow(collector, "tempo", (TRACE_RECEIVER_PORTS["otlp-grpc"],), "TCP", "sampled traces (OTLP gRPC)"))
        if "grafana" in by_name:
            flows.append(Flow("grafana", _via(settings, "tempo"), (tempo_port,), "TCP", "the Tempo datasource"))
        if "prometheus" in by_name:
            flows.append(Flow("tempo", "prometheus", (by_name["prometheus"].health.port,), "TCP",
                              "span metrics and the service graph (remote write)"))
        if settings.traces.tempo.s3:
            flows.append(Flow("tempo", ANYWHERE, (_port_of(settings.traces.tempo.s3.endpoint),), "TCP", "S3 object storage"))
    if "pyroscope" in by_name:
        pyroscope_port = by_name["pyroscope"].health.port
        for collector in collectors:
            flows.append(Flow(collector, _via(settings, "pyroscope"), (pyroscope_port,), "TCP", "pushes profiles"))
            for name in profiled_names(settings):
                if name in by_name and name != collector:
                    port = GRAFANA_PPROF_PORT if name == "grafana" else by_name[name].health.port
                    flows.append(Flow(collector, name, (port,), "TCP", "profile scrapes (Go pprof)"))
        flows.append(Flow(ANY_POD, _via(settings, "pyroscope"), (pyroscope_port,), "TCP", "applications push profiles (SDKs)"))
        if "grafana" in by_name:
            flows.append(Flow("grafana", _via(settings, "pyroscope"), (pyroscope_port,), "TCP", "the Pyroscope datasource"))
    return flows


def _via(settings: StackSettings, service: str) -> str:
    """Who a client's flow towards `service` reaches: the gateway when it gates `service`, on the same port."""
    return GATEWAY if gated(settings, service) else service


def _published(settings: StackSettings) -> tuple[str, ...]:
    """Services a LoadBalancer/NodePort Service opens to the outside (none with ClusterIP)."""
    if settings.kubernetes.service_type == "ClusterIP":
        return ()
    return tuple(settings.exposure.publish)


def _port_of(endpoint: str) -> int:
    host, _, port = endpoint.rpartition(":")
    return int(port) if host and port.isdigit() else 443


def _peer(settings: StackSettings, name: str, namespace_of: dict[str, str]) -> list[dict[str, Any]] | None:
    """The `from`/`to` entries selecting a peer; None means any address (the field left out)."""
    if name == ANYWHERE:
        return None
    if name == ANY_POD:
        return [{"namespaceSelector": {}}]
    if name == CLUSTER_DNS:
        return [
            {
                "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ]
    return [
        {
            "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: namespace_of[name]}},
            "podSelector": {"matchLabels": {LABEL_NAME: name, LABEL_INSTANCE: settings.prefix}},
        }
    ]


def _rule(peers: list[dict[str, Any]] | None, flow: Flow, direction: str) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    if peers is not None:
        rule[direction] = peers
    if flow.ports:
        rule["ports"] = [{"port": port, "protocol": flow.protocol} for port in flow.ports]
    else:
        rule["ports"] = [{"protocol": flow.protocol}]
    return rule


def network_policy_spec(
    settings: StackSettings, name: str, flows: Sequence[Flow], namespace_of: dict[str, str]
) -> dict[str, Any]:
    """Ingress and egress of one service's pods: exactly its flows."""
    ingress = [_rule(_peer(settings, f.source, namespace_of), f, "from") for f in flows if f.destination == name]
    egress = [_rule(_peer(settings, f.destination, namespace_of), f, "to") for f in flows if f.source == name]
    return {
        "podSelector": {"matchLabels": {LABEL_NAME: name, LABEL_INSTANCE: settings.prefix}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": ingress,
        "egress": egress,
    }


def default_deny_spec() -> dict[str, Any]:
    """Every pod of the namespace: no ingress, no egress, unless a service's own policy allows it."""
    return {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
