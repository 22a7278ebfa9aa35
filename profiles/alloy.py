"""The collector's profile pipeline, rendered into the same config.alloy as the log pipeline:
`pyroscope.scrape` of Go pprof endpoints (the stack's own and the listed ones), optionally
`pyroscope.ebpf` for every process of the host, and one `pyroscope.write` to the stack's Pyroscope.

Component, block and argument names follow Alloy v1.11 (logs/upstream/alloy-v1.11.3-components.json).
"""

from __future__ import annotations

from logs.alloy_syntax import Block, Call, Concat, Ref
from render.gateway import client_basic_auth, client_tls, client_url
from render.tls_clients import prometheus_client
from services.topology import CONTAINER_PORTS, Endpoints
from settings.model import StackSettings
from settings.traces import GO_PROFILES

WRITE = "pyroscope"
# The stack's Go services that serve /debug/pprof/* on their HTTP port (upstream defaults).
GO_SERVICES = ("prometheus", "alertmanager", "loki", "tempo", "pyroscope", "alloy")
# Grafana serves pprof only with GF_DIAGNOSTICS_PROFILING_* set, on its own port (render/grafana.py).
GRAFANA_PPROF_PORT = 6060
# The pod port name Grafana's pprof port carries on Kubernetes.
PPROF_PORT_NAME = "pprof"
# Every profile type the scrape asks for; Go serves all of them under /debug/pprof/.
_PROFILE_BLOCK = {name: f"profile.{name}" for name in GO_PROFILES}


def profiled_names(settings: StackSettings) -> tuple[str, ...]:
    """The stack's services the collector profiles (Grafana's pprof listener is its own port)."""
    if not settings.profiles.stack:
        return ()
    return (*GO_SERVICES, "grafana")


def profiled_services(settings: StackSettings, endpoints: Endpoints) -> dict[str, str]:
    """The stack's services profiled by the collector: service name -> address on the stack network."""
    found = {name: endpoints[name].address for name in profiled_names(settings) if name in endpoints}
    if "alloy" in found:
        # Each collector profiles itself, not one of its peers behind the service name.
        found["alloy"] = f"127.0.0.1:{CONTAINER_PORTS['alloy']}"
    if "grafana" in found:
        found["grafana"] = f"{endpoints['grafana'].host}:{GRAFANA_PPROF_PORT}"
    return found


def guarded(settings: StackSettings, name: str) -> bool:
    """A service whose pprof endpoint sits behind TLS (and the client user) when security.tls is on."""
    return name in GO_SERVICES and bool(prometheus_client(settings, name))


def _profiling_config() -> Block:
    return Block("profiling_config", blocks=[Block(block, attributes={"enabled": True}) for block in _PROFILE_BLOCK.values()])


def _http_client(client: dict) -> list[Block]:
    """An Alloy HTTP client's `tls_config` and `basic_auth` blocks, from the fields of a Prometheus one."""
    return [Block(block, attributes=client[block]) for block in ("tls_config", "basic_auth") if client.get(block)]


def _client_blocks(settings: StackSettings, name: str) -> tuple[str, list[Block]]:
    """The scheme and the `tls_config`/`basic_auth` blocks that reach `name` as every other client of
    the stack does (its CA, the name on its certificate, the client user's password file)."""
    client = prometheus_client(settings, name)
    return client.get("scheme", "http"), _http_client(client)


def gateway_client_blocks(settings: StackSettings, service: str) -> list[Block]:
    """An Alloy writer's `tls_config` and `basic_auth` blocks towards a service of the stack, through
    the gateway when security.auth gates it (render/gateway.py)."""
    return _http_client({"tls_config": client_tls(settings, service), "basic_auth": client_basic_auth(settings, service)})


def _scrape(name: str, targets, settings: StackSettings, scheme: str = "http", client: list[Block] = ()) -> Block:
    return Block(
        "pyroscope.scrape",
        name,
        {
            "targets": targets,
            "forward_to": [Ref(f"pyroscope.write.{WRITE}.receiver")],
            "scrape_interval": settings.profiles.scrape_interval,
            "scheme": scheme,
        },
        [*client, _profiling_config()],
    )


def _pprof_port(name: str) -> str:
    """`<service>;<pod port name>` of a service's pprof endpoint, as the keep rule below matches it."""
    return f"{name};{PPROF_PORT_NAME if name == 'grafana' else 'http'}"


def _kubernetes_stack_blocks(settings: StackSettings, names: list[str], label: str) -> list[Block]:
    """On a cluster each node's collector profiles the stack's pods on its own node (replicas included)."""
    keep = "|".join(_pprof_port(name) for name in sorted(names))
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
            label,
            {"role": "pod"},
            [
                Block("namespaces", attributes={"names": [settings.kubernetes.namespace]}),
                # HOSTNAME is the node's name on the collector's DaemonSet (services/cluster.py).
                Block("selectors", attributes={"role": "pod", "field": Concat(("spec.nodeName=", Call("sys.env", ("HOSTNAME",))))}),
            ],
        ),
        Block("discovery.relabel", label, {"targets": Ref(f"discovery.kubernetes.{label}.targets")}, rules),
    ]


def _stack_scrapes(settings: StackSettings, services: dict[str, str]) -> list[Block]:
    """Plain services in one scrape; each guarded one in its own, with its certificate's name."""
    plain = sorted(name for name in services if not guarded(settings, name))
    blocks: list[Block] = []
    if settings.platform == "kubernetes":
        pods = [name for name in plain if name != "alloy"]
        if pods:
            blocks += _kubernetes_stack_blocks(settings, pods, "stack_pods")
            blocks.append(_scrape("stack", Ref("discovery.relabel.stack_pods.output"), settings))
        for name in sorted(set(services) - set(plain) - {"alloy"}):
            label = f"stack_{name}"
            scheme, client = _client_blocks(settings, name)
            blocks += _kubernetes_stack_blocks(settings, [name], label)
            blocks.append(_scrape(label, Ref(f"discovery.relabel.{label}.output"), settings, scheme, client))
        if "alloy" in services:
            scheme, client = _client_blocks(settings, "alloy")
            blocks.append(_scrape("self", [{"__address__": services["alloy"], "service_name": "alloy"}], settings, scheme, client))
        return blocks
    if plain:
        blocks.append(_scrape("stack", [{"__address__": services[name], "service_name": name} for name in plain], settings))
    for name in sorted(set(services) - set(plain)):
        scheme, client = _client_blocks(settings, name)
        blocks.append(_scrape(f"stack_{name}", [{"__address__": services[name], "service_name": name}], settings, scheme, client))
    return blocks


def profile_blocks(settings: StackSettings, endpoints: Endpoints) -> list[Block]:
    profiles = settings.profiles
    services = profiled_services(settings, endpoints)
    blocks: list[Block] = _stack_scrapes(settings, services) if services else []
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
            [Block("endpoint", attributes={"url": client_url(settings, endpoints, "pyroscope")},
                   blocks=gateway_client_blocks(settings, "pyroscope"))],
        )
    )
    return blocks
