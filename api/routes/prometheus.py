"""Metrics, metric data, capacity, SLA and benchmarks: Prometheus and the stack's recording rules."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request

from api import recordings as r
from api.auth import require_read
from api.models import (
    Benchmark, Benchmarks, Capacity, CapacityForecast, Metric, MetricData,
    MetricList, Series, SlaReport, SlaReports, SlaStatus, SlaStatusList,
)
from api.params import (
    MAX_LIMIT, TimeRange, invalid, label_set, matchers, metric_name, selector, step_for, time_range,
)

router = APIRouter(prefix="/monitoring", dependencies=[Depends(require_read)])


def _up(request: Request):
    return request.app.state.upstreams


def _number(value: str) -> float | None:
    number = float(value)
    return None if math.isnan(number) else number


def _key(metric: dict[str, str], drop: tuple[str, ...] = ("__name__",)) -> tuple:
    return tuple(sorted(label_set(metric, drop).items()))


@router.get("/metrics", response_model=MetricList, summary="Every metric name Prometheus holds")
async def metrics(request: Request, prefix: str = Query("", max_length=200, pattern=r"^[a-zA-Z0-9_:]*$"),
                  limit: int = Query(1000, ge=1, le=MAX_LIMIT)) -> MetricList:
    upstreams = _up(request)
    names, metadata = await asyncio.gather(
        upstreams.prometheus("/api/v1/label/__name__/values", None),
        upstreams.prometheus("/api/v1/metadata", None),
    )
    chosen = [name for name in names if name.startswith(prefix)]
    listed = []
    for name in chosen[:limit]:
        # Metadata is per metric family: a histogram's _bucket/_sum/_count share their base's.
        family = next((metadata[n] for n in (name, name.rsplit("_", 1)[0]) if n in metadata), [{}])[0]
        listed.append(Metric(name=name, type=family.get("type"), help=family.get("help")))
    return MetricList(metrics=listed, truncated=len(chosen) > limit)


@router.get("/metrics/{metric}", response_model=MetricData, summary="One metric's series over a time range")
async def metric_data(request: Request, metric: str = Path(..., max_length=200),
                      match: list[str] = Query([], max_length=20, description="label=value, exact"),
                      span: TimeRange = Depends(time_range), step: float | None = Query(None, gt=0),
                      limit: int = Query(500, ge=1, le=MAX_LIMIT, description="at most this many series")) -> MetricData:
    name = metric_name(metric)
    chosen = step_for(span, step)
    expr = selector(name, matchers(match))
    data = await _up(request).prometheus(
        "/api/v1/query_range", {"query": expr, "start": span.start, "end": span.end, "step": chosen})
    series = [
        Series(labels=label_set(item["metric"]), values=[(float(t), float(v)) for t, v in item["values"]])
        for item in data["result"][:limit]
    ]
    return MetricData(metric=name, start=span.start, end=span.end, step=chosen, series=series)


async def _vectors(request: Request, *exprs: str) -> list[list[dict[str, Any]]]:
    return list(await asyncio.gather(*(_up(request).query(expr) for expr in exprs)))


def _finite(value: str) -> float | None:
    number = _number(value)
    return number if number is None or math.isfinite(number) else None


def _joined(vectors: list[list[dict[str, Any]]], fields: tuple[str, ...]) -> dict[tuple, dict[str, Any]]:
    """One row per label set (the metric name aside), each vector's value under its field."""
    rows: dict[tuple, dict[str, Any]] = {}
    for vector, field in zip(vectors, fields):
        for item in vector:
            labels = label_set(item["metric"])
            row = rows.setdefault(tuple(sorted(labels.items())), {"labels": labels})
            row[field] = _finite(item["value"][1])
    return rows


@router.get("/capacity", response_model=Capacity, summary="Every resource's usage, size and headroom")
async def capacity(request: Request) -> Capacity:
    vectors = await _vectors(request, r.CAPACITY_USAGE, r.CAPACITY_SIZE, r.CAPACITY_HEADROOM)
    # Plain rows, validated once as the response: thousands of series on a large fleet.
    rows = _joined(vectors, ("usage_ratio", "size", "headroom_ratio"))
    return Capacity.model_validate({"resources": [rows[key] for key in sorted(rows)]})


@router.get("/capacity/forecast", response_model=CapacityForecast, summary="Forecast peaks and days until full")
async def capacity_forecast(request: Request) -> CapacityForecast:
    vectors = await _vectors(request, r.CAPACITY_FORECAST, r.CAPACITY_DAYS_UNTIL_FULL, r.CAPACITY_RECOMMENDED)
    # +Inf days (not growing) is not JSON: null means "never full at this trend".
    rows = _joined(vectors, ("forecast_peak_ratio", "days_until_full", "recommended_addition"))
    return CapacityForecast.model_validate({"forecasts": [rows[key] for key in sorted(rows)]})


@router.get("/sla", response_model=SlaStatusList, summary="Each SLA's state and month-to-date ratios")
async def sla(request: Request) -> SlaStatusList:
    states, ratios = await _vectors(request, r.SLA_STATE, r.SLA_RATIO_MONTH)
    objectives: dict[str, dict[str, float | None]] = {}
    for item in ratios:
        objectives.setdefault(item["metric"].get("sla", ""), {})[item["metric"].get("objective", "")] = _number(item["value"][1])
    slas = [
        SlaStatus(sla=item["metric"].get("sla", ""), state=r.SLA_STATES.get(int(float(item["value"][1])), "unknown"),
                  objectives=objectives.get(item["metric"].get("sla", ""), {}))
        for item in states
    ]
    return SlaStatusList(slas=sorted(slas, key=lambda s: s.sla))


@router.get("/sla/reports", response_model=SlaReports, summary="Month-to-date achievement and error budget per objective")
async def sla_reports(request: Request) -> SlaReports:
    vectors = await _vectors(request, r.SLA_RATIO_MONTH, r.SLA_BUDGET_USED, r.SLA_BUDGET_PROJECTED)
    rows: dict[tuple[str, str], SlaReport] = {}
    for vector, field in zip(vectors, ("month_to_date_ratio", "error_budget_used_ratio", "error_budget_projected_ratio")):
        for item in vector:
            key = (item["metric"].get("sla", ""), item["metric"].get("objective", ""))
            row = rows.setdefault(key, SlaReport(sla=key[0], objective=key[1]))
            setattr(row, field, _number(item["value"][1]))
    return SlaReports(reports=[rows[key] for key in sorted(rows)])


@router.get("/benchmarks", response_model=Benchmarks, summary="The stack's own request latencies (p50/p90/p99) and rates")
async def benchmarks(request: Request, window: str = Query("5m", pattern=r"^[0-9]{1,4}[smh]$")) -> Benchmarks:
    if int(window[:-1]) == 0:
        raise invalid("window: must be longer than zero")
    buckets = "|".join(f"{name}_bucket" for name in r.LATENCY_HISTOGRAMS)
    counts = "|".join(f"{name}_count" for name in r.LATENCY_HISTOGRAMS)
    rate_buckets = f'sum by (job, le) (rate({{__name__=~"{buckets}"}}[{window}]))'
    exprs = [f"histogram_quantile({q}, {rate_buckets})" for q in ("0.5", "0.9", "0.99")]
    exprs.append(f'sum by (job) (rate({{__name__=~"{counts}"}}[{window}]))')
    vectors = await _vectors(request, *exprs)
    rows: dict[str, Benchmark] = {}
    for vector, field in zip(vectors, ("p50_seconds", "p90_seconds", "p99_seconds", "requests_per_second")):
        for item in vector:
            job = item["metric"].get("job", "")
            value = _number(item["value"][1])
            setattr(rows.setdefault(job, Benchmark(job=job)), field, value if value is None or math.isfinite(value) else None)
    return Benchmarks(window=window, benchmarks=[rows[job] for job in sorted(rows)])
