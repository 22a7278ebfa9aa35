"""The public status page: a Grafana dashboard shared as a public dashboard (no login, read-only).

It shows, per public SLA service (`sla.services[].public`), its state now (operational, degraded,
outage: `sla:status:state`, rules/sla.py) and its availability over the last `sla.status_page.history`
(90 days), overall and per day, computed from the SLA's own availability query. Nothing else: no
variables (a public dashboard cannot take any), no links to the stack's dashboards, no alert
annotations, and every query reads only the SLA series, so the page discloses nothing of the stack
beyond each public service's state and availability.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models

from dashboards.common import GRID_WIDTH, Query, Threshold, falling, prometheus_targets, stat_panel, timeseries_panel
from rules.sla import DEGRADED, OPERATIONAL, OUTAGE, STATE, fill, one_series
from settings.model import StackSettings
from settings.sla import SlaService

UID = "status"
TITLE = "Service status"
DAY = "1d"
REFRESH = "1m"

STATE_MAPPINGS = (
    (str(OPERATIONAL), "Operational", "green"),
    (str(DEGRADED), "Degraded", "orange"),
    (str(OUTAGE), "Outage", "red"),
)
STATE_STEPS = (Threshold(None, "green"), Threshold(DEGRADED, "orange"), Threshold(OUTAGE, "red"))


def state_query(service: SlaService) -> Query:
    return Query(f'max({STATE}{{sla="{service.name}"}})', service.name, instant=True)


def availability_query(service: SlaService, window: str) -> Query:
    """The SLA's availability over `window` ending at each point, from its own good/total queries."""
    objective = service.availability
    expr = f"{one_series(fill(objective.good, window))} / {one_series(fill(objective.total, window))}"
    return Query(expr, service.name, instant=window != DAY)


def _lowest_objective(services: tuple[SlaService, ...]) -> float:
    return min(service.availability.objective for service in services)


def panels(settings: StackSettings) -> list[Any]:
    services = settings.sla.public_services()
    history = settings.sla.status_page.history
    objective = _lowest_objective(services) if services else 0.999
    # Green at or above the objective, orange down to 1 percentage point below, red under that.
    availability_steps = falling(objective, objective - 0.01)
    state = stat_panel(
        "Current state",
        "Each service now: Operational, Degraded (an objective is missed) or Outage (the service does not answer).",
        [state_query(service) for service in services],
        "none",
        STATE_STEPS,
        mappings=STATE_MAPPINGS,
    )
    overall = stat_panel(
        f"Availability, last {history}",
        f"Share of the last {history} each service answered.",
        [availability_query(service, history) for service in services],
        "percentunit",
        availability_steps,
    ).decimals(3)
    daily = (
        timeseries_panel(
            "Availability per day",
            f"Share of each day (UTC) each service answered, over the last {history}.",
            [],
            "percentunit",
            availability_steps,
            max_value=1,
        )
        .draw_style(common_models.GraphDrawStyle.BARS)
        .fill_opacity(80)
        .interval(DAY)
        .decimals(3)
    )
    for target in prometheus_targets([availability_query(service, DAY) for service in services]):
        daily = daily.with_target(target.interval(DAY))
    return [state, overall, daily]


def build(settings: StackSettings) -> dict[str, Any]:
    history = settings.sla.status_page.history
    builder = (
        dashboard.Dashboard(TITLE)
        .uid(UID)
        .description("Public status of our services: their state now and their availability.")
        .tags(["status-page", settings.environment])
        .refresh(REFRESH)
        .time(f"now-{history}", "now")
        .timezone("utc")
        .readonly()
    )
    half = GRID_WIDTH // 2
    # State and overall availability side by side, the days below.
    layout = (models.GridPos(h=5, w=half, x=0, y=0), models.GridPos(h=5, w=half, x=half, y=0),
              models.GridPos(h=10, w=GRID_WIDTH, x=0, y=5))
    for panel_id, (panel, position) in enumerate(zip(panels(settings), layout), start=1):
        builder = builder.with_panel(panel.id(panel_id).grid_pos(position))
    encoded = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    # No annotations at all: not even Grafana's built-in ones reach the public page.
    encoded["annotations"] = {"list": []}
    return encoded
