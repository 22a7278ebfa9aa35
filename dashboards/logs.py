"""Logs (Loki): volume by service and level, error lines, and a live search over the stack's logs.

Streams carry the bounded label set of the log pipeline (`logs.pipeline.LABEL_ALLOW_LIST`): `env`,
`service`, `container`, `stream` and `level`, the one label the pipeline takes from each line (JSON,
logfmt or plain text), lower-cased. Panels select by these labels, so they hold for either collector.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as models

from dashboards.common import (
    ANY_IS_BAD,
    LOKI_UID,
    Board,
    Query,
    datasource_ref,
    env_variable,
    logs_panel,
    loki_timeseries_panel,
    timeseries_panel,
)
from settings.model import StackSettings

UID = "logs"
STREAMS = '{env=~"$env", service=~"$service"}'
# The pipeline's level words that mean a failure (it lower-cases them; Go panics are `panic`).
ERROR_LEVELS = "error|err|fatal|critical|crit|panic"
ERROR_STREAMS = f'{{env=~"$env", service=~"$service", level=~"{ERROR_LEVELS}"}}'


def service_variable() -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable("service")
        .label("Service")
        .datasource(datasource_ref(LOKI_UID))
        .query('label_values({env=~"$env"}, service)')
        .current(models.VariableOption(text="All", value="$__all", selected=True))
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".+")
    )


def search_variable() -> dashboard.TextBoxVariable:
    return (
        dashboard.TextBoxVariable("search")
        .label("Search (regex)")
        .description("RE2 regular expression the live search matches lines against.")
        .default_value("")
    )


def build(settings: StackSettings) -> dict[str, Any]:
    board = Board(
        settings,
        UID,
        "Log volume, levels and errors of every container the log collector (Alloy or Promtail) ships to Loki, with a live search.",
        [env_variable(settings, LOKI_UID), service_variable(), search_variable()],
    )
    board.row("Volume")
    board.add(
        loki_timeseries_panel(
            "Log volume by service",
            "Lines per service in each interval.",
            [Query(f"sum by (service) (count_over_time({STREAMS} [$__auto]))", "{{service}}")],
            "short",
        ),
        12,
    )
    board.add(
        loki_timeseries_panel(
            "Log volume by level",
            "Lines per level (error, warn, info, ...) in each interval; lines without a recognisable level have none.",
            [Query(f"sum by (level) (count_over_time({STREAMS} [$__auto]))", "{{level}}")],
            "short",
        ),
        12,
    )
    board.row("Errors")
    board.add(
        loki_timeseries_panel(
            "Error lines by service",
            "Lines at an error level (error, fatal, critical, panic) per service in each interval.",
            [Query(f"sum by (service) (count_over_time({ERROR_STREAMS} [$__auto]))", "{{service}}")],
            "short",
            ANY_IS_BAD,
            empty_when="no service logs an error",
        ),
        12,
    )
    board.add(
        logs_panel(
            "Error lines",
            "The latest error-level lines of the selected services.",
            ERROR_STREAMS,
            empty_when="no service logs an error",
        ),
        12,
    )
    board.row("Search")
    board.add(
        logs_panel(
            "Live search",
            "Lines of the selected services matching the Search variable (all lines when it is empty).",
            f'{STREAMS} |~ "$search"',
            max_lines=1000,
        ),
        24,
        12,
    )
    board.row("Ingestion")
    board.add(
        timeseries_panel(
            "Lines received by Loki",
            "Log lines Loki's distributors accepted per second, whichever collector sent them.",
            [Query("sum(rate(loki_distributor_lines_received_total[$__rate_interval]))", "lines/s")],
            "short",
        ),
        12,
    )
    board.add(
        timeseries_panel(
            "Lines discarded by Loki",
            "Lines Loki refused (rate or stream limits, too long, too old), per second and reason.",
            [Query("sum by (reason) (rate(loki_discarded_samples_total[$__rate_interval])) > 0", "{{reason}}")],
            "short",
            ANY_IS_BAD,
            empty_when="Loki accepts every line",
        ),
        12,
    )
    return board.build()
