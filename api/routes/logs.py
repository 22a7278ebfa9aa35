"""Logs (Loki HTTP API): search, streams and patterns."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Query, Request

from api.auth import require_read
from api.models import LogLine, LogPattern, LogPatterns, LogResult, LogSearchBody, LogStreams
from api.params import MAX_QUERY_CHARS, TimeRange, invalid, time_range

router = APIRouter(prefix="/monitoring", dependencies=[Depends(require_read)])
NS = 1_000_000_000


def _loki(request: Request):
    return request.app.state.upstreams


def _lines(data: dict) -> list[LogLine]:
    if data.get("resultType") != "streams":
        raise invalid("query: a log query is needed (a metric query returns no lines)")
    lines = [LogLine(timestamp_ns=ts, line=line, labels=stream["stream"])
             for stream in data["result"] for ts, line in stream["values"]]
    return sorted(lines, key=lambda l: int(l.timestamp_ns), reverse=True)


async def _search(request: Request, query: str, span: TimeRange, limit: int, direction: str) -> LogResult:
    params = {"query": query, "start": int(span.start * NS), "end": int(span.end * NS), "limit": limit, "direction": direction}
    body = await _loki(request).json("loki", "/loki/api/v1/query_range", params=params)
    lines = _lines(body["data"])
    return LogResult(lines=lines if direction == "backward" else lines[::-1])


@router.get("/logs", response_model=LogResult, summary="Search logs with a LogQL log query")
async def logs(request: Request, query: str = Query(..., min_length=1, max_length=MAX_QUERY_CHARS),
               span: TimeRange = Depends(time_range), limit: int = Query(100, ge=1, le=5000),
               direction: str = Query("backward", pattern="^(forward|backward)$")) -> LogResult:
    return await _search(request, query, span, limit, direction)


@router.post("/logs/search", response_model=LogResult, summary="Advanced search: the query and its options as a body")
async def search(request: Request, body: LogSearchBody) -> LogResult:
    end = body.end if body.end is not None else time.time()
    start = body.start if body.start is not None else end - 3600
    from datetime import datetime, timezone
    span = time_range(datetime.fromtimestamp(start, timezone.utc), datetime.fromtimestamp(end, timezone.utc))
    return await _search(request, body.query, span, body.limit, body.direction)


@router.get("/logs/streams", response_model=LogStreams, summary="The log streams (label sets) matching selectors")
async def streams(request: Request, match: list[str] = Query(['{job=~".+"}'], max_length=20),
                  span: TimeRange = Depends(time_range)) -> LogStreams:
    if any(len(m) > MAX_QUERY_CHARS for m in match):
        raise invalid(f"match: at most {MAX_QUERY_CHARS} characters each")
    body = await _loki(request).json("loki", "/loki/api/v1/series",
                                     params={"match[]": match, "start": int(span.start * NS), "end": int(span.end * NS)})
    return LogStreams(streams=body["data"])


@router.get("/logs/patterns", response_model=LogPatterns, summary="Recurring line patterns (Loki's pattern ingester)")
async def patterns(request: Request, query: str = Query(..., min_length=1, max_length=MAX_QUERY_CHARS),
                   span: TimeRange = Depends(time_range)) -> LogPatterns:
    body = await _loki(request).json("loki", "/loki/api/v1/patterns",
                                     params={"query": query, "start": int(span.start * NS), "end": int(span.end * NS)})
    found = [LogPattern(pattern=p["pattern"], count=sum(int(count) for _, count in p.get("samples", [])))
             for p in body.get("data") or []]
    return LogPatterns(patterns=sorted(found, key=lambda p: -p.count))
