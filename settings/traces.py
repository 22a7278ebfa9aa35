"""Traces and profiles (`monitoring:traces`, `monitoring:profiles`): Tempo, Pyroscope, and what the
one collector (Grafana Alloy) receives, samples and scrapes for them.

Applications send traces to the collector (OTLP gRPC/HTTP, Jaeger, Zipkin), which limits its memory,
samples (head ratio, then tail policies), batches and forwards them to Tempo. Tempo's
metrics-generator writes span metrics and the service graph to Prometheus with exemplars. Profiles
are pulled by the collector from Go pprof endpoints (the stack's own and listed ones) and pushed to
Pyroscope; applications may also push to Pyroscope directly with its SDKs.

Promtail collects logs only: with `logs.collector: promtail` traces and profiles are off unless
asked for, and `traces.enabled: true` (or `profiles.enabled: true`) with Promtail is refused in one line.
"""

from __future__ import annotations

import re
from typing import Iterator, Literal

from pydantic import Field, model_validator

from settings.errors import FieldProblem, cross_field
from settings.images import default_image
from settings.logs import S3Storage
from settings.types import Duration, ImageRef, Name, Resources, Strict, duration_seconds

# The kinds of profile the collector pulls from a Go pprof endpoint (pyroscope.scrape's profiling_config).
GO_PROFILES = ("process_cpu", "memory", "goroutine", "mutex", "block")


class TailSampling(Strict):
    """Decisions once a whole trace is in: errors and slow traces always kept, a share of the rest."""

    enabled: bool = True
    # Traces with a span slower than this are kept whatever the ratio.
    latency_threshold: Duration = "2s"
    # Share of the remaining (healthy, fast) traces kept.
    keep_ratio: float = Field(default=0.1, ge=0, le=1)
    # How long the collector holds a trace's spans before deciding (longest expected trace).
    decision_wait: Duration = "10s"
    # Traces held at once while waiting; beyond it the oldest are decided early.
    num_traces: int = Field(default=50_000, ge=1000, le=10_000_000)


class Sampling(Strict):
    # Head sampling: share of traces the collector accepts at all, decided by trace id (so every
    # span of a trace gets the same decision). 1 keeps every trace for the tail policies.
    head_ratio: float = Field(default=1.0, gt=0, le=1)
    tail: TailSampling = TailSampling()


class IngestionLimits(Strict):
    """An ingestion rate (MB/s per tenant) and the burst allowed above it."""

    ingestion_rate_mb: float = Field(gt=0, le=4096)
    ingestion_burst_mb: float = Field(gt=0, le=8192)

    @model_validator(mode="after")
    @cross_field
    def _burst_covers_rate(self) -> Iterator[FieldProblem]:
        if self.ingestion_burst_mb < self.ingestion_rate_mb:
            yield FieldProblem("ingestion_burst_mb", self.ingestion_burst_mb, f"is below ingestion_rate_mb {self.ingestion_rate_mb:g}")


class TempoLimits(IngestionLimits):
    ingestion_rate_mb: float = Field(default=15, gt=0, le=4096)
    ingestion_burst_mb: float = Field(default=20, gt=0, le=8192)
    # Live traces per tenant held by the ingesters, and the largest trace accepted.
    max_traces_per_user: int = Field(default=10_000, ge=100, le=10_000_000)
    max_bytes_per_trace_mb: float = Field(default=5, gt=0, le=1024)


class TempoSettings(Strict):
    image: ImageRef = default_image("tempo")
    # Blocks older than this are deleted by the compactor.
    retention: Duration = "14d"
    limits: TempoLimits = TempoLimits()
    # S3-compatible object storage for blocks (the secret key is `tempo_s3_secret_access_key`);
    # unset keeps blocks on the service's volume.
    s3: S3Storage | None = None
    resources: Resources = Resources(cpus=1.0, memory_mb=2048)


class TracesSettings(Strict):
    # Unset: on with Alloy, off with Promtail (which collects logs only); true with Promtail is an error.
    enabled: bool | None = None
    sampling: Sampling = Sampling()
    # Publish the collector's receiver ports on the host (Docker; exposure.bind_address), so
    # applications outside the stack network can send traces.
    publish_receivers: bool = True
    tempo: TempoSettings = TempoSettings()

    @model_validator(mode="after")
    @cross_field
    def _decision_wait(self) -> Iterator[FieldProblem]:
        tail = self.sampling.tail
        if tail.enabled and duration_seconds(tail.latency_threshold) >= duration_seconds(tail.decision_wait):
            yield FieldProblem(
                "sampling.tail.latency_threshold",
                tail.latency_threshold,
                f"is not below sampling.tail.decision_wait {tail.decision_wait}: a slow trace would be decided before it ends",
            )


class ProfileTarget(Strict):
    """A Go pprof endpoint to pull, e.g. `{address: "api-1:6060", service_name: api}`."""

    address: str
    service_name: Name
    scheme: Literal["http", "https"] = "http"

    @model_validator(mode="after")
    @cross_field
    def _host_port(self) -> Iterator[FieldProblem]:
        if not re.fullmatch(r"[a-zA-Z0-9.-]+:\d{1,5}", self.address):
            yield FieldProblem("address", self.address, "is not a host:port target")


class PyroscopeLimits(IngestionLimits):
    ingestion_rate_mb: float = Field(default=4, gt=0, le=4096)
    ingestion_burst_mb: float = Field(default=8, gt=0, le=8192)
    max_label_names_per_series: int = Field(default=30, ge=5, le=200)
    max_query_lookback: Duration = "30d"


class PyroscopeSettings(Strict):
    image: ImageRef = default_image("pyroscope")
    # Profiles older than this are deleted by the compactor (whole days: blocks are per day at most).
    retention: Duration = "14d"
    limits: PyroscopeLimits = PyroscopeLimits()
    resources: Resources = Resources(cpus=1.0, memory_mb=1024)


class ProfilesSettings(Strict):
    # Unset: on with Alloy, off with Promtail (which collects logs only); true with Promtail is an error.
    enabled: bool | None = None
    # Pull the stack's own Go services' pprof endpoints (Prometheus, Alertmanager, Loki, Tempo,
    # Pyroscope, Alloy; Grafana too, whose profiling endpoint this turns on).
    stack: bool = True
    targets: tuple[ProfileTarget, ...] = ()
    scrape_interval: Duration = "15s"
    # Whole-host CPU profiles of every process through eBPF: runs the collector privileged with the
    # host's PID namespace — a documented security exception, off unless asked for.
    ebpf: bool = False
    pyroscope: PyroscopeSettings = PyroscopeSettings()

    @model_validator(mode="after")
    @cross_field
    def _distinct_targets(self) -> Iterator[FieldProblem]:
        seen: set[str] = set()
        for index, target in enumerate(self.targets):
            if target.address in seen:
                yield FieldProblem(f"targets.{index}.address", target.address, "is listed twice")
            seen.add(target.address)
        if duration_seconds(self.pyroscope.retention) % 86400:
            yield FieldProblem("pyroscope.retention", self.pyroscope.retention, "is not a whole number of days")
