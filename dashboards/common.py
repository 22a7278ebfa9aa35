"""What every dashboard shares: datasources, variables, panel factories, layout and encoding.

Dashboards are assembled with grafana-foundation-sdk (schema 11.6, the Grafana image's version).
Its builders mutate and return themselves, so every factory here makes a fresh builder per panel
and per query; ids, refIds and grid positions are always set explicitly (the SDK leaves `id: null`
and `refId: ""` otherwise).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

from grafana_foundation_sdk.builders import bargauge, dashboard, loki, logs, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from render.dashboard_catalog import DASHBOARD_TITLES
from settings.model import StackSettings
from traces.grafana import PYROSCOPE_UID, TEMPO_UID

PROMETHEUS_UID = "prometheus"
LOKI_UID = "loki"
ALERTMANAGER_UID = "alertmanager"
PROVISIONED_DATASOURCES = {PROMETHEUS_UID: "prometheus", LOKI_UID: "loki", ALERTMANAGER_UID: "alertmanager",
                           TEMPO_UID: "tempo", PYROSCOPE_UID: "grafana-pyroscope-datasource"}

REFRESH = "30s"
DEFAULT_RANGE = ("now-6h", "now")
TAG = "monitoring-as-code"
GRID_WIDTH = 24

# Every dashboard of the stack, in the order their links appear: uid -> title.
CATALOG = DASHBOARD_TITLES

# Panels whose query legitimately returns nothing (or only zeros) carry this phrase in their
# description, followed by when; the live tests read it to tell "empty" from "broken".
EMPTY_WHEN = "Empty when "

# Filesystems that are not real storage (RAM-backed, image layers, namespaces).
VIRTUAL_FSTYPES = "tmpfs|overlay|squashfs|ramfs|nsfs"


def datasource_ref(uid: str) -> models.DataSourceRef:
    return models.DataSourceRef(type_val=PROVISIONED_DATASOURCES[uid], uid=uid)


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    # Instant queries feed tables and single values that only need "now".
    instant: bool = False
    # Show the series' exemplars (trace ids Tempo's generator attaches): a click opens the trace.
    exemplar: bool = False


@dataclass(frozen=True)
class Threshold:
    value: float | None  # None is the base colour
    color: str


# One colour: the panel shows a quantity with no good or bad level.
NEUTRAL = (Threshold(None, "green"),)


def rising(warning: float, critical: float) -> tuple[Threshold, ...]:
    """Green below `warning`, orange up to `critical`, red above."""
    return (Threshold(None, "green"), Threshold(warning, "orange"), Threshold(critical, "red"))


def falling(warning: float, critical: float) -> tuple[Threshold, ...]:
    """Red below `critical`, orange below `warning`, green above (budgets, availability)."""
    return (Threshold(None, "red"), Threshold(critical, "orange"), Threshold(warning, "green"))


ANY_IS_BAD = (Threshold(None, "green"), Threshold(1, "red"))
UP_DOWN = (Threshold(None, "red"), Threshold(1, "green"))


def thresholds(steps: Sequence[Threshold]) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(models.ThresholdsMode.ABSOLUTE)
        .steps([models.Threshold(value=step.value, color=step.color) for step in steps])
    )


def describe(description: str, empty_when: str | None) -> str:
    return f"{description} {EMPTY_WHEN}{empty_when}." if empty_when else description


def no_value_text(empty_when: str) -> str:
    """What a problem-only panel shows for an empty result: the healthy state, not Grafana's "No
    data" (which reads the same as a broken exporter)."""
    return f"None: {empty_when}"


def explained(panel: Any, description: str, empty_when: str | None) -> Any:
    """The panel with its description and, when it is legitimately empty on a healthy stack, the
    healthy state as its no-value text. Grafana shows that text only for an empty result: a
    failing query (datasource down, bad expression) also carries Grafana's red error marker in
    the panel header with the error message, which an empty healthy result never has."""
    panel = panel.description(describe(description, empty_when))
    return panel.no_value(no_value_text(empty_when)) if empty_when else panel


def ref_id(index: int) -> str:
    return chr(ord("A") + index)


def prometheus_targets(queries: Sequence[Query]) -> list[prometheus.Dataquery]:
    targets = []
    for index, query in enumerate(queries):
        target = (
            prometheus.Dataquery()
            .expr(query.expr)
            .ref_id(ref_id(index))
            .datasource(datasource_ref(PROMETHEUS_UID))
            .legend_format(query.legend or "__auto")
        )
        target = target.instant() if query.instant else target.range()
        if query.exemplar:
            target = target.exemplar(True)
        targets.append(target)
    return targets


def timeseries_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str,
    steps: Sequence[Threshold] = NEUTRAL,
    empty_when: str | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    stacked: bool = False,
) -> timeseries.Panel:
    panel = (
        explained(timeseries.Panel().title(title), description, empty_when)
        .datasource(datasource_ref(PROMETHEUS_UID))
        .unit(unit)
        .thresholds(thresholds(steps))
        .thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(common_models.GraphThresholdsStyleMode.DASHED))
        .fill_opacity(10)
        .line_width(1)
    )
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common_models.StackingMode.NORMAL))
    if min_value is not None:
        panel = panel.min(min_value)
    if max_value is not None:
        panel = panel.max(max_value)
    for target in prometheus_targets(queries):
        panel = panel.with_target(target)
    return panel


def utilisation_panel(title: str, description: str, queries: Sequence[Query]) -> timeseries.Panel:
    """A 0..1 utilisation over time: warning at 80 %, critical at 95 %."""
    return timeseries_panel(title, description, queries, "percentunit", rising(0.8, 0.95), min_value=0, max_value=1)


def stat_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str,
    steps: Sequence[Threshold] = NEUTRAL,
    empty_when: str | None = None,
    mappings: Sequence[tuple[str, str, str]] = (),
) -> stat.Panel:
    """`mappings`: (value, text, colour) triples, e.g. ("0", "DOWN", "red")."""
    panel = (
        explained(stat.Panel().title(title), description, empty_when)
        .datasource(datasource_ref(PROMETHEUS_UID))
        .unit(unit)
        .thresholds(thresholds(steps))
        .color_mode(common_models.BigValueColorMode.BACKGROUND)
        .graph_mode(common_models.BigValueGraphMode.NONE)
    )
    if mappings:
        panel = panel.mappings(
            [
                models.ValueMap(
                    options={value: models.ValueMappingResult(text=text, color=color) for value, text, color in mappings}
                )
            ]
        )
    for target in prometheus_targets(queries):
        panel = panel.with_target(target)
    return panel


def bargauge_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str,
    steps: Sequence[Threshold],
    min_value: float = 0,
    max_value: float | None = None,
    empty_when: str | None = None,
) -> bargauge.Panel:
    panel = (
        explained(bargauge.Panel().title(title), description, empty_when)
        .datasource(datasource_ref(PROMETHEUS_UID))
        .unit(unit)
        .thresholds(thresholds(steps))
        .min(min_value)
    )
    if max_value is not None:
        panel = panel.max(max_value)
    for target in prometheus_targets(queries):
        panel = panel.with_target(target)
    return panel


def table_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str = "short",
    steps: Sequence[Threshold] = NEUTRAL,
    empty_when: str | None = None,
) -> table.Panel:
    """An instant table of the series' labels and current value."""
    panel = (
        explained(table.Panel().title(title), description, empty_when)
        .datasource(datasource_ref(PROMETHEUS_UID))
        .unit(unit)
        .thresholds(thresholds(steps))
        .with_transformation(models.DataTransformerConfig(id_val="labelsToFields", options={"mode": "columns"}))
        .with_transformation(models.DataTransformerConfig(id_val="merge", options={}))
    )
    for target in prometheus_targets([Query(q.expr, q.legend, instant=True) for q in queries]):
        panel = panel.with_target(target.format(PromQueryFormat.TABLE))
    return panel


def loki_timeseries_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str,
    steps: Sequence[Threshold] = NEUTRAL,
    stacked: bool = True,
    empty_when: str | None = None,
) -> timeseries.Panel:
    panel = (
        explained(timeseries.Panel().title(title), description, empty_when)
        .datasource(datasource_ref(LOKI_UID))
        .unit(unit)
        .thresholds(thresholds(steps))
        .draw_style(common_models.GraphDrawStyle.BARS)
        .fill_opacity(60)
    )
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common_models.StackingMode.NORMAL))
    for index, query in enumerate(queries):
        panel = panel.with_target(
            loki.Dataquery()
            .expr(query.expr)
            .ref_id(ref_id(index))
            .datasource(datasource_ref(LOKI_UID))
            .legend_format(query.legend)
            .range(True)
        )
    return panel


def logs_panel(title: str, description: str, expr: str, max_lines: int = 500, empty_when: str | None = None) -> logs.Panel:
    return (
        explained(logs.Panel().title(title), description, empty_when)
        .datasource(datasource_ref(LOKI_UID))
        .show_time(True)
        .wrap_log_message(True)
        .enable_log_details(True)
        .sort_order(common_models.LogsSortOrder.DESCENDING)
        .with_target(
            loki.Dataquery()
            .expr(expr)
            .ref_id("A")
            .datasource(datasource_ref(LOKI_UID))
            .max_lines(max_lines)
            .range(True)
        )
    )


# --- variables -----------------------------------------------------------------------------------


def env_variable(settings: StackSettings, uid: str = PROMETHEUS_UID) -> dashboard.QueryVariable:
    query = "label_values(up{exporter!=\"\"}, env)" if uid == PROMETHEUS_UID else "label_values(env)"
    return (
        dashboard.QueryVariable("env")
        .label("Environment")
        .description("Value of the env label; this stack's environment by default.")
        .datasource(datasource_ref(uid))
        .query(query)
        .current(models.VariableOption(text=settings.environment, value=settings.environment, selected=True))
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def source_variable() -> dashboard.CustomVariable:
    return (
        dashboard.CustomVariable("source")
        .label("Source")
        .description("mock or real exporter series (both while an exporter is in shadow).")
        .values("mock,real")
        .current(models.VariableOption(text="All", value="$__all", selected=True))
        .multi(True)
        .include_all(True)
        .all_value("mock|real")
    )


def label_variable(name: str, label: str, metric: str, selector: str, title: str) -> dashboard.QueryVariable:
    """A multi-value variable listing `label` of `metric{selector}`; All matches every value."""
    return (
        dashboard.QueryVariable(name)
        .label(title)
        .datasource(datasource_ref(PROMETHEUS_UID))
        .query(f"label_values({metric}{{{selector}}}, {label})")
        .current(models.VariableOption(text="All", value="$__all", selected=True))
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def exporter_selector(exporter: str, *extra: str) -> str:
    """Matchers of an exporter's series: by `exporter` (never `job`), filtered by env and source."""
    return ", ".join((f'exporter="{exporter}"', 'env=~"$env"', 'source=~"$source"', *extra))


# --- layout and assembly -------------------------------------------------------------------------


class Board:
    """One dashboard being assembled: rows and panels placed left to right, top to bottom."""

    def __init__(self, settings: StackSettings, uid: str, description: str, variables: Sequence[Any]):
        if uid not in CATALOG:
            raise KeyError(f"dashboard uid {uid!r} is not in render.dashboard_catalog.DASHBOARD_TITLES")
        self.settings = settings
        self.uid = uid
        self._builder = (
            dashboard.Dashboard(CATALOG[uid])
            .uid(uid)
            .description(description)
            .tags([TAG, settings.environment])
            .refresh(REFRESH)
            .time(*DEFAULT_RANGE)
            .timezone("browser")
            .editable()
            .tooltip(models.DashboardCursorSync.CROSSHAIR)
            .timepicker(dashboard.TimePicker().refresh_intervals(["30s", "1m", "5m", "15m"]))
        )
        for variable in variables:
            self._builder = self._builder.with_variable(variable)
        self._next_id = 1
        self._x = 0
        self._y = 0
        self._row_height = 0

    def _take_id(self) -> int:
        panel_id = self._next_id
        self._next_id += 1
        return panel_id

    def _new_line(self) -> None:
        self._y += self._row_height
        self._x = 0
        self._row_height = 0

    def row(self, title: str) -> "Board":
        if self._x:
            self._new_line()
        self._builder = self._builder.with_row(
            dashboard.Row(title).id(self._take_id()).grid_pos(models.GridPos(h=1, w=GRID_WIDTH, x=0, y=self._y))
        )
        self._y += 1
        return self

    def add(self, panel: Any, width: int, height: int = 8) -> "Board":
        if not 0 < width <= GRID_WIDTH:
            raise ValueError(f"panel width {width} is outside 1..{GRID_WIDTH}")
        if self._x + width > GRID_WIDTH:
            self._new_line()
        panel = panel.id(self._take_id()).grid_pos(models.GridPos(h=height, w=width, x=self._x, y=self._y))
        self._builder = self._builder.with_panel(panel)
        self._x += width
        self._row_height = max(self._row_height, height)
        return self

    def build(self) -> dict[str, Any]:
        for uid, title in CATALOG.items():
            if uid == self.uid:
                continue
            self._builder = self._builder.link(
                dashboard.DashboardLink(title)
                .type(models.DashboardLinkType.LINK)
                .url(f"/d/{uid}")
                .tooltip(f"Open the {title} dashboard")
                .icon("dashboard")
                .keep_time(True)
                .include_vars(True)
            )
        encoded = json.loads(json.dumps(self._builder.build(), cls=JSONEncoder))
        encoded["annotations"] = {"list": annotations()}
        return encoded


def annotations() -> list[dict[str, Any]]:
    """Grafana's own annotations plus every firing alert of the stack on every time panel."""
    return [
        {
            "builtIn": 1,
            "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True,
            "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        },
        {
            "datasource": {"type": "prometheus", "uid": PROMETHEUS_UID},
            "enable": True,
            "hide": False,
            "iconColor": "red",
            "name": "Firing alerts",
            "expr": 'ALERTS{alertstate="firing", alertname!="Watchdog"}',
            "step": "60s",
            "titleFormat": "{{alertname}}",
            "textFormat": "{{severity}}: {{instance}}",
            "tagKeys": "severity,alertname",
            "useValueForTime": False,
        },
    ]
