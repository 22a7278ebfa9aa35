"""The one Prometheus client of the report: instant queries over the HTTP API, with a timeout and
one error shape (`PrometheusError`) for every way a query can fail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests


class PrometheusError(Exception):
    pass


@dataclass(frozen=True)
class Prometheus:
    url: str
    timeout: float = 60.0

    def _query(self, expr: str, at: datetime) -> dict[str, Any]:
        try:
            response = requests.post(
                f"{self.url.rstrip('/')}/api/v1/query",
                data={"query": expr, "time": f"{at.timestamp():.3f}"},
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise PrometheusError(f"cannot reach Prometheus at {self.url}: {error}") from None
        try:
            body = response.json()
        except ValueError:
            raise PrometheusError(f"{self.url} answered HTTP {response.status_code}, not Prometheus' API") from None
        if body.get("status") != "success":
            raise PrometheusError(f"Prometheus refused {expr!r}: {body.get('error', response.status_code)}")
        return body["data"]

    def scalar(self, expr: str, at: datetime) -> float | None:
        """The value of a query that returns one series (None when it returns none)."""
        data = self._query(expr, at)
        results = data["result"]
        if not results:
            return None
        if len(results) > 1:
            raise PrometheusError(f"{expr!r} returned {len(results)} series; an SLA query must return one")
        return float(results[0]["value"][1])

    def samples(self, expr: str, at: datetime) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """The raw samples of a range-vector query: (labels, [(timestamp, value), ...]) per series."""
        data = self._query(expr, at)
        return [(r["metric"], [(float(t), float(v)) for t, v in r["values"]]) for r in data["result"]]
