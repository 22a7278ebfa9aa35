"""The series Tempo's metrics-generator derives from the traced flow (mock_exporter/traced_flow.py):
span metrics (RED per service and operation) and the service graph, integrated from the same law
and faults as the traces the workload sends, so rules and dashboards run on real Prometheus.

Names, labels and buckets are those of Tempo v2.9.0's generator as traces/tempo_generated.py lists
them (the image copies only this package, so they are repeated here; tests/exporters/
test_traced_mock.py holds the two equal). Differences from a real generator's series: they are
scraped here, not remote-written (the scrape job keeps their `job`/`instance` with honor_labels),
and carry no exemplars (the text format 0.0.4 has none). A database or user edge has one side
only: the missing side observes 0 s, as the generator records an edge it completes alone.

Faults (besides `down`): `error_rate` {"ratio": 0.3, "service": "model-server"} makes that
service's server spans fail at that ratio (the error surfaces in every caller up to the gateway);
`latency` {"factor": 5, "service": "model-server"} multiplies that service's own time."""

from __future__ import annotations

import math

from mock_exporter.base import ActiveFault, FaultError, Histogram, HostOptions, Simulator, number_param
from mock_exporter.signals import Counter, Wave, unit_hash
from mock_exporter.text import fmt, header, series_prefix
from mock_exporter.traced_flow import (
    BASE_RATE, EDGES, FAULT_DEFAULT_SERVICE, PEAK_GAIN, SERVICES, SIZE_SIGMA, SPAN_BYTES, STEPS, Edge,
    FaultState, Step, duration_factor, error_probability,
)

# Tempo v2.9.0 (see traces/tempo_generated.py for the provenance).
SPANMETRICS_CALLS = "traces_spanmetrics_calls_total"
SPANMETRICS_LATENCY = "traces_spanmetrics_latency"
SPANMETRICS_SIZE = "traces_spanmetrics_size_total"
TARGET_INFO = "traces_target_info"
SERVICE_GRAPH_REQUEST_TOTAL = "traces_service_graph_request_total"
SERVICE_GRAPH_REQUEST_FAILED_TOTAL = "traces_service_graph_request_failed_total"
SERVICE_GRAPH_SERVER_SECONDS = "traces_service_graph_request_server_seconds"
SERVICE_GRAPH_CLIENT_SECONDS = "traces_service_graph_request_client_seconds"
SPANMETRICS_BUCKETS = tuple(0.002 * 2**i for i in range(14))
SERVICE_GRAPH_BUCKETS = tuple(0.1 * 2**i for i in range(8))
STATUS_UNSET, STATUS_ERROR = "STATUS_CODE_UNSET", "STATUS_CODE_ERROR"
SPAN_KIND = {"server": "SPAN_KIND_SERVER", "client": "SPAN_KIND_CLIENT"}
# An edge side no span measured (the user in front of the gateway, the database behind a client).
NO_SIDE = 1e-9


class FlowLaw:
    """Request arrivals of one simulated deployment of the flow: the counter of requests so far."""

    def __init__(self, seed: int, boot: float) -> None:
        self.wave = Wave(seed, 0)
        low, high = PEAK_GAIN
        self.rate = (BASE_RATE, low + (high - low) * unit_hash(seed, 2))
        self.requests = Counter(self.wave, *self.rate, boot)


def fault_state(faults: dict[str, ActiveFault]) -> FaultState:
    failure, slowdown = {}, {}
    if errors := faults.get("error_rate"):
        failure[errors.params.get("service", FAULT_DEFAULT_SERVICE)] = float(errors.params.get("ratio", 0.3))
    if latency := faults.get("latency"):
        slowdown[latency.params.get("service", FAULT_DEFAULT_SERVICE)] = float(latency.params.get("factor", 5.0))
    return FaultState(failure, slowdown)


def validate_flow_fault(fault: ActiveFault) -> None:
    """The flow's faults name a service of the flow; shared by the simulator and the workload."""
    if fault.kind == "error_rate":
        number_param(fault.params, "ratio", 0.3, 0.0, 1.0)
    if fault.kind == "latency":
        number_param(fault.params, "factor", 5.0, 1.0, 1000.0)
    if fault.kind in ("error_rate", "latency"):
        service = fault.params.get("service", FAULT_DEFAULT_SERVICE)
        if service not in SERVICES:
            raise FaultError(f"parameter 'service' must be one of {', '.join(SERVICES)}, got {service!r}")


class SpanMetricsSimulator(Simulator):
    exporter = "spanmetrics"
    fault_kinds = frozenset({"error_rate", "latency"})

    def __init__(self, options: HostOptions) -> None:
        super().__init__(options)
        boot = options.boot_time
        self.law = FlowLaw(options.seed, boot)
        self.rhythm = self.law.wave
        self.instance = options.hostname
        self.spans = [(step, self._span_series(step, boot)) for step in STEPS]
        self.edges = [(edge, self._edge_series(edge, boot)) for edge in EDGES]
        self.targets = sorted({step.service for step in STEPS})
        self.faults_changed(boot)

    def _labels(self, step: Step, status: str) -> tuple[tuple[str, str], ...]:
        # The generator's order: intrinsic dimensions, then job and instance (target info on).
        return (("service", step.service), ("span_name", step.name), ("span_kind", SPAN_KIND[step.kind]),
                ("status_code", status), ("job", step.service), ("instance", self.instance))

    def _span_series(self, step: Step, boot: float) -> dict[str, tuple[Counter, Counter, Histogram, str, str]]:
        series = {}
        for status in (STATUS_UNSET, STATUS_ERROR):
            labels = self._labels(step, status)
            series[status] = (
                Counter(self.law.wave, 0.0, 0.0, boot),
                Counter(self.law.wave, 0.0, 0.0, boot),
                Histogram(SPANMETRICS_LATENCY, labels, SPANMETRICS_BUCKETS, self.law.wave, (0.0, 0.0), (1.0, SIZE_SIGMA), boot),
                series_prefix(SPANMETRICS_CALLS, labels),
                series_prefix(SPANMETRICS_SIZE, labels),
            )
        return series

    def _edge_series(self, edge: Edge, boot: float) -> tuple[Counter, Counter, Histogram, Histogram, str, str]:
        labels = (("client", edge.client), ("server", edge.server), ("connection_type", edge.connection_type))
        wave = self.law.wave
        return (
            Counter(wave, 0.0, 0.0, boot),
            Counter(wave, 0.0, 0.0, boot),
            Histogram(SERVICE_GRAPH_SERVER_SECONDS, labels, SERVICE_GRAPH_BUCKETS, wave, (0.0, 0.0), (1.0, SIZE_SIGMA), boot),
            Histogram(SERVICE_GRAPH_CLIENT_SECONDS, labels, SERVICE_GRAPH_BUCKETS, wave, (0.0, 0.0), (1.0, SIZE_SIGMA), boot),
            series_prefix(SERVICE_GRAPH_REQUEST_TOTAL, labels),
            series_prefix(SERVICE_GRAPH_REQUEST_FAILED_TOTAL, labels),
        )

    @property
    def faults_now(self) -> FaultState:
        return fault_state(self.faults)

    def validate_fault(self, fault: ActiveFault) -> None:
        super().validate_fault(fault)
        validate_flow_fault(fault)

    def faults_changed(self, now: float) -> None:
        state = self.faults_now
        base, gain = self.law.rate
        for step, series in self.spans:
            errors = error_probability(step, state)
            median = duration_factor(step, state)
            for status, share in ((STATUS_UNSET, 1.0 - errors), (STATUS_ERROR, errors)):
                calls, size, latency, _, _ = series[status]
                calls.retune(now, base * share, gain * share)
                size.retune(now, base * share * SPAN_BYTES[step.kind], gain * share * SPAN_BYTES[step.kind])
                latency.retune(now, (base * share, gain * share), (median, SIZE_SIGMA))
        for edge, (total, failed, server, client, _, _) in self.edges:
            failing = error_probability(edge.client_step or edge.server_step, state)
            total.retune(now, base, gain)
            failed.retune(now, base * failing, gain * failing)
            server_median = duration_factor(edge.server_step, state) if edge.server_step else NO_SIDE
            client_median = duration_factor(edge.client_step, state) if edge.client_step else NO_SIDE
            server.retune(now, (base, gain), (server_median, SIZE_SIGMA))
            client.retune(now, (base, gain), (client_median, SIZE_SIGMA))

    def render(self, now: float) -> str:
        out: list[str] = []
        header(out, SPANMETRICS_CALLS, "counter", "Spans by service, operation, kind and status.")
        for _, series in self.spans:
            for calls, _, _, prefix, _ in series.values():
                out.append(f"{prefix}{fmt(math.floor(calls.value(now)))}\n")
        header(out, SPANMETRICS_SIZE, "counter", "Bytes of the spans received, by service, operation, kind and status.")
        for _, series in self.spans:
            for _, size, _, _, prefix in series.values():
                out.append(f"{prefix}{fmt(math.floor(size.value(now)))}\n")
        header(out, SPANMETRICS_LATENCY, "histogram", "Span durations in seconds.")
        for _, series in self.spans:
            for _, _, latency, _, _ in series.values():
                latency.render(out, now)
        header(out, TARGET_INFO, "gauge", "One per service instance that sent spans.")
        for service in self.targets:
            out.append(f"{series_prefix(TARGET_INFO, (('job', service), ('instance', self.instance)))}1\n")
        header(out, SERVICE_GRAPH_REQUEST_TOTAL, "counter", "Requests between two services.")
        for _, (total, _, _, _, prefix, _) in self.edges:
            out.append(f"{prefix}{fmt(math.floor(total.value(now)))}\n")
        header(out, SERVICE_GRAPH_REQUEST_FAILED_TOTAL, "counter", "Failed requests between two services.")
        for _, (_, failed, _, _, _, prefix) in self.edges:
            out.append(f"{prefix}{fmt(math.floor(failed.value(now)))}\n")
        header(out, SERVICE_GRAPH_SERVER_SECONDS, "histogram", "Server-side duration of requests between two services.")
        for _, (_, _, server, _, _, _) in self.edges:
            server.render(out, now)
        header(out, SERVICE_GRAPH_CLIENT_SECONDS, "histogram", "Client-side duration of requests between two services.")
        for _, (_, _, _, client, _, _) in self.edges:
            client.render(out, now)
        return "".join(out)
