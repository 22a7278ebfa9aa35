"""The log pipeline, declared once as data: sources, processing stages and the label allow-list.

`logs.promtail` and `logs.alloy` render this same data for their collector, and `logs.simulate`
runs it over a corpus of log lines, so what the tests prove about the pipeline holds for both.

Stage kinds and parameter names are Promtail's (`multiline`, `regex`, `json`, ...); Alloy's blocks
are the same stages under `stage.<kind>` (see `logs.alloy.ALLOY_STAGE`). Every regular expression
is RE2 (no lookarounds, no backreferences): Promtail, Alloy and Loki all use Go's RE2 engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Mapping

from settings.model import StackSettings

SourceKind = Literal["docker", "journal", "file", "kubernetes"]
Platform = Literal["docker", "kubernetes"]

# The only labels a log stream may carry (`env` is added by the collector's client). They keep the
# number of streams bounded: request, trace and user ids go to structured metadata instead.
LABEL_ALLOW_LIST = ("container", "env", "job", "level", "namespace", "service", "stream")
# Per-line values worth keeping next to a line without making them labels.
STRUCTURED_METADATA = ("exception", "http_status", "request_id", "span_id", "trace_id")

DOCKER_SOCKET = "/var/run/docker.sock"
POD_LOGS_DIR = "/var/log/pods"

# --- the regular expressions (each one is exercised by tests/logs/corpus) ---

# A line that starts a new record; any other line continues the record before it (stack traces).
FIRST_LINE = (
    r"^(?:\{|\d{4}-\d{2}-\d{2}[T ]\d|\d{1,3}(?:\.\d{1,3}){3} |[A-Z][a-z]{2} [ \d]\d \d\d:"
    r"|\[?(?i:trace|debug|info|notice|warn|warning|error|fatal|critical)\b|[A-Za-z_][\w.-]*=|panic: )"
)
# Successful health checks and probes: noise that would outnumber real traffic.
HEALTH_CHECK_NOISE = (
    r'(?i)(?:"(?:GET|HEAD) /(?:health|healthz|healthcheck|ready|readyz|live|livez|ping|-/healthy|-/ready)'
    r'(?:\?[^" ]*)? HTTP/[\d.]+" (?:200|204) '
    r"|\b(?:kube-probe|ELB-HealthChecker|Consul Health Check)/"
    r'|"(?:path|url|uri)"\s*:\s*"/(?:health|healthz|healthcheck|ready|readyz|live|livez|ping)"'
    r"|\bpath=/(?:health|healthz|healthcheck|ready|readyz|live|livez|ping)(?:\s|$))"
)
JSON_LINE = r"^\s*(?P<json_body>\{.*\})\s*$"
_LOGFMT_PAIR = r'[A-Za-z_][\w.-]*=(?:"(?:[^"\\]|\\.)*"|\S*)'
LOGFMT_LINE = rf"^(?P<logfmt_body>{_LOGFMT_PAIR}(?:\s+{_LOGFMT_PAIR})+)\s*$"
_LEVEL_WORDS = r"(?i:trace|debug|info|notice|warn|warning|error|err|fatal|critical|crit)"
# `2026-11-23 10:00:00,123 ERROR ...`, `2026-11-23T10:00:00.123Z [main] WARN ...`, `[ERROR] ...`
TEXT_HEADER = (
    r"^(?:(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)\s+)?"
    rf"(?:\[[^\]]{{1,64}}\]\s+)?\[?(?P<level>{_LEVEL_WORDS})\]?[\s:]"
)
# nginx/Apache combined access log.
ACCESS_LOG = (
    r"^(?P<client_ip>\S+) \S+ \S+ \[(?P<ts>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r'"(?P<method>[A-Z]+) (?P<path>[^ "]+) HTTP/[\d.]+" (?P<http_status>\d{3}) '
)
SYSLOG = r"^(?P<ts>[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}) (?P<host>\S+) (?P<ident>[\w./-]+)(?:\[(?P<pid>\d+)\])?: "
GO_PANIC = r"^(?P<level>panic): "
# The first exception type at the start of a line: Python's last traceback line, Java's first.
EXCEPTION = r"(?m)^(?P<exception>(?:[a-zA-Z_$][\w$]*\.)*[A-Z][\w$]*(?:Error|Exception|Exit|Interrupt|Fault))(?::|$)"
DEBUG_LEVELS = r"^(?:debug|trace)$"
# Kubernetes' CRI log format, in front of every pod log line read from /var/log/pods.
CRI_LINE = r"^(?s)(?P<time>\S+?) (?P<stream>stdout|stderr) (?P<flags>\S+?) (?P<content>.*)$"

TIMESTAMP_FALLBACKS = (
    "2006-01-02 15:04:05,000",
    "2006-01-02 15:04:05.000",
    "2006-01-02T15:04:05.000",
    "2006-01-02 15:04:05",
    "02/Jan/2006:15:04:05 -0700",
    "Jan _2 15:04:05",
)


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class RelabelRule:
    """A Prometheus-style relabel rule applied to a discovered target's labels (action `replace`)."""

    target_label: str
    source_labels: tuple[str, ...] = ()
    regex: str = "(.*)"
    replacement: str = "$1"
    separator: str = ";"

    def as_data(self) -> dict[str, Any]:
        return {
            "source_labels": list(self.source_labels),
            "target_label": self.target_label,
            "regex": self.regex,
            "replacement": self.replacement,
            "separator": self.separator,
        }


@dataclass(frozen=True)
class FileTarget:
    path: str  # glob on the collector's filesystem
    labels: Mapping[str, str] = field(default_factory=lambda: _frozen({}))


@dataclass(frozen=True)
class Source:
    name: str  # permanent: scrape job name (Promtail) and component label (Alloy)
    kind: SourceKind
    labels: Mapping[str, str]  # static labels of every line
    relabel: tuple[RelabelRule, ...] = ()
    files: tuple[FileTarget, ...] = ()
    options: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))
    # Stages only this source's lines go through before the shared ones: unwrapping an envelope and
    # joining multi-line records. Journal entries are whole records already and skip the joining.
    prelude: tuple["Stage", ...] = ()


@dataclass(frozen=True)
class Stage:
    """One processing step; `params` use Promtail's names and value shapes."""

    kind: str
    params: Mapping[str, Any]
    why: str

    def as_data(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": plain(self.params)}


@dataclass(frozen=True)
class LogPipeline:
    sources: tuple[Source, ...]
    stages: tuple[Stage, ...]
    label_allow_list: tuple[str, ...] = LABEL_ALLOW_LIST

    def stages_for(self, source: Source) -> tuple[Stage, ...]:
        return source.prelude + self.stages

    def as_data(self) -> dict[str, Any]:
        """The collector-neutral form both renderings are parsed back into and compared with."""
        return {
            "sources": [source_data(source) for source in self.sources],
            "stages": [stage.as_data() for stage in self.stages],
            "label_allow_list": sorted(self.label_allow_list),
        }

    def regexes(self) -> dict[str, str]:
        """Every regular expression the pipeline hands to RE2, by where it is used."""
        found: dict[str, str] = {}
        for source in self.sources:
            for index, stage in enumerate(source.prelude):
                for key in ("expression", "firstline"):
                    if key in stage.params:
                        found[f"{source.name}.prelude[{index}].{stage.kind}.{key}"] = stage.params[key]
        for index, stage in enumerate(self.stages):
            for key in ("expression", "firstline"):
                if key in stage.params:
                    found[f"stages[{index}].{stage.kind}.{key}"] = stage.params[key]
        for source in self.sources:
            for index, rule in enumerate(source.relabel):
                found[f"{source.name}.relabel[{index}]"] = rule.regex
        return found


def plain(value: Any) -> Any:
    """Frozen pipeline parameters (mapping proxies, tuples) as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def source_data(source: Source) -> dict[str, Any]:
    return {
        "name": source.name,
        "kind": source.kind,
        "labels": dict(source.labels),
        "relabel": [rule.as_data() for rule in source.relabel],
        "files": [{"path": target.path, "labels": dict(target.labels)} for target in source.files],
        "options": dict(source.options),
        "prelude": [stage.as_data() for stage in source.prelude],
    }


# --- sources ---

def multiline_stage() -> "Stage":
    return Stage(
        "multiline",
        _frozen({"firstline": FIRST_LINE, "max_wait_time": "3s", "max_lines": 256}),
        "join stack traces (Python, Java, Go) to the line that starts them",
    )


def cri_stage() -> "Stage":
    return Stage("cri", _frozen({}), "unwrap the CRI envelope of pod log files")


def docker_source() -> Source:
    label = "__meta_docker_container_label_"
    return Source(
        name="docker",
        kind="docker",
        labels=_frozen({"job": "docker"}),
        relabel=(
            RelabelRule("container", ("__meta_docker_container_name",), regex="/(.*)"),
            # Compose projects name their service; our own containers carry `monitoring.service`,
            # which wins when both are present (a rule whose regex does not match changes nothing).
            RelabelRule("service", (f"{label}com_docker_compose_service",), regex="(.+)"),
            RelabelRule("service", (f"{label}monitoring_service",), regex="(.+)"),
            RelabelRule("stream", ("__meta_docker_container_log_stream",)),
        ),
        options=_frozen({"host": f"unix://{DOCKER_SOCKET}", "refresh_interval": "15s"}),
        prelude=(multiline_stage(),),
    )


def kubernetes_source() -> Source:
    """Pod logs tailed from the node's /var/log/pods (the collector runs as a DaemonSet)."""
    label = "__meta_kubernetes_pod_label_"
    return Source(
        name="kubernetes",
        kind="kubernetes",
        labels=_frozen({"job": "kubernetes"}),
        relabel=(
            RelabelRule("namespace", ("__meta_kubernetes_namespace",)),
            RelabelRule("container", ("__meta_kubernetes_pod_container_name",)),
            RelabelRule("service", (f"{label}app",), regex="(.+)"),
            RelabelRule("service", (f"{label}app_kubernetes_io_name",), regex="(.+)"),
            RelabelRule(
                "__path__",
                ("__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"),
                separator="/",
                replacement=f"{POD_LOGS_DIR}/*$1/*.log",
            ),
        ),
        options=_frozen({"role": "pod"}),
        prelude=(cri_stage(), multiline_stage()),
    )


def journal_source(max_age: str, path: str) -> Source:
    return Source(
        name="journal",
        kind="journal",
        labels=_frozen({"job": "journal"}),
        relabel=(
            RelabelRule("service", ("__journal__systemd_unit",), regex="(.+?)(?:\\.service)?"),
            RelabelRule("level", ("__journal_priority_keyword",), regex="(.+)"),
        ),
        options=_frozen({"path": path, "max_age": max_age}),
    )


def file_source(settings: StackSettings) -> Source:
    return Source(
        name="files",
        kind="file",
        labels=_frozen({"job": "files"}),
        files=tuple(FileTarget(entry.path, _frozen(entry.labels)) for entry in settings.logs.files),
        prelude=(multiline_stage(),),
    )


def sources(settings: StackSettings, platform: Platform | None = None) -> tuple[Source, ...]:
    """The stack's sources; the Kubernetes source only on the Kubernetes platform."""
    platform = platform or settings.platform
    logs = settings.logs
    found: list[Source] = []
    if logs.containers:
        found.append(kubernetes_source() if platform == "kubernetes" else docker_source())
    if logs.journal:
        found.append(journal_source(logs.journal_max_age, logs.journal_path))
    if logs.files:
        found.append(file_source(settings))
    return tuple(found)


# --- stages ---


def stages(settings: StackSettings) -> tuple[Stage, ...]:
    """The stages every source's lines go through, after the source's own prelude."""
    logs = settings.logs
    limit = logs.stream_rate_limit
    steps: list[Stage] = [
        Stage(
            "drop",
            _frozen({"expression": HEALTH_CHECK_NOISE, "drop_counter_reason": "health_check"}),
            "drop successful health checks and probes",
        ),
        Stage("regex", _frozen({"expression": JSON_LINE}), "detect a JSON line"),
        Stage(
            "json",
            _frozen(
                {
                    "source": "json_body",
                    "expressions": _frozen(
                        {
                            "level": "level || severity || lvl",
                            "ts": 'time || timestamp || ts || "@timestamp"',
                            "trace_id": "trace_id || traceId || traceID",
                            "span_id": "span_id || spanId || spanID",
                            "request_id": "request_id || requestId",
                            "exception": "exception || exc_type || error_type",
                        }
                    ),
                }
            ),
            "parse JSON lines (only those detected above)",
        ),
        Stage("regex", _frozen({"expression": LOGFMT_LINE}), "detect a logfmt line"),
        Stage(
            "logfmt",
            _frozen(
                {
                    "source": "logfmt_body",
                    "mapping": _frozen(
                        {
                            "level": "level",
                            "ts": "ts",
                            "time": "time",
                            "trace_id": "trace_id",
                            "span_id": "span_id",
                            "request_id": "request_id",
                        }
                    ),
                }
            ),
            "parse logfmt lines (only those detected above)",
        ),
        Stage("regex", _frozen({"expression": TEXT_HEADER}), "timestamp and level of plain-text lines"),
        Stage("regex", _frozen({"expression": ACCESS_LOG}), "nginx/Apache access log fields"),
        Stage("regex", _frozen({"expression": SYSLOG}), "syslog timestamp and program"),
        Stage("regex", _frozen({"expression": GO_PANIC}), "Go panics are level panic"),
        Stage("regex", _frozen({"expression": EXCEPTION}), "exception type of a stack trace"),
        Stage(
            "template",
            _frozen({"source": "ts", "template": '{{ or .ts .time "" }}'}),
            "logfmt spells the timestamp ts or time",
        ),
        Stage(
            "template",
            _frozen({"source": "level", "template": "{{ if .Value }}{{ ToLower .Value }}{{ end }}"}),
            "one spelling per level (ERROR and error are one stream)",
        ),
        Stage(
            "timestamp",
            _frozen(
                {
                    "source": "ts",
                    "format": "RFC3339Nano",
                    "fallback_formats": list(TIMESTAMP_FALLBACKS),
                    "location": logs.timezone,
                }
            ),
            "the line's own time, not the time it was read",
        ),
    ]
    if logs.drop_debug:
        steps.append(
            Stage(
                "drop",
                _frozen({"source": "level", "expression": DEBUG_LEVELS, "drop_counter_reason": "debug_level"}),
                "debug and trace lines are not kept on this stack",
            )
        )
    steps += [
        Stage("labels", _frozen({"level": ""}), "level is the one label taken from the line"),
        Stage(
            "structured_metadata",
            _frozen({name: "" for name in STRUCTURED_METADATA}),
            "per-line ids and types, searchable without becoming labels",
        ),
        Stage(
            "limit",
            _frozen(
                {
                    "rate": limit.rate,
                    "burst": limit.burst,
                    "by_label_name": limit.by_label,
                    "max_distinct_labels": 10000,
                    "drop": limit.drop,
                }
            ),
            "per-stream rate limit",
        ),
        Stage("labelallow", _frozen({"values": list(LABEL_ALLOW_LIST)}), "the label allow-list"),
    ]
    return tuple(steps)


def log_pipeline(settings: StackSettings, platform: Platform | None = None) -> LogPipeline:
    return LogPipeline(sources(settings, platform), stages(settings))
