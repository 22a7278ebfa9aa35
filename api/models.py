"""The API's typed responses (the OpenAPI document's schemas)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Metric(BaseModel):
    name: str
    type: str | None = None
    help: str | None = None


class MetricList(BaseModel):
    metrics: list[Metric]
    truncated: bool


class Series(BaseModel):
    labels: dict[str, str]
    values: list[tuple[float, float]] = Field(description="[unix seconds, value] pairs")


class MetricData(BaseModel):
    metric: str
    start: float
    end: float
    step: float
    series: list[Series]


class Alert(BaseModel):
    id: str = Field(description="Alertmanager's fingerprint of the alert's labels")
    name: str
    state: str = Field(description="active, suppressed or unprocessed")
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    silenced_by: list[str]


class AlertList(BaseModel):
    alerts: list[Alert]


class AckBody(BaseModel):
    author: str = Field(..., min_length=1, max_length=100)
    comment: str = Field(..., min_length=1, max_length=1000)
    expires_in_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    model_config = {"extra": "forbid"}


class Ack(BaseModel):
    alert_id: str
    silence_id: str
    ends_at: str


class Unack(BaseModel):
    alert_id: str
    expired_silences: list[str]


class Rule(BaseModel):
    id: str | None = Field(None, description="Set for user rules, which this API can change")
    name: str
    group: str
    user: bool
    expr: str
    for_seconds: float = 0
    labels: dict[str, str]
    annotations: dict[str, str]
    state: str | None = None
    health: str | None = None


class RuleList(BaseModel):
    rules: list[Rule]


class RuleWritten(BaseModel):
    id: str
    reloaded: bool = Field(description="Whether Prometheus was asked to reload now")
    checked_by: str = Field("", description="What checked the rule: promtool, or promql-parser where promtool is absent")
    applied_within_seconds: int | None = Field(
        None, description="On a cluster (answer 202): how long until every Prometheus replica evaluates the change; "
                          "None when Prometheus reloaded now")


class RulesWritten(BaseModel):
    ids: list[str] = Field(description="Every alerting rule of the file, in order; each its own user rule")
    created: list[str]
    replaced: list[str]
    dry_run: bool = False
    reloaded: bool = False
    checked_by: str
    applied_within_seconds: int | None = None


class Dashboard(BaseModel):
    uid: str
    title: str
    url: str
    folder_uid: str | None = None
    tags: list[str] = []
    editable: bool = Field(description="In this API's folder (not provisioned): can be changed here")


class DashboardList(BaseModel):
    dashboards: list[Dashboard]


class DashboardBody(BaseModel):
    title: str = Field(..., min_length=1, max_length=200)
    panels: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=20)
    model_config = {"extra": "forbid"}


class DashboardWritten(BaseModel):
    uid: str
    url: str
    version: int


class Deleted(BaseModel):
    id: str
    deleted: bool = True


class RuleDeleted(Deleted):
    applied_within_seconds: int | None = Field(
        None, description="On a cluster (answer 202): how long until every Prometheus replica stops evaluating it")


class TraceSummary(BaseModel):
    trace_id: str
    root_service: str | None = None
    root_name: str | None = None
    start_unix_nano: str | None = None
    duration_ms: float | None = None


class TraceList(BaseModel):
    traces: list[TraceSummary]


class Span(BaseModel):
    span_id: str
    parent_span_id: str | None = None
    service: str | None = None
    name: str
    start_unix_nano: str
    end_unix_nano: str
    error: bool
    attributes: dict[str, Any]


class Trace(BaseModel):
    trace_id: str
    spans: list[Span]


class ServiceNode(BaseModel):
    name: str
    requests_per_second: float
    failed_per_second: float


class ServiceMap(BaseModel):
    services: list[ServiceNode]


class Dependency(BaseModel):
    client: str
    server: str
    requests_per_second: float
    failed_per_second: float
    server_p95_seconds: float | None = None


class DependencyGraph(BaseModel):
    dependencies: list[Dependency]


class LogLine(BaseModel):
    timestamp_ns: str
    line: str
    labels: dict[str, str]


class LogResult(BaseModel):
    lines: list[LogLine]


class LogSearchBody(BaseModel):
    query: str = Field(..., min_length=1, max_length=4096, examples=['{service="api"} |= "error"'])
    start: float | None = Field(None, description="Unix seconds; default an hour before end")
    end: float | None = Field(None, description="Unix seconds; default now")
    limit: int = Field(100, ge=1, le=5000)
    direction: str = Field("backward", pattern="^(forward|backward)$")
    model_config = {"extra": "forbid"}


class LogStreams(BaseModel):
    streams: list[dict[str, str]]


class LogPattern(BaseModel):
    pattern: str
    count: int


class LogPatterns(BaseModel):
    patterns: list[LogPattern]


class ProfileType(BaseModel):
    id: str
    name: str
    sample_type: str
    sample_unit: str


class ProfilingOverview(BaseModel):
    profile_types: list[ProfileType]
    services: list[str]


class ProfileFunction(BaseModel):
    name: str
    self: int
    total: int


class Profile(BaseModel):
    service: str
    profile_type: str
    unit: str
    total: int
    top: list[ProfileFunction]


class Benchmark(BaseModel):
    job: str
    requests_per_second: float | None = None
    p50_seconds: float | None = None
    p90_seconds: float | None = None
    p99_seconds: float | None = None


class Benchmarks(BaseModel):
    window: str
    benchmarks: list[Benchmark]


class CapacityResource(BaseModel):
    labels: dict[str, str]
    usage_ratio: float | None = None
    size: float | None = None
    headroom_ratio: float | None = None


class Capacity(BaseModel):
    resources: list[CapacityResource]


class CapacityForecastEntry(BaseModel):
    labels: dict[str, str]
    forecast_peak_ratio: float | None = None
    days_until_full: float | None = None
    recommended_addition: float | None = None


class CapacityForecast(BaseModel):
    forecasts: list[CapacityForecastEntry]


class SlaStatus(BaseModel):
    sla: str
    state: str
    objectives: dict[str, float | None] = Field(description="month-to-date ratio per objective")


class SlaStatusList(BaseModel):
    slas: list[SlaStatus]


class SlaReport(BaseModel):
    sla: str
    objective: str
    month_to_date_ratio: float | None = None
    error_budget_used_ratio: float | None = None
    error_budget_projected_ratio: float | None = None


class SlaReports(BaseModel):
    reports: list[SlaReport]


class Health(BaseModel):
    status: str
    upstreams: dict[str, bool] = Field(description="which upstreams are configured")
