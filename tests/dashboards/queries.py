"""What the dashboard tests read out of the rendered dashboards: panels, queries and metric names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

import promql_parser

from dashboards.common import EMPTY_WHEN
from exporters.contracts import known_metric_names
from rules import render_rule_files
from settings.model import StackSettings

# Stack metrics the brief allows besides contracts and recording rules.
# Services the tests cannot run here (no binaries): their panels are checked structurally only.
NOT_RUNNABLE_PREFIXES = ("loki_", "promtail_", "grafana_")


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel_id: int
    title: str
    datasource: str
    ref_id: str
    expr: str
    instant: bool
    may_be_empty: bool


def panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in model["panels"]:
        yield panel
        yield from panel.get("panels", [])


def queries(model: dict[str, Any]) -> Iterator[PanelQuery]:
    for panel in panels(model):
        for target in panel.get("targets", []):
            yield PanelQuery(
                dashboard=model["uid"],
                panel_id=panel["id"],
                title=panel["title"],
                datasource=target["datasource"]["uid"],
                ref_id=target["refId"],
                # Tempo's and Pyroscope's targets have no expression (a query type and a selector).
                expr=target.get("expr", ""),
                instant=bool(target.get("instant")),
                may_be_empty=EMPTY_WHEN in panel.get("description", ""),
            )


def substitute(expr: str, settings: StackSettings, rate_interval: str = "1m", interval: str = "15s") -> str:
    """Grafana's variables as it would expand them with All selected (and this stack's env)."""
    values = {
        "$__rate_interval": rate_interval,
        "$__interval": interval,
        "$__auto": interval,
        "$__range": "1h",
        "$env": settings.environment,
        "$source": "mock|real",
        "$search": ".*",
        "$service": ".+",
    }
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(name, values[name])
    return re.sub(r"\$[a-z_]+", ".*", expr)


def recorded_names(settings: StackSettings) -> frozenset[str]:
    names = set()
    for document in render_rule_files(settings).values():
        for group in document["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    names.add(rule["record"])
    return frozenset(names)


def recording_rules(settings: StackSettings) -> list[dict[str, Any]]:
    return [
        rule
        for document in render_rule_files(settings).values()
        for group in document["groups"]
        for rule in group["rules"]
        if "record" in rule
    ]


def metric_names(expr: str) -> set[str]:
    """Every metric name the expression selects, including names given by a `__name__` matcher."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        kind = type(node).__name__
        if kind == "VectorSelector":
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    names.update(matcher.value.split("|"))
        for attribute in ("expr", "lhs", "rhs", "vector_selector", "param"):
            child = getattr(node, attribute, None)
            if child is not None and hasattr(child, "__class__") and type(child).__module__ != "builtins":
                visit(child)
        for child in getattr(node, "args", None) or []:
            visit(child)

    visit(promql_parser.parse(expr))
    return names


def runnable_here(expr: str) -> bool:
    return not any(name.startswith(NOT_RUNNABLE_PREFIXES) for name in metric_names(expr))


def allowed_names(settings: StackSettings) -> frozenset[str]:
    """Contract metrics (exporters, the stack's own services, synthesised series) and recording rules."""
    return known_metric_names() | recorded_names(settings)

