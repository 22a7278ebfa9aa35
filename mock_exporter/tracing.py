"""The traced workload: one trace per request of the flow (mock_exporter/traced_flow.py), built with
the OpenTelemetry Python SDK and sent over OTLP/HTTP, and one log line per request carrying its
trace id, so the log pipeline's trace-id matcher links the line to the trace.

Request n arrives when the flow's request counter reaches n (the same counter the `spanmetrics`
simulator integrates), its size and its failures are drawn from unit hashes of (seed, n), and the
simulator's active faults apply: the traces, the span metrics and the faults are one law. Spans
follow the OpenTelemetry semantic conventions (service.name per service, http.* on HTTP spans,
db.* on the database call; ERROR status on a failed server span and on every client span whose
call failed).

The SDK is imported here only, so the other mock kinds stay standard-library only."""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, TextIO

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from mock_exporter.signals import unit_hash
from mock_exporter.spanmetrics import FlowLaw, SpanMetricsSimulator, fault_state
from mock_exporter.traced_flow import SERVICES, STEPS, FaultState, Step, size_quantile

KINDS = {"server": SpanKind.SERVER, "client": SpanKind.CLIENT}
# Most requests that a workload that fell behind (a stopped process) still owes are skipped, not
# sent in a burst: at most this many per tick.
MAX_BACKLOG = 200
SERVICE_VERSION = "1.4.2"


def providers(exporter: SpanExporter, instance: str, batch: bool = True) -> dict[str, TracerProvider]:
    """One TracerProvider per service of the flow (each has its own resource), all exporting
    through `exporter`."""
    made = {}
    for service in SERVICES:
        resource = Resource.create({"service.name": service, "service.instance.id": instance,
                                    "service.version": SERVICE_VERSION, "deployment.environment.name": "mock"})
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
        made[service] = provider
    return made


class FlowTracer:
    """Builds the trace of request n with explicit timestamps and writes its log line."""

    def __init__(self, seed: int, tracer_providers: dict[str, TracerProvider], log: TextIO = sys.stdout) -> None:
        self.seed = seed
        self.tracers = {service: provider.get_tracer("mock_exporter.tracing", SERVICE_VERSION)
                        for service, provider in tracer_providers.items()}
        self.log = log

    def send(self, n: int, start: float, faults: FaultState) -> tuple[str, bool]:
        """Emit request n's spans starting at `start` (Unix seconds); return (trace id, failed)."""
        size = size_quantile(unit_hash(self.seed, n, 0))
        failed_at: list[Step] = []
        root, end, status = self._span(STEPS[0], None, start, size, n, faults, failed_at)
        trace_id = format(root.get_span_context().trace_id, "032x")
        span_id = format(root.get_span_context().span_id, "016x")
        failed = status != 200
        origin = f' error_origin="{failed_at[0].service}"' if failed_at else ""
        self.log.write(f'level={"error" if failed else "info"} service=gateway msg="POST /v1/chat" status={status} '
                       f"duration_ms={(end - start) * 1000:.1f} trace_id={trace_id} span_id={span_id}{origin}\n")
        self.log.flush()
        return trace_id, failed

    def _span(self, step: Step, parent: trace.Span | None, start: float, size: float, n: int,
              faults: FaultState, failed_at: list[Step]) -> tuple[trace.Span, float, int]:
        """Emit one span and its children; return it, its end and its HTTP status (500 where a
        service fails itself, 502 where a callee's failure surfaces; a client span reports its
        server's; a database call 500 on failure)."""
        index = STEPS.index(step)
        context = trace.set_span_in_context(parent) if parent is not None else None
        span = self.tracers[step.service].start_span(
            step.name, context=context, kind=KINDS[step.kind], attributes=dict(step.attributes),
            start_time=int(start * 1e9))
        own = faults.own_time(step) * size
        clock = start + own / 2
        child_codes = []
        for child in step.children:
            _, clock, code = self._span(child, span, clock, size, n, faults, failed_at)
            child_codes.append(code)
        end = clock + own / 2
        fails_itself = unit_hash(self.seed, n, 1 + index) < faults.own_failure(step)
        if fails_itself:
            failed_at.append(step)
        if fails_itself:
            code = 500
        elif step.kind == "client" and child_codes:
            code = child_codes[0]
        else:
            code = 502 if any(c != 200 for c in child_codes) else 200
        self._finish(span, step, code)
        span.end(end_time=int(end * 1e9))
        return span, end, code

    @staticmethod
    def _finish(span: trace.Span, step: Step, code: int) -> None:
        if step.is_database:
            if code != 200:
                span.set_attribute("error.type", "57014")  # PostgreSQL's query_canceled
                span.set_status(Status(StatusCode.ERROR, "query canceled"))
            return
        span.set_attribute("http.response.status_code", code)
        if code != 200:
            span.set_attribute("error.type", str(code))
            span.set_status(Status(StatusCode.ERROR, f"HTTP {code}"))


class Workload:
    """Sends the traces of the flow as its requests arrive, following the simulator's faults."""

    def __init__(self, law: FlowLaw, tracer: FlowTracer, faults: Callable[[], FaultState], clock_offset: float = 0.0) -> None:
        self.law, self.tracer, self.faults, self.clock_offset = law, tracer, faults, clock_offset
        self.sent = int(law.requests.value(time.time() + clock_offset))
        self.stop = threading.Event()

    def tick(self, now: float) -> int:
        """Send every request that arrived up to simulated time `now`; return how many. A trace is
        sent when its request arrives, stamped with the times its spans will have."""
        due = int(self.law.requests.value(now))
        self.sent = max(self.sent, due - MAX_BACKLOG)
        faults = self.faults()
        count = 0
        while self.sent < due:
            self.sent += 1
            arrived = self.law.requests.time_of(self.sent)
            self.tracer.send(self.sent, arrived - self.clock_offset, faults)
            count += 1
        return count

    def run(self, interval: float = 0.25) -> None:
        while not self.stop.wait(interval):
            self.tick(time.time() + self.clock_offset)


def start_workload(simulator: SpanMetricsSimulator, endpoint: str, lock: threading.Lock, clock_offset: float) -> Workload:
    """The workload of a `spanmetrics` simulator, sending to the OTLP/HTTP `endpoint` (e.g.
    http://alloy:4318) from a daemon thread."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces", timeout=5)
    tracer = FlowTracer(simulator.options.seed, providers(exporter, simulator.instance))

    def faults() -> FaultState:
        with lock:
            return fault_state(simulator.faults)

    workload = Workload(simulator.law, tracer, faults, clock_offset)
    threading.Thread(target=workload.run, daemon=True, name="traced-workload").start()
    return workload
