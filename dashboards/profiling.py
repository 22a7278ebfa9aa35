"""Profiling, from Pyroscope: CPU and memory flame graphs per service, their top functions, and
the same flame graphs a day earlier beside them, so a regression after a deploy shows as a wider
frame on the left than on the right (Grafana's Explore > Profiles has the exact diff view)."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard, grafanapyroscope, table, timeseries
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models.grafanapyroscope import PyroscopeQueryType

from dashboards.common import PYROSCOPE_UID, Board, NEUTRAL, datasource_ref, label_variable, thresholds
from settings.model import StackSettings
from traces.grafana import CPU_PROFILE_TYPE

UID = "profiling"
# Pyroscope's profile type ids (name:sample type:unit:period type:unit) of Go's pprof and the SDKs:
# CPU time, and heap bytes in use.
MEMORY_PROFILE_TYPE = "memory:inuse_space:bytes:space:bytes"
PROFILES = (("CPU", CPU_PROFILE_TYPE, "ns"), ("Memory in use", MEMORY_PROFILE_TYPE, "bytes"))
# The comparison range: the same window this long before.
BASELINE_SHIFT = "1d"
SELECTOR = '{service_name=~"$service"}'
TOP_FUNCTIONS = 20


def pyroscope_query(profile_type: str, query_type: PyroscopeQueryType, group_by: list[str] | None = None):
    query = (
        grafanapyroscope.Dataquery()
        .ref_id("A")
        .datasource(datasource_ref(PYROSCOPE_UID))
        .profile_type_id(profile_type)
        .label_selector(SELECTOR)
        .query_type(query_type.value)
    )
    return query.group_by(group_by) if group_by else query


def flame_graph(title: str, description: str, profile_type: str, unit: str, shift: str | None = None) -> dashboard.Panel:
    panel = (
        dashboard.Panel()
        .type("flamegraph")
        .title(title)
        .description(description)
        .datasource(datasource_ref(PYROSCOPE_UID))
        .unit(unit)
        .thresholds(thresholds(NEUTRAL))
        .with_target(pyroscope_query(profile_type, PyroscopeQueryType.PROFILE))
    )
    return panel.time_shift(shift) if shift else panel


def top_functions(title: str, profile_type: str, unit: str) -> table.Panel:
    """The flame graph's nodes grouped by function, by self time (or bytes), largest first."""
    return (
        table.Panel()
        .title(title)
        .description(f"The {TOP_FUNCTIONS} functions with the most self {'time' if unit == 'ns' else 'memory'} in the "
                     "selected services and range (a function's own share, without its callees).")
        .datasource(datasource_ref(PYROSCOPE_UID))
        .unit(unit)
        .thresholds(thresholds(NEUTRAL))
        .with_target(pyroscope_query(profile_type, PyroscopeQueryType.PROFILE))
        .with_transformation(models.DataTransformerConfig(id_val="groupBy", options={"fields": {
            "label": {"operation": "groupby", "aggregations": []},
            "self": {"operation": "aggregate", "aggregations": ["sum"]},
            "value": {"operation": "aggregate", "aggregations": ["max"]},
        }}))
        .with_transformation(models.DataTransformerConfig(id_val="sortBy", options={"sort": [{"field": "self (sum)", "desc": True}]}))
        .with_transformation(models.DataTransformerConfig(id_val="limit", options={"limitField": TOP_FUNCTIONS}))
        .with_transformation(models.DataTransformerConfig(id_val="organize", options={"renameByName": {
            "label": "function", "self (sum)": "self", "value (max)": "total (with callees)"}}))
    )


def by_service(title: str, description: str, profile_type: str, unit: str) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(datasource_ref(PYROSCOPE_UID))
        .unit(unit)
        .thresholds(thresholds(NEUTRAL))
        .with_target(pyroscope_query(profile_type, PyroscopeQueryType.METRICS, ["service_name"]))
    )


def service_variable() -> dashboard.QueryVariable:
    """Prometheus' multi-value variable, asking Pyroscope for its service_name values instead."""
    return (
        label_variable("service", "service_name", "", "", "Service")
        .description("Pyroscope's service_name: the stack's own services (pulled by Alloy), listed targets, "
                     "applications pushing with the SDKs.")
        .datasource(datasource_ref(PYROSCOPE_UID))
        .query({"type": "labelValue", "labelName": "service_name", "profileTypeId": CPU_PROFILE_TYPE, "refId": "service"})
    )


def build(settings: StackSettings) -> dict[str, Any]:
    board = Board(
        settings,
        UID,
        "Continuous profiles from Pyroscope: where CPU time and memory go per service, the top functions, and the "
        f"same profiles {BASELINE_SHIFT} earlier for spotting regressions.",
        [service_variable()],
    )
    for name, profile_type, unit in PROFILES:
        what = "CPU time" if unit == "ns" else "heap memory in use"
        board.row(name)
        board.add(by_service(f"{name} by service", f"Total {what} per service over time, from its profiles.",
                             profile_type, unit), 24, 7)
        board.add(flame_graph(f"{name} flame graph", f"Where the {what} of the selected services goes in the selected "
                              "range: each frame's width is its share, callees stacked below their callers.",
                              profile_type, unit), 12, 14)
        board.add(flame_graph(f"{name} flame graph, {BASELINE_SHIFT} earlier",
                              f"The same services and range {BASELINE_SHIFT} earlier: a frame wider on the left than "
                              "here is a regression (compare two arbitrary ranges with Explore > Profiles, diff view).",
                              profile_type, unit, BASELINE_SHIFT), 12, 14)
        board.add(top_functions(f"Top functions by {what}", profile_type, unit), 24, 10)
    return board.build()
