"""The plugin-style request flow the traced mock simulates, and its law, shared by the two sides:
the OTLP workload (mock_exporter/tracing.py) sends one trace per request drawn from the law, and
the `spanmetrics` simulator (mock_exporter/spanmetrics.py) serves the series Tempo's
metrics-generator would derive from those traces, integrated from the same law.

The flow: a client calls the gateway, which authorises the request with one plugin and hands it to
another; that plugin asks the model server, which reads the database:

    gateway  POST /v1/chat (server)
    ├── POST /authorize (client) ── plugin-auth  POST /authorize (server)
    └── POST /invoke (client) ──── plugin-chat  POST /invoke (server)
                                    └── POST /v1/completions (client) ── model-server  POST /v1/completions (server)
                                                                          └── SELECT chat.prompts (client, PostgreSQL)

The law. Requests arrive at base + gain·level(t) per second (the daily wave of every mock).
Each request has a size D, log-normal with median 1 and spread SIZE_SIGMA; a span's own time is
its `own` seconds × D (× the latency fault's factor on the faulted service), and a span lasts its
own time plus its children's (called one after the other). So every span's duration is
log-normal with median c·1 and the same spread, c computable without sampling — what lets the
simulator integrate exactly what the workload draws. A span fails by itself with its service's
failure probability (a small baseline, or the error fault's ratio), and fails too when a child
fails: a downstream error surfaces in every caller up to the gateway (HTTP 502 there, 500 where
it started).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Mapping

# Spread of the request size: p95 ≈ 2.3 × median.
SIZE_SIGMA = 0.5
# Requests per second: base, plus gain × the wave's level (0.05..0.95); gain is seeded per host.
BASE_RATE = 0.5
PEAK_GAIN = (2.0, 5.0)
# Mean encoded size of a span in bytes (traces_spanmetrics_size_total), by kind.
SPAN_BYTES = {"server": 420.0, "client": 360.0}
DATABASE = "chat"


@dataclass(frozen=True)
class Step:
    """One span of the flow. A client span's only child is the server span it calls (another
    service), unless it is a database call (`db` attributes, no child)."""

    service: str
    name: str
    kind: str  # "server" or "client"
    own: float  # seconds of its own per unit of request size
    attributes: tuple[tuple[str, str | int], ...] = ()
    children: tuple["Step", ...] = ()
    # Probability that this span fails by itself on a healthy flow.
    fails: float = 0.0

    @property
    def is_database(self) -> bool:
        return any(key == "db.system" for key, _ in self.attributes)


def _server(service: str, method: str, route: str, port: int, own: float, children: tuple[Step, ...] = (),
            fails: float = 0.0) -> Step:
    attributes = (("http.request.method", method), ("http.route", route), ("url.path", route),
                  ("url.scheme", "http"), ("server.port", port))
    return Step(service, f"{method} {route}", "server", own, attributes, children, fails)


def _call(caller: str, callee: Step, host: str, port: int) -> Step:
    method, route = callee.name.split(" ", 1)
    attributes = (("http.request.method", method), ("server.address", host), ("server.port", port),
                  ("url.full", f"http://{host}:{port}{route}"))
    # The network and the client library's own time.
    return Step(caller, callee.name, "client", 0.001, attributes, (callee,))


DATABASE_CALL = Step(
    "model-server", f"SELECT {DATABASE}.prompts", "client", 0.012,
    (("db.system", "postgresql"), ("db.name", DATABASE), ("db.namespace", DATABASE), ("db.operation.name", "SELECT"),
     ("db.collection.name", "prompts"), ("server.address", "postgres"), ("server.port", 5432)),
)
MODEL_SERVER = _server("model-server", "POST", "/v1/completions", 8000, 0.35, (DATABASE_CALL,), fails=0.002)
PLUGIN_CHAT = _server("plugin-chat", "POST", "/invoke", 8080, 0.010, (_call("plugin-chat", MODEL_SERVER, "model-server", 8000),))
PLUGIN_AUTH = _server("plugin-auth", "POST", "/authorize", 8080, 0.006, fails=0.0005)
GATEWAY = _server(
    "gateway", "POST", "/v1/chat", 8080, 0.004,
    (_call("gateway", PLUGIN_AUTH, "plugin-auth", 8080), _call("gateway", PLUGIN_CHAT, "plugin-chat", 8080)),
)
# The services that serve requests (and can be faulted), root first.
SERVICES = ("gateway", "plugin-auth", "plugin-chat", "model-server")
FAULT_DEFAULT_SERVICE = "model-server"


def walk(step: Step = GATEWAY, parent: Step | None = None) -> Iterator[tuple[Step, Step | None]]:
    """Every span of the flow with its parent, depth first (the order spans start in)."""
    yield step, parent
    for child in step.children:
        yield from walk(child, step)


STEPS: tuple[Step, ...] = tuple(step for step, _ in walk())


@dataclass(frozen=True)
class FaultState:
    """What the active faults change: failure probability and latency factor per service."""

    failure: Mapping[str, float] = field(default_factory=dict)
    slowdown: Mapping[str, float] = field(default_factory=dict)

    def own_failure(self, step: Step) -> float:
        # Faults act on a service's server spans: the service answers with an error.
        if step.kind == "server" and step.service in self.failure:
            return self.failure[step.service]
        return step.fails

    def own_time(self, step: Step) -> float:
        return step.own * self.slowdown.get(step.service, 1.0)


HEALTHY = FaultState()


def duration_factor(step: Step, faults: FaultState = HEALTHY) -> float:
    """The span's duration per unit of request size: its own time plus its children's."""
    return faults.own_time(step) + sum(duration_factor(child, faults) for child in step.children)


def error_probability(step: Step, faults: FaultState = HEALTHY) -> float:
    """P(the span ends in error): it fails by itself or any child does (independent draws)."""
    ok = 1.0 - faults.own_failure(step)
    for child in step.children:
        ok *= 1.0 - error_probability(child, faults)
    return 1.0 - ok


def size_quantile(u: float) -> float:
    """The request size at probability `u` of its log-normal law (median 1)."""
    from statistics import NormalDist

    u = min(max(u, 1e-12), 1.0 - 1e-12)
    return math.exp(SIZE_SIGMA * NormalDist().inv_cdf(u))


@dataclass(frozen=True)
class Edge:
    """A service-graph edge as Tempo pairs it: client span -> server span (or a database, or the
    uninstrumented user in front of the root)."""

    client: str
    server: str
    connection_type: str
    client_step: Step | None
    server_step: Step | None


def edges() -> tuple[Edge, ...]:
    found = [Edge("user", GATEWAY.service, "virtual_node", None, GATEWAY)]
    for step, _ in walk():
        if step.kind != "client":
            continue
        if step.is_database:
            found.append(Edge(step.service, DATABASE, "database", step, None))
        else:
            [callee] = step.children
            found.append(Edge(step.service, callee.service, "", step, callee))
    return tuple(found)


EDGES = edges()
