"""Profiles (Pyroscope HTTP API): the profile types and services it holds, and the hottest
functions of a service's CPU or memory profile over a time range."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Depends, Query, Request

from api.auth import require_read
from api.models import Profile, ProfileFunction, ProfileType, ProfilingOverview
from api.params import TimeRange, time_range
from api.routes.traces import service_selector

router = APIRouter(prefix="/monitoring", dependencies=[Depends(require_read)])
# Pyroscope's profile type ids (name:sample_type:sample_unit:period_type:period_unit) as its Go SDK
# and Alloy's pyroscope components report them.
CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
MEMORY = "memory:inuse_space:bytes:space:bytes"


def _up(request: Request):
    return request.app.state.upstreams


@router.get("/profiling", response_model=ProfilingOverview, summary="Profile types and profiled services")
async def profiling(request: Request, span: TimeRange = Depends(time_range)) -> ProfilingOverview:
    window = {"start": int(span.start * 1000), "end": int(span.end * 1000)}
    up = _up(request)
    types = await up.json("pyroscope", "/querier.v1.QuerierService/ProfileTypes", method="POST", json=window)
    names = await up.json("pyroscope", "/querier.v1.QuerierService/LabelValues", method="POST",
                          json={"name": "service_name", **window})
    return ProfilingOverview(
        profile_types=[ProfileType(id=t["ID"], name=t["name"], sample_type=t["sampleType"], sample_unit=t["sampleUnit"])
                       for t in types.get("profileTypes", [])],
        services=sorted(names.get("names", [])),
    )


def top_functions(flamebearer: dict, limit: int) -> tuple[int, list[ProfileFunction]]:
    """Self and total per function name from a flamebearer's levels: each level is a flat list of
    [offset, total, self, name index] quadruples (the "single" format)."""
    names = flamebearer["names"]
    own, total = Counter(), Counter()
    for level in flamebearer["levels"]:
        for i in range(0, len(level) - 3, 4):
            name = names[level[i + 3]]
            own[name] += level[i + 2]
            total[name] += level[i + 1]
    ranked = sorted(own, key=lambda n: (-own[n], n))[:limit]
    return int(flamebearer.get("numTicks", 0)), [ProfileFunction(name=n, self=own[n], total=total[n]) for n in ranked]


async def _profile(request: Request, profile_type: str, service: str, span: TimeRange, limit: int) -> Profile:
    query = f"{profile_type}{service_selector(service)}"
    body = await _up(request).json("pyroscope", "/pyroscope/render",
                                   params={"query": query, "from": int(span.start * 1000), "until": int(span.end * 1000)})
    ticks, top = top_functions(body["flamebearer"], limit)
    return Profile(service=service, profile_type=profile_type, unit=body.get("metadata", {}).get("units", ""),
                   total=ticks, top=top)


@router.get("/profiling/cpu", response_model=Profile, summary="A service's CPU profile: its hottest functions")
async def cpu(request: Request, service: str = Query(..., max_length=200), span: TimeRange = Depends(time_range),
              limit: int = Query(20, ge=1, le=500)) -> Profile:
    return await _profile(request, CPU, service, span, limit)


@router.get("/profiling/memory", response_model=Profile, summary="A service's in-use memory by function")
async def memory(request: Request, service: str = Query(..., max_length=200), span: TimeRange = Depends(time_range),
                 limit: int = Query(20, ge=1, le=500)) -> Profile:
    return await _profile(request, MEMORY, service, span, limit)
