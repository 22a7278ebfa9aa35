"""Capacity planning: per resource, headroom now, daily peaks with the forecast at the horizon,
growth per day, days until full and what to add (the recordings of rules/capacity.py)."""

from __future__ import annotations

from typing import Any

from dashboards.common import NEUTRAL, Board, Query, env_variable, falling, label_variable, rising, table_panel, timeseries_panel
from rules.capacity import DAYS_UNTIL_FULL, FORECAST, HEADROOM, PEAK, RECOMMENDED, SIZE, TREND, USAGE
from settings.model import StackSettings
from settings.types import duration_seconds

UID = "capacity"
CHOSEN = 'env=~"$env", resource=~"$resource"'
# What a resource is, whichever labels it has (a mountpoint, a container, a model, a tenant).
WHAT = "{{resource}} {{instance}}{{mountpoint}}{{name}}{{model_name}}{{tenant}}"


def build(settings: StackSettings) -> dict[str, Any]:
    c = settings.capacity
    full_below = 1 - c.headroom
    horizon_days = duration_seconds(c.horizon) / 86400
    urgent_days = duration_seconds(c.urgent_within) / 86400
    no_history = (f"the stack has less than {c.min_history} of history (capacity.min_history): no forecast "
                  f"before that; a fresh stack shows usage, peaks and growth only")
    board = Board(
        settings,
        UID,
        f"Capacity planning: headroom, daily peaks, growth and the forecast {c.horizon} ahead, days until full "
        f"and what to add to keep {c.headroom:.0%} headroom, per resource.",
        [env_variable(settings), label_variable("resource", "resource", USAGE, 'resource!=""', "Resource")],
    )
    board.row("Now")
    board.add(
        table_panel(
            "Headroom now",
            "Share of each resource's capacity still free (1 - usage), lowest first.",
            [Query(f"sort(min by (resource, unit, instance, mountpoint, name, model_name, tenant) ({HEADROOM}{{{CHOSEN}}}))")],
            "percentunit",
            falling(c.headroom, c.headroom / 2),
        ),
        12,
        9,
    )
    board.add(
        table_panel(
            "Capacity",
            "Each resource's capacity in the unit a recommendation adds: bytes, inodes, cores, GPUs, vLLM replicas, "
            "series, bytes per second (configured sizes come from the capacity settings).",
            [Query(f"{SIZE}{{{CHOSEN}}}")],
            "short",
        ),
        12,
        9,
    )
    board.row("Trend and forecast")
    board.add(
        timeseries_panel(
            "Usage, daily peak and forecast",
            f"Usage as a share of capacity, its peak over the last day, and that peak forecast {c.horizon} ahead "
            f"(a line through {c.trend_window} of daily peaks). Dashed lines: {full_below:.0%} (keep "
            f"{c.headroom:.0%} headroom) and full.",
            [
                Query(f"{USAGE}{{{CHOSEN}}}", f"usage {WHAT}"),
                Query(f"{PEAK}{{{CHOSEN}}}", f"daily peak {WHAT}"),
                Query(f"{FORECAST}{{{CHOSEN}}}", f"forecast +{c.horizon} {WHAT}"),
            ],
            "percentunit",
            rising(full_below, 1),
            min_value=0,
        ),
        16,
        10,
    )
    board.add(
        timeseries_panel(
            "Growth per day",
            f"How much of its capacity each resource's daily peak grows per day, fitted over {c.trend_window}; "
            "below zero it shrinks.",
            [Query(f"{TREND}{{{CHOSEN}}}", WHAT)],
            "percentunit",
            NEUTRAL,
        ),
        8,
        10,
    )
    board.row("Planning")
    board.add(
        table_panel(
            f"Forecast peak in {c.horizon}",
            f"Each resource's daily peak {c.horizon} from now as a share of today's capacity; above "
            f"{full_below:.0%} it gets a recommendation.",
            [Query(f"sort_desc({FORECAST}{{{CHOSEN}}})")],
            "percentunit",
            rising(full_below, 1),
            empty_when=no_history,
        ),
        8,
        9,
    )
    board.add(
        table_panel(
            "Days until full",
            f"Days until each growing resource's daily peak reaches its capacity at the current trend; 0 is full now, "
            f"∞ does not grow. Within {c.horizon} an info ticket, within {c.urgent_within} a warning.",
            [Query(f"sort({DAYS_UNTIL_FULL}{{{CHOSEN}}})")],
            "d",
            falling(horizon_days, urgent_days),
            empty_when=no_history,
        ),
        8,
        9,
    )
    board.add(
        table_panel(
            "Scaling recommendations",
            f"What to add (in the unit column) so the forecast peak in {c.horizon} uses at most {full_below:.0%} "
            "of the capacity: disk bytes, memory bytes, cores, GPUs, vLLM replicas, series, ingestion bytes/s.",
            [Query(f"sort_desc({RECOMMENDED}{{{CHOSEN}}})")],
            "short",
            NEUTRAL,
            empty_when=f"no resource is forecast above {full_below:.0%} of its capacity in {c.horizon}, or {no_history}",
        ),
        8,
        9,
    )
    return board.build()
