"""SLOs as settings, turned into error-ratio recordings for every window, the objective, the error
budget left, and multi-window multi-burn-rate alerts (Google SRE workbook, chapter 5):

- page (critical): 14.4x burn over 1h confirmed by 5m, or 6x over 6h confirmed by 30m;
- ticket (warning): 3x over 1d confirmed by 2h, or 1x over 3d confirmed by 6h.
The budget is over 30 days; the slow windows evaluate at `alerting.slo_long_interval`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.common import RuleContext, pascal, sel
from rules.model import AlertCase, AlertRule, ExpectedAlert, RecordingRule, RuleGroup, RuleModule, Series
from rules.text import VALUE_PCT, label
from settings.alerting import DEFAULT_SLOS, WINDOW_PLACEHOLDER, SloSettings
from settings.types import duration_seconds

BUDGET_WINDOW = "30d"


@dataclass(frozen=True)
class BurnRate:
    factor: float
    long: str
    short: str


@dataclass(frozen=True)
class SloConfig:
    # `{name}` is the SLO name; every SLO series carries slo="<name>".
    selector: str = 'slo="{name}"'
    page: tuple[BurnRate, ...] = (BurnRate(14.4, "1h", "5m"), BurnRate(6, "6h", "30m"))
    ticket: tuple[BurnRate, ...] = (BurnRate(3, "1d", "2h"), BurnRate(1, "3d", "6h"))
    page_for: str = "2m"
    ticket_for: str = "15m"
    # Windows at or above this evaluate in the slow group.
    long_from: str = "1d"

    def windows(self) -> tuple[str, ...]:
        used = {w for rate in self.page + self.ticket for w in (rate.long, rate.short)} | {BUDGET_WINDOW}
        return tuple(sorted(used, key=duration_seconds))


CONFIG = SloConfig()


def error_ratio(slo: SloSettings, window: str) -> str:
    def fill(query: str) -> str:
        return query.replace(WINDOW_PLACEHOLDER, window)

    if slo.bad is not None:
        return f"({fill(slo.bad)}) / ({fill(slo.total)})"
    return f"1 - ({fill(slo.good)}) / ({fill(slo.total)})"


def _record(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


def _burn_condition(rates: tuple[BurnRate, ...], slo: SloSettings, selector: str) -> str:
    budget = 1 - slo.objective
    return " or ".join(
        f"({_record(r.long)}{selector} > {r.factor * budget:.6g} and {_record(r.short)}{selector} > {r.factor * budget:.6g})"
        for r in rates
    )


def _days(rate: BurnRate) -> str:
    return f"{duration_seconds(BUDGET_WINDOW) / rate.factor / 86400:.3g} days"


# Test data for the default SLOs: a series that breaks the objective throughout, one that meets it.
# Each: breaking series, meeting series, the SLI's labels, and the error ratio the alert shows.
_DEFAULT_CASES: dict[str, tuple[tuple[Series, ...], tuple[Series, ...], dict[str, str], str]] = {
    "stack-availability": (
        (Series('up{env="test",job="prometheus",service="prometheus",instance="p:9090"}', "0x200"),),
        (Series('up{env="test",job="prometheus",service="prometheus",instance="p:9090"}', "1x200"),),
        {"env": "test"},
        "100%",
    ),
    "llm-ttft": (
        (
            Series('vllm:time_to_first_token_seconds_bucket{env="test",exporter="vllm",source="mock",le="1.0"}', "0+5x200"),
            Series('vllm:time_to_first_token_seconds_count{env="test",exporter="vllm",source="mock"}', "0+10x200"),
        ),
        (
            Series('vllm:time_to_first_token_seconds_bucket{env="test",exporter="vllm",source="mock",le="1.0"}', "0+10x200"),
            Series('vllm:time_to_first_token_seconds_count{env="test",exporter="vllm",source="mock"}', "0+10x200"),
        ),
        {"env": "test", "source": "mock"},
        "50%",
    ),
}


def _cases(slo: SloSettings, summary: str, description: str) -> tuple[AlertCase, ...]:
    default = next((d for d in DEFAULT_SLOS if d.name == slo.name), None)
    if default is None or default != slo or slo.name not in _DEFAULT_CASES:
        return ()
    bad, good, labels, value = _DEFAULT_CASES[slo.name]
    expected = {**labels, "slo": slo.name}
    for name, shown in labels.items():
        summary = summary.replace(label(name), shown)
    summary = summary.replace(VALUE_PCT, value)
    return (
        AlertCase("objective broken", bad, "180m", (ExpectedAlert(expected, summary, description),)),
        AlertCase("objective met", good, "180m"),
    )


def slo_alerts(slo: SloSettings, c: SloConfig) -> tuple[AlertRule, ...]:
    s = sel(c.selector.format(name=slo.name))
    prefix = f"Slo{pascal(slo.name)}ErrorBudgetBurn"
    where = " ".join(label(name) for name in slo.labels)
    alerts = []
    for kind, rates, severity, for_ in (("Fast", c.page, "critical", c.page_for), ("Slow", c.ticket, "warning", c.ticket_for)):
        shown = " or ".join(f"{r.factor:g}x over {r.long} and {r.short}" for r in rates)
        horizon = " to ".join(_days(r) for r in rates)
        summary = f"SLO {slo.name} ({where}) burns its error budget {'fast' if kind == 'Fast' else 'steadily'}: {VALUE_PCT} errors."
        description = (
            f"{slo.description} Objective {slo.objective:.4g} over {BUDGET_WINDOW}; the error ratio runs at {shown} the "
            f"budgeted rate, which exhausts the budget in {horizon}."
        )
        alerts.append(
            AlertRule(
                name=prefix + kind,
                expr=_burn_condition(rates, slo, s),
                for_=for_,
                severity=severity,
                labels={"slo": slo.name},
                summary=summary,
                description=description,
                dashboard="alerts-slos",
                cases=_cases(slo, summary, description),
            )
        )
    return tuple(alerts)


def slo_groups(slo: SloSettings, ctx: RuleContext, c: SloConfig) -> tuple[RuleGroup, ...]:
    labels = {"slo": slo.name}
    s = sel(c.selector.format(name=slo.name))
    long_from = duration_seconds(c.long_from)
    fast = tuple(RecordingRule(_record(w), error_ratio(slo, w), labels) for w in c.windows() if duration_seconds(w) < long_from)
    slow = tuple(RecordingRule(_record(w), error_ratio(slo, w), labels) for w in c.windows() if duration_seconds(w) >= long_from)
    objective = RecordingRule("slo:objective:ratio", f"vector({slo.objective:.6g})", labels)
    remaining = RecordingRule(
        "slo:error_budget_remaining:ratio",
        f"1 - {_record(BUDGET_WINDOW)}{s} / on (slo) group_left () (1 - slo:objective:ratio{s})",
        labels,
    )
    return (
        RuleGroup(f"slo.{slo.name}", (*fast, objective, *slo_alerts(slo, c))),
        RuleGroup(f"slo.{slo.name}.long", (*slow, remaining), interval=ctx.slo_long_interval),
    )


def build(ctx: RuleContext, config: SloConfig = CONFIG) -> RuleModule | None:
    if not ctx.slos:
        return None
    groups = tuple(group for slo in ctx.slos for group in slo_groups(slo, ctx, config))
    return RuleModule(domain="slo", component="slo", groups=groups)
