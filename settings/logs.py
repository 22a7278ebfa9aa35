"""Log pipeline settings (`monitoring:logs`): which collector ships logs, from where, and how.

The collector is chosen by one setting, `logs.collector`:
- `alloy` (the default) — Grafana Alloy, Promtail's successor.
- `promtail` — Grafana Promtail. Promtail reached end of life on 2026-03-02: it gets no fixes, not
  even security fixes. It stays selectable only so a stack can move off it in its own time.
Both collectors render the same pipeline (`logs.pipeline`), and Alloy takes over Promtail's read
positions on its first start, so moving from Promtail to Alloy is a one-setting rollout.
"""

from __future__ import annotations

import re
from typing import Iterator, Literal

from pydantic import Field, model_validator

from settings.errors import FieldProblem, cross_field
from settings.images import default_image
from settings.types import Duration, ImageRef, LabelName, Resources, Strict, duration_seconds

# Labels a user may attach to a file source: the bounded label set of the pipeline (see
# logs.pipeline.LABEL_ALLOW_LIST), minus the ones the collector itself sets.
FILE_LABELS = ("service", "container")
_SELECTOR = re.compile(r'^\{\s*[a-zA-Z_]\w*\s*(=|!=|=~|!~)\s*"[^"]*"(\s*,\s*[a-zA-Z_]\w*\s*(=|!=|=~|!~)\s*"[^"]*")*\s*\}$')
_GLOB = re.compile(r"^/[^\s]*$")


class LogFileSource(Strict):
    """A host file (or glob) to tail, e.g. `{path: /var/log/nginx/*.log, labels: {service: nginx}}`."""

    path: str
    labels: dict[LabelName, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    @cross_field
    def _absolute_glob_and_bounded_labels(self) -> Iterator[FieldProblem]:
        if not _GLOB.match(self.path) or "**" in self.path:
            yield FieldProblem("path", self.path, "is not an absolute path or glob without spaces or '**' like /var/log/app/*.log")
        for name in self.labels:
            if name not in FILE_LABELS:
                yield FieldProblem(
                    f"labels.{name}", self.labels[name], f"is not an allowed log label; allowed: {', '.join(FILE_LABELS)}"
                )


class StreamRateLimit(Strict):
    """Per-stream line rate limit applied by the collector (Loki's own per-stream limits apply too)."""

    # Lines per second per value of `by_label`, and the burst allowed above it.
    rate: float = Field(default=200, gt=0, le=100_000)
    burst: int = Field(default=1000, ge=1, le=1_000_000)
    by_label: Literal["service", "container"] = "service"
    # Drop lines above the limit (true) or hold them back, slowing the source (false).
    drop: bool = True

    @model_validator(mode="after")
    @cross_field
    def _burst_covers_rate(self) -> Iterator[FieldProblem]:
        if self.burst < self.rate:
            yield FieldProblem("burst", self.burst, f"is below rate {self.rate:g}; a burst must allow at least one second of lines")


class RetentionOverride(Strict):
    """Keep the streams a selector matches for a different period, e.g. `{level="debug"}` for 7d."""

    selector: str
    period: Duration
    # Higher wins when several overrides match one stream.
    priority: int = Field(default=1, ge=1, le=100)

    @model_validator(mode="after")
    @cross_field
    def _valid(self) -> Iterator[FieldProblem]:
        if not _SELECTOR.match(self.selector):
            yield FieldProblem("selector", self.selector, 'is not a LogQL stream selector like {level="debug"}')
        if duration_seconds(self.period) % 86400:
            yield FieldProblem("period", self.period, "is not a whole number of days (Loki deletes by 24h periods)")


class S3Storage(Strict):
    """S3-compatible object storage for Loki's chunks and index (MinIO, Ceph, AWS S3, ...).

    The secret access key is the Pulumi secret `monitoring:loki_s3_secret_access_key`; it reaches
    Loki as an environment variable that Loki expands at start (`-config.expand-env=true`), so the
    rendered document names only the variable. Switching an existing stack from filesystem to S3
    needs a new schema period; set this from the stack's first deployment.
    """

    endpoint: str = Field(pattern=r"^[a-zA-Z0-9.-]+(:\d{1,5})?$")
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    region: str = Field(default="us-east-1", pattern=r"^[a-z0-9-]+$")
    access_key_id: str = Field(pattern=r"^\S+$")
    # Path-style URLs (endpoint/bucket) as MinIO and most S3-compatible stores need.
    force_path_style: bool = True
    insecure: bool = False


class TraceLink(Strict):
    """How Grafana's Loki datasource turns a trace id in a log line into a link to the trace."""

    # Uid of a tracing datasource (Tempo, Jaeger) in Grafana; links open in it.
    datasource_uid: str | None = Field(default=None, pattern=r"^[a-zA-Z0-9_-]{1,40}$")
    # Or an external URL template with `${__value.raw}` standing for the trace id.
    url_template: str | None = Field(default=None, pattern=r"^https?://\S*\$\{__value\.raw\}\S*$")
    # Regex with one capture group finding the trace id in a line (JSON and logfmt spellings).
    matcher_regex: str = r"""(?:trace_?[iI][dD]|traceId)["']?\s*[:=]\s*["']?([0-9a-fA-F]{16,32})"""

    @model_validator(mode="after")
    @cross_field
    def _one_target(self) -> Iterator[FieldProblem]:
        if self.datasource_uid and self.url_template:
            yield FieldProblem("url_template", self.url_template, "is set together with datasource_uid; set one of them")


class LogAlertThresholds(Strict):
    """The log alerts' thresholds and windows (see docs/runbooks/logs.md)."""

    # Share of a service's lines at error level or worse, and the minimum error rate, to alert.
    error_ratio: float = Field(default=0.05, gt=0, le=1)
    min_error_lines_per_s: float = Field(default=0.2, gt=0)
    error_for: Duration = "10m"
    # Authentication failures per service within `window` before alerting.
    auth_failures: int = Field(default=20, ge=1)
    window: Duration = "5m"


class LogsSettings(Strict):
    collector: Literal["alloy", "promtail"] = "alloy"
    # Container logs of the Docker host (docker platform) / pod logs (kubernetes platform).
    containers: bool = True
    # The host's systemd journal, mounted read-only from `journal_path`.
    journal: bool = True
    # Where the host's journald writes: /var/log/journal with a persistent journal (Debian's default
    # since 10), /run/log/journal with a volatile one. Docker refuses to start a container whose bind
    # mount source is missing, so a host without this directory needs the other path or `journal: false`.
    journal_path: Literal["/var/log/journal", "/run/log/journal"] = "/var/log/journal"
    journal_max_age: Duration = "12h"
    # Host files to tail; their directories are mounted read-only into the collector.
    files: tuple[LogFileSource, ...] = ()
    # Drop debug and trace lines in the collector (for prod: they cost more than they help there).
    drop_debug: bool = False
    # Timestamps without a zone (Python's default, syslog) are read in this zone.
    timezone: str = Field(default="UTC", pattern=r"^(UTC|[A-Z][A-Za-z_]+/[A-Za-z_/+-]+)$")
    stream_rate_limit: StreamRateLimit = StreamRateLimit()
    retention_overrides: tuple[RetentionOverride, ...] = (RetentionOverride(selector='{level="debug"}', period="7d"),)
    s3: S3Storage | None = None
    trace_link: TraceLink = TraceLink()
    alerts: LogAlertThresholds = LogAlertThresholds()

    @model_validator(mode="after")
    @cross_field
    def _distinct_files(self) -> Iterator[FieldProblem]:
        seen: set[str] = set()
        for index, source in enumerate(self.files):
            if source.path in seen:
                yield FieldProblem(f"files.{index}.path", source.path, "is listed twice")
            seen.add(source.path)


class AlloySettings(Strict):
    image: ImageRef = default_image("alloy")
    resources: Resources = Resources(cpus=0.25, memory_mb=256)

