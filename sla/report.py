"""The monthly SLA report: per service and objective the achievement over the calendar month
(maintenance left out), the share of the month's error budget used, and the incidents from the
alert history.

Exact to the second: the month up to "now" is cut into the spans outside the maintenance windows,
each objective's `good` and `total` are counted over each span by an instant query at the span's
end with the span's length as `$window`, and the counts are added. Incidents are the runs of the
`SlaServiceOutage` and `SlaServiceDegraded` alerts in Prometheus' own `ALERTS` series, per alert: a
run starts at its first sample (pending or firing: when the condition began), ends one evaluation
interval after its last (when it was found resolved), and counts only if it fired.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from rules.sla import INCIDENT_ALERTS, fill
from settings.model import StackSettings
from settings.sla import SlaObjective, SlaService
from settings.types import duration_seconds
from sla.period import Span, counted, month
from sla.prometheus import Prometheus

FORMATS = ("md", "csv", "json")


@dataclass(frozen=True)
class ObjectiveResult:
    objective: str
    target: float
    good: float | None
    total: float | None
    achieved: float | None  # None: no events in the period
    budget_used: float | None  # share of the period's error budget: 1.0 is all of it
    met: bool | None


@dataclass(frozen=True)
class Incident:
    kind: str  # outage or degraded
    start: datetime
    end: datetime
    ongoing: bool

    @property
    def duration_seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


@dataclass(frozen=True)
class ServiceReport:
    name: str
    description: str
    public: bool
    objectives: tuple[ObjectiveResult, ...]
    incidents: tuple[Incident, ...]
    excluded_seconds: int


@dataclass(frozen=True)
class Report:
    stack: str
    period: str
    start: datetime
    end: datetime  # the period's end, or "now" for the month in progress
    complete: bool
    services: tuple[ServiceReport, ...]


def count(prometheus: Prometheus, query: str, spans: tuple[Span, ...]) -> float | None:
    """The events `query` counts over every span, added (None when no span has any series)."""
    values = [prometheus.scalar(fill(query, f"{span.seconds}s"), span.end) for span in spans]
    found = [value for value in values if value is not None]
    return sum(found) if found else None


def objective_result(prometheus: Prometheus, name: str, objective: SlaObjective, spans: tuple[Span, ...]) -> ObjectiveResult:
    good, total = count(prometheus, objective.good, spans), count(prometheus, objective.total, spans)
    if not total or good is None:
        return ObjectiveResult(name, objective.objective, good, total, None, None, None)
    achieved = good / total
    used = (1 - achieved) / (1 - objective.objective)
    return ObjectiveResult(name, objective.objective, good, total, achieved, used, achieved >= objective.objective)


def incidents(prometheus: Prometheus, service: SlaService, window: Span, interval: float) -> tuple[Incident, ...]:
    """Each run of either alert is one incident of its kind (a degradation that turns into an
    outage is two: the degraded one, and the outage within it)."""
    names = "|".join(INCIDENT_ALERTS)
    query = f'ALERTS{{alertname=~"{names}",sla="{service.name}"}}[{window.seconds}s]'
    # Per alert name: (timestamp, firing?) of every sample of its pending and firing series.
    points: dict[str, list[tuple[float, bool]]] = {}
    for labels, values in prometheus.samples(query, window.end):
        points.setdefault(labels["alertname"], []).extend(
            (t, labels.get("alertstate") == "firing") for t, _ in values
            if window.start.timestamp() <= t <= window.end.timestamp()
        )
    found = []
    for name, samples in points.items():
        runs: list[list[tuple[float, bool]]] = []
        for point in sorted(samples):
            # A gap of more than two evaluations ends a run (one missed evaluation does not).
            if runs and point[0] - runs[-1][-1][0] <= 2 * interval:
                runs[-1].append(point)
            else:
                runs.append([point])
        for run in runs:
            if not any(firing for _, firing in run):
                continue  # pending only: the condition did not last the alert's `for`
            resolved = run[-1][0] + interval
            ongoing = resolved > window.end.timestamp()
            end = window.end if ongoing else datetime.fromtimestamp(resolved, timezone.utc)
            found.append(Incident(INCIDENT_ALERTS[name], datetime.fromtimestamp(run[0][0], timezone.utc), end, ongoing))
    return tuple(sorted(found, key=lambda incident: (incident.start, incident.kind)))


def build_report(settings: StackSettings, stack: str, period: str, prometheus: Prometheus, now: datetime) -> Report:
    span = month(period)
    if now <= span.start:
        raise ValueError(f"period {period} has not begun (now is {now.isoformat()})")
    end = min(span.end, now.replace(microsecond=0))
    interval = duration_seconds(settings.prometheus.evaluation_interval)
    services = []
    for service in settings.sla.services:
        maintenance = tuple(Span(w.start, w.end) for w in service.maintenance)
        spans = counted(span, now, maintenance)
        results = tuple(objective_result(prometheus, name, objective, spans) for name, objective in service.objectives().items())
        services.append(
            ServiceReport(
                name=service.name,
                description=service.description,
                public=service.public,
                objectives=results,
                incidents=incidents(prometheus, service, Span(span.start, end), interval),
                excluded_seconds=Span(span.start, end).seconds - sum(s.seconds for s in spans),
            )
        )
    return Report(stack, period, span.start, end, end == span.end, tuple(services))


# --- Formats -----------------------------------------------------------------------------------


def _percent(value: float | None, digits: int = 4) -> str:
    return "no data" if value is None else f"{100 * value:.{digits}f} %"


def _duration(seconds: int) -> str:
    return str(timedelta(seconds=seconds))


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def as_dict(report: Report) -> dict[str, Any]:
    return {
        "stack": report.stack,
        "period": report.period,
        "from": _time(report.start),
        "to": _time(report.end),
        "complete": report.complete,
        "services": [
            {
                "name": s.name,
                "description": s.description,
                "public": s.public,
                "excluded_seconds": s.excluded_seconds,
                "objectives": [asdict(o) for o in s.objectives],
                "incidents": [
                    {"kind": i.kind, "start": _time(i.start), "end": _time(i.end), "ongoing": i.ongoing,
                     "duration_seconds": i.duration_seconds}
                    for i in s.incidents
                ],
            }
            for s in report.services
        ],
    }


def as_markdown(report: Report) -> str:
    state = "" if report.complete else f" (month to date, up to {_time(report.end)})"
    lines = [f"# SLA report {report.period} — {report.stack}{state}", ""]
    for s in report.services:
        lines += [f"## {s.name}", "", s.description, ""]
        if s.excluded_seconds:
            lines += [f"Maintenance left out: {_duration(s.excluded_seconds)}.", ""]
        lines += ["| objective | target | achieved | budget used | met |", "|---|---|---|---|---|"]
        for o in s.objectives:
            met = "no data" if o.met is None else ("yes" if o.met else "**no**")
            used = "no data" if o.budget_used is None else f"{100 * o.budget_used:.1f} %"
            lines.append(f"| {o.objective} | {_percent(o.target, 2)} | {_percent(o.achieved)} | {used} | {met} |")
        lines.append("")
        if s.incidents:
            lines += ["| incident | start | end | duration |", "|---|---|---|---|"]
            for i in s.incidents:
                end = f"{_time(i.end)} (continues after)" if i.ongoing else _time(i.end)
                lines.append(f"| {i.kind} | {_time(i.start)} | {end} | {_duration(i.duration_seconds)} |")
        else:
            lines.append("No incidents.")
        lines.append("")
    return "\n".join(lines)


CSV_COLUMNS = ("record", "service", "objective", "target", "achieved", "budget_used", "met", "kind", "start", "end", "duration_seconds")


def as_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for s in report.services:
        for o in s.objectives:
            writer.writerow({"record": "objective", "service": s.name, "objective": o.objective, "target": o.target,
                             "achieved": "" if o.achieved is None else f"{o.achieved:.8f}",
                             "budget_used": "" if o.budget_used is None else f"{o.budget_used:.6f}",
                             "met": "" if o.met is None else str(o.met).lower()})
        for i in s.incidents:
            writer.writerow({"record": "incident", "service": s.name, "kind": i.kind, "start": _time(i.start),
                             "end": _time(i.end), "duration_seconds": i.duration_seconds})
    return out.getvalue()


def render(report: Report, form: str) -> str:
    if form == "json":
        return json.dumps(as_dict(report), indent=2, sort_keys=True) + "\n"
    if form == "csv":
        return as_csv(report)
    return as_markdown(report)
