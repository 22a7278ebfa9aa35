"""Data validation: the rollout state of every exporter, mock and real side by side while an
exporter runs in shadow, missing and stale series, out-of-range values and drift."""

from __future__ import annotations

from typing import Any

from dashboards.common import (
    ANY_IS_BAD,
    Board,
    Query,
    env_variable,
    rising,
    source_variable,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from exporters.catalog import scrape_interval
from exporters.contracts import CONTRACTS
from settings.exporters import ROLLOUT_ORDER
from settings.model import StackSettings
from settings.types import duration_seconds

UID = "data-validation"
# A target is stale when its last sample is older than this many of its scrape intervals.
STALE_INTERVALS = 3
# Ratios the recording rules promise to keep within 0..1.
RATIO_RULES = (
    "instance:node_cpu_utilisation:rate5m",
    "instance:node_memory_utilisation:ratio",
    "instance_mountpoint:node_filesystem_avail_bytes:ratio",
    "gpu:dcgm_gpu_utilisation:avg5m",
    "gpu:dcgm_framebuffer_used:ratio",
)
# One headline signal per mocked exporter, compared mock against real and against its own past.
DRIFT_SIGNALS = {
    "node": "instance:node_cpu_utilisation:rate5m",
    "cadvisor": "container:container_cpu_usage_seconds:rate5m",
    "dcgm": "gpu:dcgm_gpu_utilisation:avg5m",
    "vllm": "model_name:vllm_generation_tokens:rate5m",
}
DRIFT_BASELINE = "1h"


def deployed_exporters(settings: StackSettings) -> list[str]:
    return [name for name in CONTRACTS if settings.exporters.mode(name) != "off"]


def exporter_interval_seconds(settings: StackSettings, exporter: str) -> float:
    override = getattr(settings.exporters, exporter).scrape_interval
    return duration_seconds(override or scrape_interval(exporter))


def stale_targets(settings: StackSettings) -> str:
    parts = [
        f'time() - timestamp(up{{exporter="{name}", env=~"$env", source=~"$source"}}) > '
        f"{STALE_INTERVALS * exporter_interval_seconds(settings, name):g}"
        for name in deployed_exporters(settings)
    ]
    return " or ".join(parts)


def build(settings: StackSettings) -> dict[str, Any]:
    board = Board(
        settings,
        UID,
        "Is the data right? Rollout mode per exporter, mock vs real in shadow, missing, stale and out-of-range series, drift.",
        [env_variable(settings), source_variable()],
    )
    board.row("Rollout")
    board.add(
        table_panel(
            "Exporter modes",
            f"Mode of every exporter as this stack is deployed (mock, shadow, real or off); rollout order {' -> '.join(ROLLOUT_ORDER)}.",
            [Query("monitoring:exporter_mode:info")],
        ),
        8,
        9,
    )
    board.add(
        table_panel(
            "Targets up per exporter and source",
            "Targets up per exporter, mock and real side by side.",
            [Query('exporter_source:up:sum{env=~"$env", source=~"$source"}')],
        ),
        8,
        9,
    )
    board.add(
        table_panel(
            "Deployed exporters without a target up",
            "Exporters whose mode is not off but that have no target up (any source).",
            [
                Query(
                    'monitoring:exporter_mode:info{mode!="off"} unless on (exporter) '
                    '(exporter_source:up:sum{env=~"$env"} > 0)'
                )
            ],
            steps=ANY_IS_BAD,
            empty_when="every deployed exporter has a target up",
        ),
        8,
        9,
    )
    board.row("Mock vs real")
    board.add(
        timeseries_panel(
            "Samples per scrape, mock and real",
            "Samples per scrape per exporter and source: in shadow both lines should be close.",
            [Query('exporter_source:scrape_samples_scraped:sum{env=~"$env", source=~"$source"}', "{{exporter}} {{source}}")],
            "short",
        ),
        12,
    )
    board.add(
        timeseries_panel(
            "Mock / real sample ratio (shadow)",
            "Samples the mock serves per sample of the real exporter; 1 means the same series count.",
            [Query('exporter:scrape_samples_mock_real:ratio{env=~"$env"}', "{{exporter}}")],
            "short",
            empty_when="no exporter is in shadow mode",
        ),
        12,
    )
    board.add(
        timeseries_panel(
            "Headline signal, mock vs real",
            "One key signal per exporter averaged per source, to compare the mock with the real exporter in shadow.",
            [
                Query(f'avg by (exporter, source) ({rule}{{env=~"$env", source=~"$source"}})', "{{exporter}} {{source}}")
                for rule in DRIFT_SIGNALS.values()
            ],
            "short",
        ),
        24,
    )
    board.row("Completeness")
    board.add(
        table_panel(
            "Contract metrics missing",
            "How many sample names of each exporter's contract its targets do not serve, per source. Recorded every "
            f"{settings.alerting.slo_long_interval} by the integrity rules: counting names reads every exporter series, "
            "too dear to do at each load.",
            [Query('exporter_source:contract_sample_names_missing:count{env=~"$env", source=~"$source"} > 0')],
            steps=ANY_IS_BAD,
            empty_when="every deployed exporter serves its whole contract",
        ),
        12,
    )
    board.add(
        table_panel(
            "Stale targets",
            f"Exporter targets whose last scrape is older than {STALE_INTERVALS} of their scrape intervals.",
            [Query(stale_targets(settings))],
            unit="s",
            steps=ANY_IS_BAD,
            empty_when="every target was scraped recently",
        ),
        12,
    )
    board.add(
        table_panel(
            "Series without env or source",
            "Exporter targets whose series lack the env or source label the scrape conventions promise.",
            [Query('up{exporter!="", source!~"mock|real"} or up{exporter!="", env=""}')],
            steps=ANY_IS_BAD,
            empty_when="every exporter series is labelled",
        ),
        12,
    )
    board.add(
        table_panel(
            "Ratios out of range",
            "Recorded ratios outside 0..1: a broken exporter or a mock drifting from reality.",
            [Query(" or ".join(f'({rule}{{env=~"$env", source=~"$source"}} < 0 or {rule}{{env=~"$env", source=~"$source"}} > 1)' for rule in RATIO_RULES))],
            steps=ANY_IS_BAD,
            empty_when="every ratio is within 0..1",
        ),
        12,
    )
    board.row("Drift")
    board.add(
        timeseries_panel(
            f"Drift against the last {DRIFT_BASELINE}",
            f"Each headline signal divided by its own {DRIFT_BASELINE} average, per exporter and source; far from 1 is drift.",
            [
                Query(
                    f'avg by (exporter, source) ({rule}{{env=~"$env", source=~"$source"}})'
                    f' / avg by (exporter, source) (avg_over_time({rule}{{env=~"$env", source=~"$source"}}[{DRIFT_BASELINE}]))',
                    "{{exporter}} {{source}}",
                )
                for rule in DRIFT_SIGNALS.values()
            ],
            "short",
            rising(1.5, 3),
        ),
        16,
    )
    board.add(
        stat_panel(
            "Series added per scrape",
            "New series per scrape per exporter and source: churn that a mock should not have.",
            [Query('sum by (exporter, source) (scrape_series_added{exporter!="", env=~"$env", source=~"$source"})', "{{exporter}} {{source}}", instant=True)],
            "short",
        ),
        8,
    )
    return board.build()
