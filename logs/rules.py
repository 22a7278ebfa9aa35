"""Log alerts and log-derived recording rules in LogQL, evaluated by Loki's ruler.

Alerts go to the stack's Alertmanager with the same annotations as the metric alerts (severity
label; summary, description, runbook_url and dashboard_url annotations); recording rules are remote-written to
Prometheus. Every selector is scoped to the stack's `env` label and every window and threshold
comes from `settings.logs.alerts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rules import dashboard_url
from settings.model import StackSettings

RUNBOOK_PAGE = "docs/runbooks/logs.md"
# Where a log alert's dashboard_url points, as every metric alert has one (the policy pack requires it).
LOGS_DASHBOARD = "logs"
COMPONENT = "logs"
# Levels at error or worse, as the pipeline writes them (lower case; syslog keywords included).
ERROR_LEVELS = "error|err|fatal|critical|crit|panic|emerg|alert"
OOM_PATTERN = r"(?i)(?:out of memory: killed process|oom-kill|oomkilled|memory cgroup out of memory)"
AUTH_FAILURE_PATTERN = (
    r"(?i)(?:authentication failed|authentication failure|invalid user|invalid password|invalid credentials"
    r'|failed password|login failed|unauthorized|" 401 )'
)


@dataclass(frozen=True)
class LogAlert:
    name: str
    expr: str
    severity: Literal["critical", "warning", "info"]
    summary: str
    description: str
    for_: str = "0s"


@dataclass(frozen=True)
class LogRecording:
    record: str
    expr: str


def stream(settings: StackSettings, *matchers: str) -> str:
    return "{" + ", ".join((f'env="{settings.environment}"', *matchers)) + "}"


def log_alerts(settings: StackSettings) -> tuple[LogAlert, ...]:
    limits = settings.logs.alerts
    window = limits.window
    errors = stream(settings, f'level=~"{ERROR_LEVELS}"')
    panics = stream(settings, 'level="panic"')
    everything = stream(settings)
    error_rate = f"sum by (service) (rate({errors}[{window}]))"
    return (
        LogAlert(
            name="LogErrorRateHigh",
            expr=(
                f"({error_rate} / sum by (service) (rate({everything}[{window}]))) > {limits.error_ratio:g}"
                f" and {error_rate} > {limits.min_error_lines_per_s:g}"
            ),
            for_=limits.error_for,
            severity="warning",
            summary="{{ $labels.service }} logs errors at a high rate.",
            description=(
                f"More than {limits.error_ratio:.0%} of the lines {{{{ $labels.service }}}} logged over {window} "
                f"are at error level or worse (and more than {limits.min_error_lines_per_s:g} per second), "
                f"for {limits.error_for}."
            ),
        ),
        LogAlert(
            name="LogPanicDetected",
            expr=f"sum by (service) (count_over_time({panics}[{window}])) > 0",
            severity="critical",
            summary="{{ $labels.service }} panicked.",
            description=f"{{{{ $labels.service }}}} logged {{{{ $value }}}} Go panic(s) in the last {window}.",
        ),
        LogAlert(
            name="LogOomKillDetected",
            expr=f"sum by (service) (count_over_time({everything} |~ `{OOM_PATTERN}` [{window}])) > 0",
            severity="critical",
            summary="A process was killed for running out of memory ({{ $labels.service }}).",
            description=(
                f"{{{{ $value }}}} out-of-memory kill message(s) in the last {window} "
                "from {{ $labels.service }} (kernel and container logs)."
            ),
        ),
        LogAlert(
            name="LogAuthFailuresRepeated",
            expr=(
                f"sum by (service) (count_over_time({everything} |~ `{AUTH_FAILURE_PATTERN}` [{window}]))"
                f" > {limits.auth_failures}"
            ),
            severity="warning",
            summary="Repeated authentication failures at {{ $labels.service }}.",
            description=(
                f"{{{{ $value }}}} authentication failures logged by {{{{ $labels.service }}}} in the last {window} "
                f"(threshold {limits.auth_failures})."
            ),
        ),
    )


def log_recordings(settings: StackSettings) -> tuple[LogRecording, ...]:
    window = settings.logs.alerts.window
    everything = stream(settings)
    errors = stream(settings, f'level=~"{ERROR_LEVELS}"')
    return (
        LogRecording(f"service_level:log_lines:rate{window}", f"sum by (service, level) (rate({everything}[{window}]))"),
        LogRecording(
            f"service:log_errors:rate{window}",
            f"sum by (service) (rate({errors}[{window}]))",
        ),
        LogRecording(f"service:log_bytes:rate{window}", f"sum by (service) (bytes_rate({everything}[{window}]))"),
    )


def runbook_url(settings: StackSettings, alert: str) -> str:
    base = settings.alerting.runbook_base_url
    path = f"{RUNBOOK_PAGE}#{alert.lower()}"
    return f"{base}/{path}" if base else path


def alert_document(settings: StackSettings, alert: LogAlert) -> dict[str, Any]:
    document: dict[str, Any] = {
        "alert": alert.name,
        "expr": alert.expr,
        "labels": {"severity": alert.severity, "component": COMPONENT},
        "annotations": {
            "summary": alert.summary,
            "description": alert.description,
            "runbook_url": runbook_url(settings, alert.name),
            "dashboard_url": dashboard_url(settings, LOGS_DASHBOARD),
        },
    }
    if alert.for_ != "0s":
        document["for"] = alert.for_
    return document


def render_log_rule_file(settings: StackSettings) -> dict[str, Any]:
    return {
        "groups": [
            {
                "name": "logs-recording",
                "interval": "1m",
                "rules": [
                    {"record": rule.record, "expr": rule.expr, "labels": {"env": settings.environment}}
                    for rule in log_recordings(settings)
                ],
            },
            {
                "name": "logs-alerts",
                "interval": "1m",
                "rules": [alert_document(settings, alert) for alert in log_alerts(settings)],
            },
        ]
    }
