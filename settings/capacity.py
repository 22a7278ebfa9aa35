"""Capacity-planning settings (`monitoring:capacity`): how far ahead to forecast, over which trend
window, how much headroom a scaling recommendation keeps, and the sizes of what no metric reports.

Every resource is recorded as a usage ratio of its capacity; its forecast is the linear trend of its
daily peaks (`rules/capacity.py`, method chosen by the back-test in `tests/capacity/`).
"""

from __future__ import annotations

from typing import Iterator

from pydantic import Field, model_validator

from settings.errors import FieldProblem, cross_field
from settings.types import ByteSize, Duration, Strict, duration_seconds

DAY_SECONDS = 86400


class CapacitySettings(Strict):
    enabled: bool = True
    # How far ahead forecasts and recommendations look (the 30-day planning horizon).
    horizon: Duration = "30d"
    # The trend is fitted over this window of daily peaks: whole weeks see through weekly cycles.
    trend_window: Duration = "28d"
    # No forecast for a series younger than this: a few days of peaks are not a trend.
    min_history: Duration = "7d"
    # Exhaustion sooner than this is a warning; later, within the horizon, an info ticket.
    urgent_within: Duration = "7d"
    # Share of capacity a recommendation keeps free at the horizon (0.2: plan for at most 80 % use).
    headroom: float = Field(default=0.2, gt=0, lt=1)
    # How often the daily peaks, trends and forecasts are recomputed (they read weeks of data).
    evaluation_interval: Duration = "5m"
    # What the stack's own Prometheus is sized for, in head series (its memory follows the series).
    prometheus_max_series: int = Field(default=2_000_000, ge=1000)
    # Disk for the TSDB and for Loki's chunks. Unset: prometheus.retention_size or, on Kubernetes,
    # the volume size (kubernetes.storage.*); without either that disk is not forecast (on Docker
    # the volumes live on the host filesystem, forecast as filesystem space).
    prometheus_disk: ByteSize | None = None
    loki_disk: ByteSize | None = None
    # Waiting requests per vLLM server that count as a full queue (beyond it latency SLOs fail).
    vllm_max_waiting: int = Field(default=16, ge=1)

    @model_validator(mode="after")
    @cross_field
    def _consistent_windows(self) -> Iterator[FieldProblem]:
        # Every problem is reported, but not a comparison with a value that is itself refused.
        window = duration_seconds(self.trend_window)
        horizon_too_far = duration_seconds(self.horizon) > 365 * DAY_SECONDS
        if window < 2 * DAY_SECONDS or window % DAY_SECONDS:
            yield FieldProblem("trend_window", self.trend_window, "is not a whole number of days of at least 2d (the trend is fitted to daily peaks)")
        elif not DAY_SECONDS <= duration_seconds(self.min_history) <= window:
            yield FieldProblem("min_history", self.min_history, f"is not between 1d and trend_window {self.trend_window}")
        if not horizon_too_far and duration_seconds(self.urgent_within) >= duration_seconds(self.horizon):
            yield FieldProblem("urgent_within", self.urgent_within, f"is not shorter than horizon {self.horizon}")
        if horizon_too_far:
            yield FieldProblem("horizon", self.horizon, "is beyond 365d: a linear trend says nothing a year ahead")
        if duration_seconds(self.evaluation_interval) > 3600:
            yield FieldProblem("evaluation_interval", self.evaluation_interval, "is above 1h: the daily peaks would miss their hour")
