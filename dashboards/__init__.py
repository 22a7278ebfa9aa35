"""Grafana dashboards as code: one module per dashboard, each `build(settings) -> dict`."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Mapping

from dashboards import (
    alerts_slos,
    capacity,
    containers,
    data_validation,
    gpu,
    llm_serving,
    logs,
    meta_monitoring,
    node,
    profiling,
    services,
    stack_overview,
)
from dashboards.common import CATALOG
from settings.model import StackSettings

Builder = Callable[[StackSettings], dict[str, Any]]

DASHBOARDS: Mapping[str, Builder] = MappingProxyType(
    {
        stack_overview.UID: stack_overview.build,
        node.UID: node.build,
        containers.UID: containers.build,
        gpu.UID: gpu.build,
        llm_serving.UID: llm_serving.build,
        logs.UID: logs.build,
        alerts_slos.UID: alerts_slos.build,
        data_validation.UID: data_validation.build,
        meta_monitoring.UID: meta_monitoring.build,
        capacity.UID: capacity.build,
        services.UID: services.build,
        profiling.UID: profiling.build,
    }
)

if tuple(DASHBOARDS) != tuple(CATALOG):
    raise RuntimeError("dashboards.DASHBOARDS and dashboards.common.CATALOG list different dashboards")


def render_dashboards(settings: StackSettings) -> dict[str, dict[str, Any]]:
    """uid -> the dashboard's JSON model, for Grafana's dashboard API."""
    return {uid: build(settings) for uid, build in DASHBOARDS.items()}
