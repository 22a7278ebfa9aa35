"""Traces (Tempo HTTP API: search and trace by id) and the service map and dependencies from the
service-graph series Tempo's metrics-generator writes to Prometheus."""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import re
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request

from api import recordings as r
from api.auth import require_read
from api.models import Dependency, DependencyGraph, ServiceMap, ServiceNode, Span, Trace, TraceList, TraceSummary
from api.params import TimeRange, invalid, promql_string, time_range

router = APIRouter(prefix="/monitoring", dependencies=[Depends(require_read)])
TRACE_ID = r"^[0-9a-fA-F]{1,32}$"
SERVICE = re.compile(r"^[a-zA-Z0-9_.:/-]{1,200}$")
DURATION = r"^[0-9]+(ns|us|ms|s|m|h)$"


def _up(request: Request):
    return request.app.state.upstreams


def _hex(identifier: str) -> str:
    """OTLP JSON ids: hex (OTLP/HTTP JSON) or base64 (protobuf JSON, as Tempo answers)."""
    if re.fullmatch(r"[0-9a-fA-F]{16}|[0-9a-fA-F]{32}", identifier):
        return identifier.lower()
    try:
        return base64.b64decode(identifier, validate=True).hex()
    except (binascii.Error, ValueError):
        return identifier


def _value(attribute: dict) -> Any:
    value = attribute.get("value", {})
    for kind in ("stringValue", "boolValue", "doubleValue"):
        if kind in value:
            return value[kind]
    if "intValue" in value:
        return int(value["intValue"])
    return None


@router.get("/traces", response_model=TraceList, summary="Search traces (Tempo)")
async def traces(request: Request, service: str | None = Query(None, max_length=200),
                 min_duration: str | None = Query(None, pattern=DURATION), span: TimeRange = Depends(time_range),
                 limit: int = Query(20, ge=1, le=1000)) -> TraceList:
    params: dict[str, Any] = {"start": int(span.start), "end": int(span.end), "limit": limit}
    if service:
        if not SERVICE.match(service):
            raise invalid("service: letters, digits and _.:/- only")
        params["tags"] = f"service.name={service}"
    if min_duration:
        params["minDuration"] = min_duration
    body = await _up(request).json("tempo", "/api/search", params=params)
    return TraceList(traces=[
        TraceSummary(trace_id=t["traceID"], root_service=t.get("rootServiceName"), root_name=t.get("rootTraceName"),
                     start_unix_nano=t.get("startTimeUnixNano"), duration_ms=t.get("durationMs"))
        for t in body.get("traces", [])
    ])


@router.get("/traces/{trace_id}", response_model=Trace, summary="One trace's spans (Tempo)")
async def trace(request: Request, trace_id: str = Path(..., pattern=TRACE_ID)) -> Trace:
    body = await _up(request).json("tempo", f"/api/traces/{trace_id}", not_found=f"no trace {trace_id}")
    spans = []
    # Tempo's trace-by-id answer: OTLP JSON under `batches` (OTLP's own name, `resourceSpans`, also read).
    for resource_spans in body.get("batches") or body.get("resourceSpans") or []:
        resource = {a["key"]: _value(a) for a in resource_spans.get("resource", {}).get("attributes", [])}
        for scope in resource_spans.get("scopeSpans", []):
            for s in scope.get("spans", []):
                parent = s.get("parentSpanId")
                spans.append(Span(
                    span_id=_hex(s["spanId"]), parent_span_id=_hex(parent) if parent else None,
                    service=resource.get("service.name"), name=s.get("name", ""),
                    start_unix_nano=str(s["startTimeUnixNano"]), end_unix_nano=str(s["endTimeUnixNano"]),
                    error=s.get("status", {}).get("code") in ("STATUS_CODE_ERROR", 2),
                    attributes={a["key"]: _value(a) for a in s.get("attributes", [])},
                ))
    return Trace(trace_id=trace_id.lower().rjust(32, "0"), spans=sorted(spans, key=lambda s: int(s.start_unix_nano)))


def _window(window: str) -> str:
    if int(window[:-1]) == 0:
        raise invalid("window: must be longer than zero")
    return window


def _rate(value: str) -> float:
    number = float(value)
    return number if math.isfinite(number) else 0.0


@router.get("/services", response_model=ServiceMap, summary="The service map (service-graph metrics)")
async def services(request: Request, window: str = Query("5m", pattern=r"^[0-9]{1,4}[smh]$")) -> ServiceMap:
    w = _window(window)
    up = _up(request)
    requests_by, failed_by = {}, {}
    answers = await asyncio.gather(*(up.query(f"sum by ({side}) (rate({series}[{w}]))")
                                     for side in ("client", "server")
                                     for series in (r.SERVICE_GRAPH_REQUESTS, r.SERVICE_GRAPH_FAILED)))
    for side, calls, failures in (("client", *answers[:2]), ("server", *answers[2:])):
        for item in calls:
            name = item["metric"].get(side, "")
            # A service's load is what it serves; a pure client (the edge) shows what it sends.
            if side == "server" or name not in requests_by:
                requests_by[name] = _rate(item["value"][1]) if side == "server" else 0.0
        for item in failures:
            if side == "server":
                failed_by[item["metric"].get(side, "")] = _rate(item["value"][1])
    return ServiceMap(services=[
        ServiceNode(name=name, requests_per_second=requests_by[name], failed_per_second=failed_by.get(name, 0.0))
        for name in sorted(requests_by) if name
    ])


@router.get("/dependencies", response_model=DependencyGraph, summary="Calls between services (service-graph metrics)")
async def dependencies(request: Request, window: str = Query("5m", pattern=r"^[0-9]{1,4}[smh]$")) -> DependencyGraph:
    w = _window(window)
    calls, failures, p95 = await asyncio.gather(
        _up(request).query(f"sum by (client, server) (rate({r.SERVICE_GRAPH_REQUESTS}[{w}]))"),
        _up(request).query(f"sum by (client, server) (rate({r.SERVICE_GRAPH_FAILED}[{w}]))"),
        _up(request).query(f"histogram_quantile(0.95, sum by (client, server, le) (rate({r.SERVICE_GRAPH_SERVER_SECONDS}[{w}])))"),
    )
    key = lambda item: (item["metric"].get("client", ""), item["metric"].get("server", ""))  # noqa: E731
    failed = {key(i): _rate(i["value"][1]) for i in failures}
    latency = {key(i): float(i["value"][1]) for i in p95}
    edges = [
        Dependency(client=key(i)[0], server=key(i)[1], requests_per_second=_rate(i["value"][1]),
                   failed_per_second=failed.get(key(i), 0.0),
                   server_p95_seconds=latency[key(i)] if math.isfinite(latency.get(key(i), math.nan)) else None)
        for i in calls
    ]
    return DependencyGraph(dependencies=sorted(edges, key=lambda e: (e.client, e.server)))


def service_selector(service: str) -> str:
    if not SERVICE.match(service):
        raise invalid("service: letters, digits and _.:/- only")
    return f"{{service_name={promql_string(service)}}}"
