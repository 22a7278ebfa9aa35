"""Alerts and SLOs: what fires, how much error budget each SLO has left and how fast it burns."""

from __future__ import annotations

from typing import Any

from dashboards.common import (
    ANY_IS_BAD,
    Board,
    Query,
    bargauge_panel,
    env_variable,
    falling,
    label_variable,
    rising,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from settings.model import StackSettings

UID = "alerts-slos"
# The SLI windows recorded per SLO, short to long; burn rate is shown for the alerting pairs.
BURN_WINDOWS = ("5m", "1h", "6h", "3d")
# Multi-window burn-rate thresholds (Google SRE workbook): 14.4x pages (2% of a 30-day budget in
# 1 h), 6x pages slower (5% in 6 h).
PAGE_BURN_RATE = 14.4
SLOW_BURN_RATE = 6


def burn_rate(window: str) -> str:
    """How many times faster than sustainable the SLO spends its budget over `window`."""
    return (
        f'slo:sli_error:ratio_rate{window}{{slo=~"$slo", env=~"$env"}}'
        ' / on (slo) group_left () (1 - max by (slo) (slo:objective:ratio{slo=~"$slo"}))'
    )


def build(settings: StackSettings) -> dict[str, Any]:
    board = Board(
        settings,
        UID,
        "Firing and pending alerts, error budgets and burn rates of the stack's SLOs.",
        [
            env_variable(settings),
            label_variable("slo", "slo", "slo:objective:ratio", "", "SLO"),
            label_variable("severity", "severity", "ALERTS", 'alertstate="firing"', "Severity"),
        ],
    )
    board.row("Alerts")
    board.add(
        stat_panel(
            "Firing by severity",
            "Alerts firing now per severity, including the always-firing Watchdog (info).",
            [Query('count by (severity) (ALERTS{alertstate="firing", severity=~"$severity"})', "{{severity}}", instant=True)],
            "none",
        ),
        8,
        6,
    )
    board.add(
        table_panel(
            "Firing alerts",
            "Every firing alert with its labels.",
            [Query('ALERTS{alertstate="firing", severity=~"$severity"}')],
        ),
        16,
        6,
    )
    board.add(
        table_panel(
            "Pending alerts",
            "Alerts whose condition holds but whose `for` has not elapsed yet.",
            [Query('ALERTS{alertstate="pending", severity=~"$severity"}')],
            steps=ANY_IS_BAD,
            empty_when="no alert condition is building up",
        ),
        12,
        6,
    )
    board.add(
        timeseries_panel(
            "Alerts firing over time",
            "Firing alerts per alert name over the time range.",
            [Query('count by (alertname) (ALERTS{alertstate="firing", severity=~"$severity"})', "{{alertname}}")],
            "none",
        ),
        12,
        6,
    )
    board.row("SLOs")
    board.add(
        bargauge_panel(
            "Error budget remaining (30 d)",
            "Share of the 30-day error budget left: 1 - error ratio / (1 - objective). Below 0 the SLO is breached.",
            [Query('slo:error_budget_remaining:ratio{slo=~"$slo", env=~"$env"}', "{{slo}}", instant=True)],
            "percentunit",
            falling(0.5, 0.25),
            min_value=-1,
            max_value=1,
        ),
        12,
    )
    board.add(
        table_panel(
            "Objectives",
            "Each SLO's objective: the share of good events it promises over 30 days.",
            [Query('slo:objective:ratio{slo=~"$slo"}')],
            unit="percentunit",
        ),
        12,
    )
    board.add(
        timeseries_panel(
            "Burn rate (fast windows)",
            f"Error ratio divided by the allowed error ratio. Above {PAGE_BURN_RATE} over 1 h (and 5 m) pages: "
            "2% of the monthly budget is gone.",
            [Query(burn_rate(window), f"{{{{slo}}}} {window}") for window in BURN_WINDOWS[:2]],
            "short",
            rising(SLOW_BURN_RATE, PAGE_BURN_RATE),
            min_value=0,
        ),
        12,
    )
    board.add(
        timeseries_panel(
            "Burn rate (slow windows)",
            f"Error ratio divided by the allowed error ratio over 6 h and 3 d; above {SLOW_BURN_RATE} over 6 h pages.",
            [Query(burn_rate(window), f"{{{{slo}}}} {window}") for window in BURN_WINDOWS[2:]],
            "short",
            rising(1, SLOW_BURN_RATE),
            min_value=0,
        ),
        12,
    )
    board.add(
        timeseries_panel(
            "SLI error ratio (1 h)",
            "Share of bad events per SLO over the last hour.",
            [Query('slo:sli_error:ratio_rate1h{slo=~"$slo", env=~"$env"}', "{{slo}}")],
            "percentunit",
            min_value=0,
        ),
        24,
    )
    board.row("Notifications")
    board.add(
        timeseries_panel(
            "Notifications sent",
            "Notifications Alertmanager sent per second, per integration (Slack, PagerDuty, email, webhook).",
            [Query("sum by (integration) (rate(alertmanager_notifications_total[$__rate_interval]))", "{{integration}}")],
            "short",
        ),
        12,
    )
    board.add(
        timeseries_panel(
            "Notifications failed",
            "Notifications Alertmanager failed to deliver per second, per integration.",
            [
                Query(
                    "sum by (integration) (rate(alertmanager_notifications_failed_total[$__rate_interval])) > 0",
                    "{{integration}}",
                )
            ],
            "short",
            ANY_IS_BAD,
            empty_when="every notification is delivered",
        ),
        12,
    )
    return board.build()
