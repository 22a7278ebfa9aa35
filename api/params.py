"""Query parameters checked before anything reaches an upstream: time ranges, steps, limits,
label matchers and names."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime

from fastapi import Query

from api.errors import ApiError

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
MAX_RANGE_SECONDS = 31 * 86400
# Prometheus refuses more than 11,000 points a series; stay under it.
MAX_POINTS = 11000
MAX_LIMIT = 5000
MAX_QUERY_CHARS = 4096
DEFAULT_RANGE_SECONDS = 3600


def invalid(message: str) -> ApiError:
    return ApiError(422, "invalid_request", message)


@dataclass(frozen=True)
class TimeRange:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def time_range(
    start: datetime | None = Query(None, description="RFC 3339 or Unix seconds; default: an hour before `end`"),
    end: datetime | None = Query(None, description="RFC 3339 or Unix seconds; default: now"),
) -> TimeRange:
    until = end.timestamp() if end else time.time()
    since = start.timestamp() if start else until - DEFAULT_RANGE_SECONDS
    if since >= until:
        raise invalid(f"start ({since:.0f}) must be before end ({until:.0f})")
    if until - since > MAX_RANGE_SECONDS:
        raise invalid(f"the range is {until - since:.0f}s; at most {MAX_RANGE_SECONDS}s (31 days) is allowed")
    return TimeRange(since, until)


def step_for(span: TimeRange, step: float | None) -> float:
    """The step asked for (checked), or one giving about 250 points."""
    chosen = step if step is not None else max(1.0, round(span.seconds / 250))
    if chosen <= 0:
        raise invalid(f"step: {chosen:g} must be positive")
    if span.seconds / chosen > MAX_POINTS:
        raise invalid(f"step: {chosen:g}s gives {span.seconds / chosen:.0f} points; at most {MAX_POINTS} are allowed")
    return chosen


def metric_name(name: str) -> str:
    if not METRIC_NAME.match(name) or len(name) > 200:
        raise invalid(f"metric: {name[:80]!r} is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)")
    return name


def promql_string(value: str) -> str:
    """A PromQL string literal: JSON's double-quoted escapes are PromQL's."""
    return json.dumps(value)


def matchers(pairs: list[str]) -> dict[str, str]:
    """`name=value` label matchers (exact)."""
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not LABEL_NAME.match(name):
            raise invalid(f"match: {pair[:80]!r} is not `label=value` with a label name [a-zA-Z_][a-zA-Z0-9_]*")
        if len(value) > 256:
            raise invalid(f"match: the value of {name} is {len(value)} characters; at most 256")
        found[name] = value
    return found


def selector(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f"{key}={promql_string(value)}" for key, value in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def label_set(metric: dict[str, str], drop: tuple[str, ...] = ("__name__",)) -> dict[str, str]:
    return {key: value for key, value in metric.items() if key not in drop}
