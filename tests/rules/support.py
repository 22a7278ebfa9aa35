"""Shared by the rule tests: the settings they render with, promtool, and a PromQL walker."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import promql_parser

from render.serialize import to_yaml
from settings import StackSettings, parse_settings

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

# Every exporter on, the first mocked one in shadow (so the drift alert exists): the widest rule set.
ALL_ON = {
    "exporters": {
        "node": {"mode": "shadow"},
        "cadvisor": {"mode": "mock"},
        "dcgm": {"mode": "mock"},
        "vllm": {"mode": "mock"},
        "postgres": {"mode": "real"},
        "redis": {"mode": "real"},
        "blackbox": {"mode": "real"},
        "pushgateway": {"mode": "real"},
    }
}


def all_on_settings(**alerting: Any) -> StackSettings:
    return parse_settings({**ALL_ON, "alerting": alerting} if alerting else ALL_ON, "test")


def write_documents(directory: Path, documents: dict[str, Any]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, document in sorted(documents.items()):
        path = directory / name
        path.write_text(to_yaml(document))
        paths.append(path)
    return paths


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def all_rules(documents: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for file_name, document in sorted(documents.items()):
        for group in document["groups"]:
            for rule in group["rules"]:
                yield file_name, rule


def all_alerts(documents: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for _, rule in all_rules(documents) if "alert" in rule]


def walk(node: Any) -> Iterator[Any]:
    """Every node of a parsed PromQL expression."""
    yield node
    for attribute in ("lhs", "rhs", "expr", "param", "vector_selector"):
        child = getattr(node, attribute, None)
        if child is not None and not isinstance(child, (str, int, float, timedelta)):
            yield from walk(child)
    for arg in getattr(node, "args", None) or ():
        yield from walk(arg)


def selectors(expr: str) -> list[Any]:
    return [node for node in walk(promql_parser.parse(expr)) if type(node).__name__ == "VectorSelector"]


def durations(expr: str) -> list[timedelta]:
    """Every range, subquery range and offset the expression reads."""
    found = []
    for node in walk(promql_parser.parse(expr)):
        kind = type(node).__name__
        if kind in ("MatrixSelector", "SubqueryExpr") and node.range is not None:
            found.append(node.range)
        if kind in ("VectorSelector", "SubqueryExpr") and node.offset is not None:
            found.append(abs(node.offset))
    return found


def matchers(selector: Any) -> set[tuple[str, str, str]]:
    return {(m.name, str(m.op), m.value) for m in selector.matchers.matchers}
