"""Writing the Prometheus text format 0.0.4: label sets are rendered once, values per scrape."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def series_prefix(name: str, labels: Sequence[tuple[str, str]]) -> str:
    """`name{a="x",b="y"} ` — the constant part of a sample line."""
    if not labels:
        return name + " "
    body = ",".join(f'{key}="{escape_label_value(value)}"' for key, value in labels)
    return f"{name}{{{body}}} "


def fmt(value: float) -> str:
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def le_text(bound: float) -> str:
    """Bucket bounds as Python's Prometheus client writes them ("1.0", "0.25", "+Inf")."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def header(out: list[str], name: str, kind: str, help_text: str) -> None:
    escaped = help_text.replace("\\", "\\\\").replace("\n", "\\n")
    out.append(f"# HELP {name} {escaped}\n# TYPE {name} {kind}\n")


def samples(out: list[str], pairs: Iterable[tuple[str, float]], suffix: str = "\n") -> None:
    for prefix, value in pairs:
        out.append(prefix + fmt(value) + suffix)
