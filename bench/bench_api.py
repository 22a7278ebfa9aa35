"""Latency of each read endpoint of the monitoring API against real Prometheus and Alertmanager.

    .venv/bin/python bench/bench_api.py [--hosts 50] [--requests 200] [--warm-up 20]

Runs every mock exporter simulating --hosts hosts each, Debian's Prometheus (rendered configuration
and rules, scrape and evaluation every 5 s) and Alertmanager on 127.0.0.1, and `python -m api` in
front of them. After the warm-up it sends --requests sequential requests to each read endpoint and
prints p50/p99 of the API's answer beside p99 of the upstream answering the same requests the
endpoint makes (sent concurrently, as the API sends them).
Goal (issue 16, seed 002's "queries under 1 s"): p99 under 100 ms for every endpoint whose upstream
answers within 50 ms; the script exits 1 when one such endpoint misses it. Loopback only; every
process is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from api.recordings import LATENCY_HISTOGRAMS  # noqa: E402
from tests.api.support import READ_TOKEN, start_api_stack  # noqa: E402
from tests.e2e.procs import Processes, fast_settings, wait_until  # noqa: E402

GOAL_P99 = 0.100
UPSTREAM_BOUND = 0.050


def _q(expr: str) -> tuple[str, dict]:
    return "/api/v1/query", {"query": expr}


def endpoints() -> list[tuple[str, dict, str, list[tuple[str, dict]]]]:
    """(API path, params, upstream, the upstream requests the endpoint makes) for each read endpoint
    Prometheus or Alertmanager serves."""
    now = time.time()
    window = {"start": now - 300, "end": now}
    rate = "sum by ({by}) (rate({name}[5m]))"
    graph = ("traces_service_graph_request_total", "traces_service_graph_request_failed_total")
    buckets = "|".join(f"{name}_bucket" for name in LATENCY_HISTOGRAMS)
    quantiles = [_q(f'histogram_quantile({q}, sum by (job, le) (rate({{__name__=~"{buckets}"}}[5m])))') for q in ("0.5", "0.9", "0.99")]
    return [
        ("/monitoring/metrics", {}, "prometheus", [("/api/v1/label/__name__/values", {}), ("/api/v1/metadata", {})]),
        ("/monitoring/metrics/node_load1", {**window, "step": 15}, "prometheus",
         [("/api/v1/query_range", {"query": "node_load1{}", **window, "step": 15})]),
        ("/monitoring/alerts", {}, "alertmanager", [("/api/v2/alerts", {})]),
        ("/monitoring/alerts/rules", {}, "prometheus", [("/api/v1/rules", {"type": "alert"})]),
        ("/monitoring/capacity", {}, "prometheus", [_q(n) for n in ("capacity:usage:ratio", "capacity:size", "capacity:headroom:ratio")]),
        ("/monitoring/capacity/forecast", {}, "prometheus", [_q(n) for n in (
            "capacity:usage:ratio_forecast", "capacity:usage:days_until_full", "capacity:size:recommended_addition")]),
        ("/monitoring/sla", {}, "prometheus", [_q(n) for n in ("sla:status:state", "sla:sli:ratio_month_to_date")]),
        ("/monitoring/sla/reports", {}, "prometheus", [_q(n) for n in (
            "sla:sli:ratio_month_to_date", "sla:error_budget_used:ratio_month_to_date",
            "sla:error_budget_used:ratio_month_projected")]),
        ("/monitoring/benchmarks", {}, "prometheus", quantiles),
        ("/monitoring/services", {}, "prometheus",
         [_q(rate.format(by=side, name=name)) for side in ("client", "server") for name in graph]),
        ("/monitoring/dependencies", {}, "prometheus", [_q(rate.format(by="client, server", name=name)) for name in graph]),
    ]


async def _timed(client: httpx.AsyncClient, requests: list[tuple[str, dict]], headers: dict, count: int) -> list[float]:
    """Wall time of each of `count` rounds sending `requests` concurrently, as the API does."""
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        responses = await asyncio.gather(*(client.get(url, params=params, headers=headers) for url, params in requests))
        durations.append(time.perf_counter() - started)
        for response in responses:
            if response.status_code != 200:
                raise SystemExit(f"{response.url}: HTTP {response.status_code} {response.text[:200]}")
    return durations


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


async def measure(stack, count: int) -> list[str]:
    print(f"{'endpoint':34} {'api p50':>9} {'api p99':>9} {'upstream p99':>13}  goal")
    missed = []
    headers = {"Authorization": f"Bearer {READ_TOKEN}"}
    bases = {"prometheus": stack.prometheus.url, "alertmanager": stack.alertmanager.url}
    async with httpx.AsyncClient(timeout=10) as client:
        for path, params, upstream, requests in endpoints():
            api = await _timed(client, [(f"{stack.api}{path}", params)], headers, count)
            direct = await _timed(client, [(f"{bases[upstream]}{url}", query) for url, query in requests], {}, count)
            bound = p(direct, 0.99) <= UPSTREAM_BOUND
            met = p(api, 0.99) < GOAL_P99
            verdict = ("met" if met else "MISSED") if bound else "n/a (upstream over 50 ms)"
            if bound and not met:
                missed.append(path)
            print(f"{path:34} {p(api, 0.5) * 1000:7.1f}ms {p(api, 0.99) * 1000:7.1f}ms {p(direct, 0.99) * 1000:11.1f}ms  {verdict}")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warm-up", type=float, default=20)
    args = parser.parse_args()

    settings = fast_settings(interval="5s", alerting={"receivers": {}})
    with tempfile.TemporaryDirectory() as tmp, Processes() as processes:
        stack = start_api_stack(processes, settings, Path(tmp), hosts=args.hosts)
        wait_until(stack.prometheus.targets_up, 120, "every target up")
        time.sleep(args.warm_up)
        series = stack.prometheus.value("prometheus_tsdb_head_series")
        print(f"{args.hosts} hosts per mock, {series:.0f} head series, {args.requests} sequential requests each;"
              " upstream: the endpoint's own upstream requests, sent concurrently as the API sends them")
        missed = asyncio.run(measure(stack, args.requests))
    if missed:
        print(f"p99 over {GOAL_P99 * 1000:.0f} ms: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
