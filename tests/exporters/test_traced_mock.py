"""The traced mock: the workload's spans, checked with the OpenTelemetry SDK's in-memory exporter
(structure, semantic-convention attributes, error status, trace ids the log pipeline finds), and
the `spanmetrics` kind's series against Tempo's generated families and against the same law the
workload draws from (counts, error shares and latencies agree)."""

from __future__ import annotations

import io
import json
import math
import statistics
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler

import pytest
import re2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import traces.tempo_generated as tempo
from exporters.contracts import GENERATED, check_exposition
from exporters.exposition import parse
from mock_exporter import spanmetrics
from mock_exporter.base import FaultError, HostOptions
from mock_exporter.signals import seconds_until
from mock_exporter.spanmetrics import SpanMetricsSimulator, fault_state
from mock_exporter.traced_flow import (
    EDGES, GATEWAY, HEALTHY, MODEL_SERVER, SIZE_SIGMA, STEPS, FaultState, duration_factor, error_probability,
)
from mock_exporter.tracing import FlowTracer, Workload, providers
from settings.logs import TraceLink
from tests.conftest import ROOT
from tests.exporters.conftest import http
from tests.fake_http import serving

T0 = 1_750_000_000.0
SEED = 3


def simulator() -> SpanMetricsSimulator:
    return SpanMetricsSimulator(HostOptions(seed=SEED, started_at=T0, hostname="mock-host-3"))


def traced(faults: FaultState = HEALTHY, requests: int = 1, seed: int = SEED):
    memory = InMemorySpanExporter()
    log = io.StringIO()
    tracer = FlowTracer(seed, providers(memory, "mock-host-3", batch=False), log)
    results = [tracer.send(n, T0 + n, faults) for n in range(1, requests + 1)]
    return memory.get_finished_spans(), log.getvalue().splitlines(), results


def test_the_mock_repeats_tempos_generated_names_and_buckets():
    """Mutation caught: a name or bucket edited on one side only (the image carries its own copy)."""
    for name in ("SPANMETRICS_CALLS", "SPANMETRICS_LATENCY", "SPANMETRICS_SIZE", "TARGET_INFO", "SERVICE_GRAPH_REQUEST_TOTAL",
                 "SERVICE_GRAPH_REQUEST_FAILED_TOTAL", "SERVICE_GRAPH_SERVER_SECONDS", "SERVICE_GRAPH_CLIENT_SECONDS",
                 "SPANMETRICS_BUCKETS", "SERVICE_GRAPH_BUCKETS", "STATUS_ERROR"):
        assert getattr(spanmetrics, name) == getattr(tempo, name), name
    assert set(spanmetrics.SPAN_KIND.values()) <= set(tempo.SPAN_KINDS)
    assert {spanmetrics.STATUS_UNSET, spanmetrics.STATUS_ERROR} <= set(tempo.STATUS_CODES)
    assert {edge.connection_type for edge in EDGES} <= set(tempo.CONNECTION_TYPES)


def test_the_served_families_are_tempos_generated_families():
    """Every generated family the stack's Tempo writes is served with its type and exactly its
    labels, and the histogram buckets are the generator's. Mutation caught: a label dropped or
    renamed (status_code -> status), a family missing, buckets of another version."""
    text = simulator().render(T0 + 600)
    assert check_exposition(GENERATED, text) == []
    families = parse(text)
    expected = tempo.generated_families()
    assert set(families) == set(expected)
    for name, (kind, labels) in expected.items():
        assert families[name].type == kind, name
        assert families[name].label_names() == set(labels), name
    bounds = {s.label("le") for s in families[tempo.SPANMETRICS_LATENCY].samples if s.label("le")}
    assert sorted(float(b) for b in bounds if b != "+Inf") == pytest.approx(sorted(tempo.SPANMETRICS_BUCKETS))


def test_one_request_is_one_trace_of_the_flow_with_parents_and_attributes():
    """Mutations caught: a span started without its parent's context (a second trace, or a root
    in the middle), a wrong kind, a child outside its parent's time, a missing semantic attribute."""
    spans, _, _ = traced()
    assert len(spans) == len(STEPS)
    assert len({s.context.trace_id for s in spans}) == 1
    by_id = {s.context.span_id: s for s in spans}
    [root] = [s for s in spans if s.parent is None]
    assert (root.name, root.kind, root.resource.attributes["service.name"]) == ("POST /v1/chat", SpanKind.SERVER, "gateway")
    shape = set()
    for span in spans:
        if span.parent is None:
            continue
        parent = by_id[span.parent.span_id]
        assert parent.start_time <= span.start_time <= span.end_time <= parent.end_time, span.name
        shape.add((parent.resource.attributes["service.name"], parent.kind.name, span.resource.attributes["service.name"],
                   span.kind.name, span.name))
    assert shape == {
        ("gateway", "SERVER", "gateway", "CLIENT", "POST /authorize"),
        ("gateway", "CLIENT", "plugin-auth", "SERVER", "POST /authorize"),
        ("gateway", "SERVER", "gateway", "CLIENT", "POST /invoke"),
        ("gateway", "CLIENT", "plugin-chat", "SERVER", "POST /invoke"),
        ("plugin-chat", "SERVER", "plugin-chat", "CLIENT", "POST /v1/completions"),
        ("plugin-chat", "CLIENT", "model-server", "SERVER", "POST /v1/completions"),
        ("model-server", "SERVER", "model-server", "CLIENT", "SELECT chat.prompts"),
    }
    for span in spans:
        attributes = span.attributes
        if span.kind == SpanKind.SERVER:
            assert {"http.request.method", "http.route", "http.response.status_code", "url.path"} <= set(attributes), span.name
            assert attributes["http.response.status_code"] == 200
        elif "db.system" in attributes:
            assert attributes["db.system"] == "postgresql" and attributes["db.operation.name"] == "SELECT"
        else:
            assert {"http.request.method", "server.address", "url.full", "http.response.status_code"} <= set(attributes)
        assert span.status.status_code == StatusCode.UNSET
        assert span.resource.attributes["service.instance.id"] == "mock-host-3"


def test_an_error_in_the_model_server_surfaces_in_every_caller_and_nowhere_else():
    """Mutations caught: no ERROR status on the failing span, the error not propagated to the
    callers' client and server spans (the services dashboard's error propagation would be empty),
    or propagated sideways to the auth plugin."""
    spans, lines, [(trace_id, failed)] = traced(FaultState(failure={"model-server": 1.0}))
    assert failed
    status = {(s.resource.attributes["service.name"], s.kind.name, s.name):
              (s.status.status_code, s.attributes.get("http.response.status_code")) for s in spans}
    assert status == {
        ("gateway", "SERVER", "POST /v1/chat"): (StatusCode.ERROR, 502),
        ("gateway", "CLIENT", "POST /authorize"): (StatusCode.UNSET, 200),
        ("plugin-auth", "SERVER", "POST /authorize"): (StatusCode.UNSET, 200),
        ("gateway", "CLIENT", "POST /invoke"): (StatusCode.ERROR, 502),
        ("plugin-chat", "SERVER", "POST /invoke"): (StatusCode.ERROR, 502),
        ("plugin-chat", "CLIENT", "POST /v1/completions"): (StatusCode.ERROR, 500),
        ("model-server", "SERVER", "POST /v1/completions"): (StatusCode.ERROR, 500),
        ("model-server", "CLIENT", "SELECT chat.prompts"): (StatusCode.UNSET, None),
    }
    assert 'level=error' in lines[0] and 'error_origin="model-server"' in lines[0]


def test_the_log_pipelines_trace_id_matcher_finds_each_requests_trace_id():
    """The default `logs.trace_link.matcher_regex` (RE2, as Loki runs it) captures the trace id of
    every log line. Mutation caught: the id written in another form (`trace=`, dashed, 0x-prefixed)."""
    matcher = re2.compile(TraceLink().matcher_regex)
    spans, lines, results = traced(requests=5)
    assert len(lines) == 5
    roots = {format(s.context.trace_id, "032x") for s in spans if s.parent is None}
    found = set()
    for line, (trace_id, _) in zip(lines, results):
        match = matcher.search(line)
        assert match and match.group(1) == trace_id, line
        found.add(match.group(1))
    assert found == roots


def test_the_workload_and_the_span_metrics_follow_one_law():
    """Over ten simulated minutes the workload sends as many requests as the simulator counts
    gateway spans, with the error share and median latencies the simulator integrates. Mutations
    caught: the simulator's rate, error propagation or latency composition drifting from what the
    traces show (span metrics that a real Tempo would not derive from these traces)."""
    sim = simulator()
    faults = FaultState(failure={"model-server": 0.3}, slowdown={"model-server": 5.0})
    sim.add_fault(T0, "error_rate", {"ratio": 0.3})
    sim.add_fault(T0, "latency", {"factor": 5})
    assert fault_state(sim.faults) == faults
    memory = InMemorySpanExporter()
    tracer = FlowTracer(SEED, providers(memory, "mock-host-3", batch=False), io.StringIO())
    workload = Workload(sim.law, tracer, lambda: faults)
    workload.sent = int(sim.law.requests.value(T0))
    sent = sum(workload.tick(T0 + second) for second in range(10, 601, 10))

    def gateway_calls(text: str, status: str) -> float:
        [sample] = [s for s in parse(text)[tempo.SPANMETRICS_CALLS].samples
                    if s.label("service") == "gateway" and s.label("span_kind") == "SPAN_KIND_SERVER"
                    and s.label("status_code") == status]
        return sample.value

    before, after = sim.render(T0), sim.render(T0 + 600)
    counted = {status: gateway_calls(after, status) - gateway_calls(before, status) for status in ("STATUS_CODE_UNSET", "STATUS_CODE_ERROR")}
    assert sent > 500 and abs(sum(counted.values()) - sent) <= 2, (sent, counted)
    spans = memory.get_finished_spans()
    roots = [s for s in spans if s.parent is None]
    failed = sum(1 for s in roots if s.status.status_code == StatusCode.ERROR) / len(roots)
    assert failed == pytest.approx(counted["STATUS_CODE_ERROR"] / sent, abs=0.05)
    assert failed == pytest.approx(error_probability(GATEWAY, faults), abs=0.05)
    for step, name in ((GATEWAY, "POST /v1/chat"), (MODEL_SERVER, "POST /v1/completions")):
        durations = [(s.end_time - s.start_time) / 1e9 for s in spans if s.kind == SpanKind.SERVER and s.name == name]
        assert statistics.median(durations) == pytest.approx(duration_factor(step, faults), rel=0.1)
        spread = statistics.stdev(math.log(d) for d in durations)
        assert spread == pytest.approx(SIZE_SIGMA, rel=0.15)


def test_flow_faults_name_a_service_of_the_flow():
    sim = simulator()
    with pytest.raises(FaultError, match="service"):
        sim.add_fault(T0, "error_rate", {"ratio": 0.5, "service": "billing"})
    with pytest.raises(FaultError, match="ratio"):
        sim.add_fault(T0, "error_rate", {"ratio": 2})
    sim.add_fault(T0, "error_rate", {"ratio": 0.5, "service": "plugin-auth"})
    assert fault_state(sim.faults).failure == {"plugin-auth": 0.5}


@pytest.mark.e2e
def test_otlp_endpoint_is_refused_for_other_kinds():
    result = subprocess.run([sys.executable, "-m", "mock_exporter", "--exporter", "node", "--listen", "127.0.0.1:0",
                             "--otlp-endpoint", "http://127.0.0.1:1"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--otlp-endpoint" in result.stderr


def test_the_healthy_flow_stays_below_the_service_alerts_and_the_default_faults_cross_them():
    """The mock's healthy law keeps every service under ServiceErrorRatioHigh's and
    ServiceLatencyHigh's thresholds (no alert on healthy mocks), and the faults' defaults cross
    them at the gateway (a demo fault pages). Mutation caught: a retuned law or threshold that
    makes the healthy mock fire, or a fault too weak to show anything."""
    from statistics import NormalDist

    from rules.traces import CONFIG, alerts

    thresholds = {alert.name: alert.threshold for alert in alerts(CONFIG)}
    p95 = math.exp(SIZE_SIGMA * NormalDist().inv_cdf(float(CONFIG.alert_quantile)))
    for step in STEPS:
        if step.kind == "server":
            assert error_probability(step) < thresholds["ServiceErrorRatioHigh"], step.service
            assert duration_factor(step) * p95 < thresholds["ServiceLatencyHigh"], step.service
    sim = simulator()
    sim.add_fault(T0, "error_rate", {})
    sim.add_fault(T0, "latency", {})
    assert error_probability(GATEWAY, sim.faults_now) > thresholds["ServiceErrorRatioHigh"]
    assert duration_factor(GATEWAY, sim.faults_now) * p95 > thresholds["ServiceLatencyHigh"]


class OtlpReceiver(BaseHTTPRequestHandler):
    """OTLP/HTTP's trace endpoint, keeping every decoded export request."""

    received: list[ExportTraceServiceRequest] = []

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        assert self.path == "/v1/traces" and self.headers["Content-Type"] == "application/x-protobuf"
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        OtlpReceiver.received.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Quiet."""


def received_spans() -> list[tuple[str, object]]:
    """(service.name, span) of everything received so far."""
    spans = []
    for request in list(OtlpReceiver.received):
        for resource_spans in request.resource_spans:
            service = next(a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name")
            spans += [(service, span) for scope in resource_spans.scope_spans for span in scope.spans]
    return spans


@pytest.mark.e2e
def test_the_mock_sends_its_traces_over_otlp_and_faults_reach_them(mock_factory, monkeypatch):
    """The `spanmetrics` kind with --otlp-endpoint sends the flow's traces over OTLP/HTTP (protobuf)
    to a local receiver, logs each request's trace id, and a fault posted to /-/fault shows in the
    next traces. Mutations caught: the workload thread never started, the wrong OTLP path or
    encoding, faults not shared between the metrics and the traces."""
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
    OtlpReceiver.received = []
    # The flow's request rate follows the mock's simulated day: pin its clock to the busiest moment,
    # or a run at the daily trough waits on a few requests a minute.
    now = time.time()
    peak = seconds_until(SpanMetricsSimulator(HostOptions(seed=4, started_at=now, hostname="mock-host-1")).rhythm, now, "peak")
    with serving(OtlpReceiver) as url:
        mock = mock_factory("--exporter", "spanmetrics", "--seed", "4", "--otlp-endpoint", url,
                            "--clock-offset", f"{peak:.0f}")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len({service for service, _ in received_spans()}) < 4:
            time.sleep(0.2)
        assert {service for service, _ in received_spans()} == {"gateway", "plugin-auth", "plugin-chat", "model-server"}
        first_trace = received_spans()[0][1].trace_id.hex()
        line = ""
        while first_trace not in line and time.monotonic() < deadline:
            line = mock.process.stdout.readline()
        assert f"trace_id={first_trace}" in line
        reply = http(f"{mock.url}/-/fault", "POST", json.dumps({"kind": "error_rate", "ratio": 1.0}).encode())
        assert reply.status == 200
        seen_before = len(received_spans())
        deadline = time.monotonic() + 20
        errors: list[str] = []
        # A trace's spans end (and are exported) at different moments, possibly in different batches:
        # wait for both ends of the chain rather than for the first error span.
        while time.monotonic() < deadline and not {"model-server", "gateway"} <= set(errors):
            errors = [service for service, span in received_spans()[seen_before:] if span.status.code == 2 and span.kind == 2]
            time.sleep(0.2)
        assert "model-server" in errors and "gateway" in errors
