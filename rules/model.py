"""Rules as typed data: recording rules, alerts with their unit-test cases, and rule groups.

An alert's expression may hold `{threshold}`; the effective threshold (default or the stack's
override) is filled in when the rule is rendered, so an override changes the expression, the text
and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Mapping

from render.dashboard_catalog import DASHBOARD_TITLES

Severity = Literal["critical", "warning", "info"]

# Dashboards by their fixed uid: what an alert's dashboard_url may point at.
DASHBOARD_UIDS = tuple(DASHBOARD_TITLES)


def frozen(mapping: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Series:
    """One input series of a `promtool test rules` case, in promtool's expanding notation."""

    series: str
    values: str


@dataclass(frozen=True)
class AlertCase:
    """A unit-test case: with `series`, at `eval_time`, the alert fires with exactly `alerts`
    (each: its labels beyond severity/component, and its summary and description), or, with
    `alerts` empty, must not fire."""

    name: str
    series: tuple[Series, ...]
    eval_time: str
    alerts: tuple["ExpectedAlert", ...] = ()
    interval: str = "1m"

    @property
    def fires(self) -> bool:
        return bool(self.alerts)


@dataclass(frozen=True)
class ExpectedAlert:
    labels: Mapping[str, str]
    summary: str
    description: str


@dataclass(frozen=True)
class AlertRule:
    name: str
    expr: str
    severity: Severity
    summary: str
    description: str
    dashboard: str
    for_: str = "0s"
    threshold: float | None = None
    # How the threshold reads in summary/description, e.g. "{:.0%}" shows 0.9 as 90%.
    threshold_format: str = "{:g}"
    labels: Mapping[str, str] = field(default_factory=frozen)
    cases: tuple[AlertCase, ...] = ()

    def __post_init__(self) -> None:
        if self.dashboard not in DASHBOARD_UIDS:
            raise ValueError(f"{self.name}: unknown dashboard uid {self.dashboard!r}")
        if ("{threshold}" in self.expr) != (self.threshold is not None):
            raise ValueError(f"{self.name}: a threshold and a {{threshold}} in the expression go together")


@dataclass(frozen=True)
class RecordingRule:
    record: str
    expr: str
    labels: Mapping[str, str] = field(default_factory=frozen)

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"record": self.record, "expr": self.expr}
        if self.labels:
            doc["labels"] = dict(self.labels)
        return doc


@dataclass(frozen=True)
class RuleGroup:
    name: str
    rules: tuple[RecordingRule | AlertRule, ...]
    interval: str | None = None

    @property
    def alerts(self) -> tuple[AlertRule, ...]:
        return tuple(rule for rule in self.rules if isinstance(rule, AlertRule))

    @property
    def recordings(self) -> tuple[RecordingRule, ...]:
        return tuple(rule for rule in self.rules if isinstance(rule, RecordingRule))


@dataclass(frozen=True)
class RuleModule:
    """What one domain contributes: its groups, rendered to `<domain>.yml`, and its runbook page
    `docs/runbooks/<domain>.md`. Its alerts all carry `component=<component>`."""

    domain: str
    component: str
    groups: tuple[RuleGroup, ...]

    @property
    def alerts(self) -> tuple[AlertRule, ...]:
        return tuple(alert for group in self.groups for alert in group.alerts)
