"""Stack overview: is every service and target up, what is firing, how much is flowing in."""

from __future__ import annotations

from typing import Any

from dashboards.common import (
    ANY_IS_BAD,
    UP_DOWN,
    Board,
    Query,
    env_variable,
    rising,
    source_variable,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from settings.model import StackSettings
from settings.types import duration_seconds

UID = "stack-overview"
UP_MAPPINGS = (("0", "DOWN", "red"), ("1", "UP", "green"))


def build(settings: StackSettings) -> dict[str, Any]:
    timeout = duration_seconds(settings.prometheus.scrape_timeout)
    board = Board(
        settings,
        UID,
        "Health of every service of the stack and every exporter target, firing alerts and ingestion rates.",
        [env_variable(settings), source_variable()],
    )
    board.row("Services and targets")
    board.add(
        stat_panel(
            "Stack services",
            "Whether Prometheus scraped each service of the stack (Prometheus, Alertmanager, Grafana, Loki and its log collector, Alloy or Promtail) at its last attempt.",
            [Query('up{service!=""}', "{{service}}", instant=True)],
            "none",
            UP_DOWN,
            mappings=UP_MAPPINGS,
        ),
        12,
        5,
    )
    board.add(
        stat_panel(
            "Exporter targets up",
            "Targets up per exporter and source (mock or real).",
            [Query('exporter_source:up:sum{env=~"$env", source=~"$source"}', "{{exporter}} ({{source}})", instant=True)],
            "none",
            UP_DOWN,
        ),
        12,
        5,
    )
    board.add(
        table_panel(
            "Targets down",
            "Every scrape target, stack service or exporter, that failed its last scrape.",
            [Query('up{service!=""} == 0 or up{exporter!="", env=~"$env", source=~"$source"} == 0')],
            steps=ANY_IS_BAD,
            empty_when="every target is up",
        ),
        24,
        6,
    )
    board.row("Alerts")
    board.add(
        stat_panel(
            "Firing alerts",
            "Alerts firing now by severity, not counting the always-firing Watchdog heartbeat.",
            [
                Query(
                    'sum by (severity) (ALERTS{alertstate="firing", alertname!="Watchdog"}) or on () vector(0)',
                    "{{severity}}",
                    instant=True,
                )
            ],
            "none",
            ANY_IS_BAD,
        ),
        6,
        7,
    )
    board.add(
        table_panel(
            "Alerts firing now",
            "Every firing alert with its labels. Watchdog always fires: its absence means the alerting pipeline is broken.",
            [Query('ALERTS{alertstate="firing"}')],
        ),
        18,
        7,
    )
    board.row("Ingestion")
    board.add(
        timeseries_panel(
            "Samples ingested",
            "Samples appended to Prometheus's head block per second.",
            [Query("sum(rate(prometheus_tsdb_head_samples_appended_total[$__rate_interval]))", "samples/s")],
            "short",
        ),
        8,
    )
    board.add(
        timeseries_panel(
            "Samples scraped per exporter",
            "Samples per scrape, summed per exporter and source: a mock and its real exporter should be close.",
            [Query('exporter_source:scrape_samples_scraped:sum{env=~"$env", source=~"$source"}', "{{exporter}} ({{source}})")],
            "short",
        ),
        8,
    )
    board.add(
        timeseries_panel(
            "Log lines received",
            "Log lines Loki's distributor accepted per second.",
            [Query("sum(rate(loki_distributor_lines_received_total[$__rate_interval]))", "lines/s")],
            "short",
        ),
        8,
    )
    board.add(
        timeseries_panel(
            "Scrape duration (slowest target per job)",
            "Longest scrape per job; approaching the scrape timeout means the target is too slow.",
            [Query("max by (job) (scrape_duration_seconds)", "{{job}}")],
            "s",
            rising(timeout / 2, timeout),
        ),
        24,
    )
    return board.build()
