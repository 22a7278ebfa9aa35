"""The collector's profile pipeline, rendered into the same config.alloy as the log pipeline:
`pyroscope.scrape` of Go pprof endpoints (the stack's own and the listed ones), optionally
`pyroscope.ebpf` for every process of the host, and one `pyroscope.write` to the stack's Pyroscope.

Component, block and argument names follow Alloy v1.11 (logs/upstream/alloy-v1.11.3-components.json).
"""

from __future__ import annotations

from logs.alloy_syntax import Block, Call, Concat, Ref
from render.tls_clients import requires_auth, serves_tls
from services.topology import CONTAINER_PORTS, Endpoints
from settings.model import StackSettings
from settings.traces import GO_PROFILES

WRITE = "pyroscope"
# The stack's Go services that serve /debug/pprof/* on their HTTP port (upstream defaults).
GO_SERVICES = ("prometheus", "alertmanager", "loki", "tempo", "pyroscope", "alloy")
# Grafana serves pprof only with [diagnostics.profiling] on, on its own port (render/grafana.py).
GRAFANA_PPROF_PORT = 6060
# The pod port name Grafana's pprof port carries on Kubernetes.
PPROF_PORT_NAME = "pprof"
# Every profile type the scrape asks for; Go serves all of them under /debug/pprof/.
_PROFILE_BLOCK = {name: f"profile.{name}" for name in GO_PROFILES}


def profiled_names(settings: StackSettings) -> tuple[str, ...]:
    """The stack's services the collector profiles. With security.tls on, a service serving HTTPS or
    asking for a password on its HTTP port is left out: the collector holds no client credentials
    for it (Grafana's pprof listener is separate from its HTTPS port, so it stays)."""
    if not settings.profiles.stack:
        return ()
    plain = [name for name in GO_SERVICES if not (serves_tls(settings, name) or requires_auth(settings, name))]
    return (*plain, "grafana")


def profiled_services(settings: StackSettings, endpoints: Endpoints) -> dict[str, str]:
    """The stack's services profiled by the collector: service name -> address on the stack network."""
    found = {name: endpoints[name].address for name in profiled_names(settings) if name in endpoints}
    if "alloy" in found:
        # Each collector profiles itself, not one of its peers behind the service name.
        found["alloy"] = f"127.0.0.1:{CONTAINER_PORTS['alloy']}"
    if "grafana" in found:
        found["grafana"] = f"{endpoints['grafana'].host}:{GRAFANA_PPROF_PORT}"
    return found


def _profiling_config() -> Block:
    return Block("profiling_config", blocks=[Block(block, attributes={"enabled": True}) for block in _PROFILE_BLOCK.values()])


def _scrape(name: str, targets, settings: StackSettings, scheme: str = "http") -> Block:
    return Block(
        "pyroscope.scrape",
        name,
        {
            "targets": targets,
            "forward_to": [Ref(f"pyroscope.write.{WRITE}.receiver")],
            "scrape_interval": settings.profiles.scrape_interval,
            "scheme": scheme,
        },
        [_profiling_config()],
    )


def _kubernetes_stack_blocks(settings: StackSettings, services: dict[str, str]) -> list[Block]:
    """On a cluster each node's collector profiles the stack's pods on its own node (replicas included)."""
    names = "|".join(sorted(name for name in services if name not in ("alloy", "grafana")))
    keep = f"(?:{names});http|grafana;{PPROF_PORT_NAME}" if "grafana" in services else f"(?:{names});http"
    pod = "__meta_kubernetes_pod_"
    rules = [
        Block("rule", attributes={"source_labels": [f"{pod}label_app_kubernetes_io_name", f"{pod}container_port_name"],
                                  "separator": ";", "regex": keep, "action": "keep"}),
        Block("rule", attributes={"source_labels": [f"{pod}label_app_kubernetes_io_name"], "target_label": "service_name"}),
        Block("rule", attributes={"source_labels": [f"{pod}name"], "target_label": "pod"}),
    ]
    return [
        Block(
            "discovery.kubernetes",
            "stack_pods",
            {"role": "pod"},
            [
                Block("namespaces", attributes={"names": [settings.kubernetes.namespace]}),
                # HOSTNAME is the node's name on the collector's DaemonSet (services/cluster.py).
                Block("selectors", attributes={"role": "pod", "field": Concat(("spec.nodeName=", Call("sys.env", ("HOSTNAME",))))}),
            ],
        ),
        Block("discovery.relabel", "stack_pods", {"targets": Ref("discovery.kubernetes.stack_pods.targets")}, rules),
    ]


def profile_blocks(settings: StackSettings, endpoints: Endpoints) -> list[Block]:
    profiles = settings.profiles
    services = profiled_services(settings, endpoints)
    blocks: list[Block] = []
    if services and settings.platform == "kubernetes":
        blocks += _kubernetes_stack_blocks(settings, services)
        blocks.append(_scrape("stack", Ref("discovery.relabel.stack_pods.output"), settings))
        blocks.append(_scrape("self", [{"__address__": services["alloy"], "service_name": "alloy"}], settings))
    elif services:
        targets = [{"__address__": address, "service_name": name} for name, address in sorted(services.items())]
        blocks.append(_scrape("stack", targets, settings))
    for scheme in ("http", "https"):
        listed = [{"__address__": t.address, "service_name": t.service_name} for t in profiles.targets if t.scheme == scheme]
        if listed:
            blocks.append(_scrape(f"listed_{scheme}", listed, settings, scheme))
    if profiles.ebpf:
        blocks += [
            Block("discovery.process", "host", {"refresh_interval": "60s"}),
            Block(
                "pyroscope.ebpf",
                "host",
                {"targets": Ref("discovery.process.host.targets"), "forward_to": [Ref(f"pyroscope.write.{WRITE}.receiver")]},
            ),
        ]
    blocks.append(
        Block(
            "pyroscope.write",
            WRITE,
            {"external_labels": {"env": settings.environment}},
            [Block("endpoint", attributes={"url": endpoints["pyroscope"].url})],
        )
    )
    return blocks
