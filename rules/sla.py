"""SLAs from settings (`sla.services`): hourly event counts, the month-to-date achievement and budget,
the state the status page shows, and the violation alerts.

Calendar months do not fit a PromQL range, so the month to date is summed from recorded hourly
counts over a `[31d:1h]` subquery, keeping only the steps of the evaluation's own month: a 31-day
reach spans at most three calendar months, which `month % 3` tells apart, so three masked sums
cover every case (each step is stamped with the month of the hour it closes, `time() - 1`).
Hours that close inside a maintenance window are left out. This is hourly-exact, enough for alerts;
the report (`python -m sla report`) computes the month to the second.

State per SLA (0 operational, 1 degraded, 2 outage) over `sla.state_window`: outage below
`sla.outage_below` availability, degraded when any objective is missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rules.common import RuleContext
from rules.model import AlertCase, AlertRule, ExpectedAlert, RecordingRule, RuleGroup, RuleModule, Series
from rules.text import VALUE_PCT, label
from settings.alerting import WINDOW_PLACEHOLDER
from settings.sla import DEFAULT_SLAS, SlaObjective, SlaService, SlaSettings

# Calendar facts, not tunables: the hourly counts the month is summed from, and how far back a
# month to date can reach.
HOUR = "1h"
MONTH_REACH = "31d"

GOOD = "sla:sli_good:sum1h"
TOTAL = "sla:sli_total:sum1h"
RATIO_STATE = "sla:sli:ratio_state_window"
RATIO_BURN = "sla:sli:ratio_burn_window"
RATIO_MONTH = "sla:sli:ratio_month_to_date"
MAINTENANCE = "sla:maintenance:active"
ELAPSED = "sla:period_elapsed:ratio"
BUDGET_USED = "sla:error_budget_used:ratio_month_to_date"
BUDGET_PROJECTED = "sla:error_budget_used:ratio_month_projected"
STATE = "sla:status:state"

OPERATIONAL, DEGRADED, OUTAGE = 0, 1, 2
STATES = {OPERATIONAL: "operational", DEGRADED: "degraded", OUTAGE: "outage"}

# Alerts whose runs are the incidents the report lists, with the kind of incident each is.
INCIDENT_ALERTS = {"SlaServiceOutage": STATES[OUTAGE], "SlaServiceDegraded": STATES[DEGRADED]}


@dataclass(frozen=True)
class SlaConfig:
    outage_for: str = "1m"
    degraded_for: str = "5m"
    exhausted_for: str = "5m"
    at_risk_for: str = "15m"


CONFIG = SlaConfig()


def fill(query: str, window: str) -> str:
    return query.replace(WINDOW_PLACEHOLDER, window)


def one_series(query: str) -> str:
    """The query summed into one series per SLA (left as it is when it already is a plain `sum(...)`)."""
    import promql_parser

    parsed = promql_parser.parse(query)
    plain_sum = type(parsed).__name__ == "AggregateExpr" and str(parsed.op) == "sum" and parsed.modifier is None
    return query if plain_sum else f"sum({query})"


def _count(query: str, window: str) -> str:
    return one_series(fill(query, window))


def _ratio(objective: SlaObjective, window: str) -> str:
    return f"{_count(objective.good, window)} / {_count(objective.total, window)}"


def _at(service: SlaService, objective: str | None = None) -> str:
    parts = [f'sla="{service.name}"'] + ([f'objective="{objective}"'] if objective else [])
    return "{" + ",".join(parts) + "}"


def _epoch(moment: datetime) -> str:
    return f"{moment.timestamp():.0f}"


def maintenance_expr(service: SlaService) -> str:
    """1 inside one of the service's maintenance windows, else 0."""
    inside = " or ".join(
        f"(vector(time()) >= {_epoch(w.start)} and vector(time()) < {_epoch(w.end)})" for w in service.maintenance
    )
    return f"(vector(1) and ({inside})) or vector(0)" if inside else "vector(0)"


def month_to_date(series: str, service: SlaService) -> str:
    """The sum of an hourly series over the current calendar month (UTC), hours in maintenance left out."""
    counted = f"({series} unless on (sla) ({MAINTENANCE}{_at(service)} == 1))"
    parts = []
    for residue in range(3):
        in_month = f"(month(vector(time() - 1)) % 3 == {residue})"
        parts.append(f"(sum_over_time(({counted} and on () {in_month})[{MONTH_REACH}:{HOUR}]) and on () {in_month})")
    return " or ".join(parts)


def elapsed_expr() -> str:
    return "(day_of_month() - 1 + hour() / 24 + minute() / 1440) / days_in_month()"


def state_expr(service: SlaService, settings: SlaSettings) -> str:
    availability = f"{RATIO_STATE}{_at(service, 'availability')}"
    availability_state = (
        f"({availability} < bool {service.availability.objective:.6g}) + ({availability} < bool {settings.outage_below:.6g})"
    )
    parts = [availability_state]
    if service.latency is not None:
        parts.append(f"({RATIO_STATE}{_at(service, 'latency')} < bool {service.latency.objective:.6g})")
    return "max by (sla) (" + " or ".join(f"({part})" for part in parts) + ")"


def budget_used_expr(service: SlaService, name: str, objective: SlaObjective) -> str:
    at = _at(service, name)
    return f"(1 - {RATIO_MONTH}{at}) * on () group_left () {ELAPSED} / {1 - objective.objective:.6g}"


def budget_projected_expr(service: SlaService, name: str, objective: SlaObjective) -> str:
    at = _at(service, name)
    return (
        f"{BUDGET_USED}{at} + (1 - {RATIO_BURN}{at}) * on () group_left () (1 - {ELAPSED}) / {1 - objective.objective:.6g}"
    )


def service_groups(service: SlaService, settings: SlaSettings, long_interval: str) -> tuple[RuleGroup, ...]:
    labels = {"sla": service.name}
    fast: list[RecordingRule] = [RecordingRule(MAINTENANCE, maintenance_expr(service), labels)]
    slow: list[RecordingRule] = []
    for name, objective in service.objectives().items():
        tagged = {**labels, "objective": name}
        fast += [
            RecordingRule(GOOD, _count(objective.good, HOUR), tagged),
            RecordingRule(TOTAL, _count(objective.total, HOUR), tagged),
            RecordingRule(RATIO_STATE, _ratio(objective, settings.state_window), tagged),
        ]
        at = _at(service, name)
        slow += [
            RecordingRule(RATIO_BURN, _ratio(objective, settings.burn_window), tagged),
            RecordingRule(
                RATIO_MONTH, f"({month_to_date(GOOD + at, service)}) / ({month_to_date(TOTAL + at, service)})", tagged
            ),
            RecordingRule(BUDGET_USED, budget_used_expr(service, name, objective), tagged),
            RecordingRule(BUDGET_PROJECTED, budget_projected_expr(service, name, objective), tagged),
        ]
    fast.append(RecordingRule(STATE, state_expr(service, settings), labels))
    return (
        RuleGroup(f"sla.{service.name}", tuple(fast)),
        RuleGroup(f"sla.{service.name}.month", tuple(slow), interval=long_interval),
    )


# --- Alerts, over every SLA at once (the `sla` label tells them apart) ------------------------

_UP = 'up{env="test",exporter="vllm",source="mock",job="vllm-mock",instance="vllm:8000"}'
_TTFT_GOOD = 'vllm:time_to_first_token_seconds_bucket{env="test",exporter="vllm",source="mock",le="1.0"}'
_TTFT_COUNT = 'vllm:time_to_first_token_seconds_count{env="test",exporter="vllm",source="mock"}'
_FAST_TTFT = (Series(_TTFT_GOOD, "0+100x400"), Series(_TTFT_COUNT, "0+100x400"))
_SLOW_TTFT = (Series(_TTFT_GOOD, "0+50x400"), Series(_TTFT_COUNT, "0+100x400"))


def _cases(ctx: RuleContext, alert: str, summary: str, description: str, labels: dict[str, str]) -> tuple[AlertCase, ...]:
    """promtool cases for the default SLA and windows only (the input series are llm-api's)."""
    if ctx.sla != SlaSettings(services=DEFAULT_SLAS):
        return ()
    shown = {"sla": "llm-api", **labels}
    text = summary
    for name, value in shown.items():
        text = text.replace(label(name), value)
    healthy = (Series(_UP, "1x400"), *_FAST_TTFT)
    # Each case: the series that make it fire, when, and the value its summary shows.
    firing = {
        "SlaServiceOutage": ((Series(_UP, "0x400"), *_FAST_TTFT), "20m", "0%"),
        "SlaServiceDegraded": ((Series(_UP, "1x400"), *_SLOW_TTFT), "20m", "50%"),
        # Down since January began: after 4 hours the month's budget (44.6 minutes) is gone.
        "SlaErrorBudgetExhausted": ((Series(_UP, "0x400"), *_FAST_TTFT), "4h", "0%"),
        # 31 of 301 minutes down: within budget so far, but that burn for the rest of the month
        # would use it up. (The 6h window holds every sample under both range semantics.)
        "SlaErrorBudgetAtRisk": ((Series(_UP, "1x120 0x30 1x200"), *_FAST_TTFT), "5h", "89.7%"),
    }[alert]
    series, at, value = firing
    text = text.replace(VALUE_PCT, value)
    return (
        AlertCase("broken", series, at, (ExpectedAlert(shown, text, description),)),
        AlertCase("met", healthy, at),
    )


def alerts(ctx: RuleContext, c: SlaConfig) -> tuple[AlertRule, ...]:
    sla, objective = label("sla"), label("objective")
    in_maintenance = f"unless on (sla) ({MAINTENANCE} == 1)"
    specs = (
        (
            "SlaServiceOutage", "critical", c.outage_for, f"{STATE} == {OUTAGE} {in_maintenance}", {},
            f"SLA service {sla} is down: its status page shows an outage.",
            "Availability over the state window is below sla.outage_below; customers see an outage on the status page.",
        ),
        (
            "SlaServiceDegraded", "warning", c.degraded_for, f"{STATE} == {DEGRADED} {in_maintenance}", {},
            f"SLA service {sla} is degraded: its status page shows it.",
            "An availability or latency objective is missed over the state window; customers see the service degraded.",
        ),
        (
            "SlaErrorBudgetExhausted", "critical", c.exhausted_for, f"{RATIO_MONTH} and on (sla, objective) ({BUDGET_USED} >= 1)",
            {"objective": objective},
            f"SLA {sla} has used this month's {objective} budget: {VALUE_PCT} achieved.",
            "The month's error budget is gone: the SLA is breached for this month whatever happens next.",
        ),
        (
            "SlaErrorBudgetAtRisk", "warning", c.at_risk_for,
            f"{RATIO_BURN} and on (sla, objective) ({BUDGET_PROJECTED} >= 1) unless on (sla, objective) ({BUDGET_USED} >= 1)",
            {"objective": objective},
            f"SLA {sla} will use this month's {objective} budget before the month ends: {VALUE_PCT} over the burn window.",
            "The budget is not gone yet, but the error ratio of the burn window, if it lasts, exhausts it before the month ends.",
        ),
    )
    built = []
    for name, severity, for_, expr, extra, summary, description in specs:
        built.append(
            AlertRule(
                name=name, expr=expr, for_=for_, severity=severity, summary=summary, description=description,
                dashboard="alerts-slos",
                # The budget cases break the availability objective; its label shows in the summary.
                cases=_cases(ctx, name, summary, description, {label: "availability" for label in extra}),
            )
        )
    return tuple(built)


def build(ctx: RuleContext, config: SlaConfig = CONFIG) -> RuleModule | None:
    if ctx.sla is None or not ctx.sla.services:
        return None
    groups = tuple(group for service in ctx.sla.services for group in service_groups(service, ctx.sla, ctx.slo_long_interval))
    shared = RuleGroup("sla.period", (RecordingRule(ELAPSED, elapsed_expr()),))
    return RuleModule(domain="sla", component="sla", groups=(shared, *groups, RuleGroup("sla.alerts", alerts(ctx, config))))
