"""Query latency of every dashboard against a real Prometheus, with and without recording rules.

    .venv/bin/python bench/bench_dashboards.py [--hosts 50] [--warm-up 300] [--range 5m] [--repeat 3]
                                               [--interval 10s] [--step SECONDS]

Starts every mock exporter simulating --hosts instances and Debian's Prometheus on 127.0.0.1 with
the rendered configuration and rules (scrape and evaluation every --interval), waits for the
warm-up (by default the whole --range, so every panel reads a full window), then runs each panel
query as Grafana does on load: a range query over --range at Grafana's step (the scrape interval,
the datasource's `timeInterval`, over a few minutes; --step forces another) with Grafana's
$__rate_interval. Each query runs twice, as written and with every recording rule expanded into
its expression ("without rules"), --repeat times each; the median counts, so one slow moment on a
shared machine does not make a figure. Prints per dashboard the median and worst panel and the
sum of one load, the slowest panels, and the slowest dashboard against the goal (<= 300 ms summed
at 50 instances per exporter) and the seed budgets (< 1 s per query, < 2 s per dashboard). Every
process is stopped on exit.

Expanding a rule drops the selector's own matchers (a rule's output cannot be filtered before it
exists), so the "without" column computes over every series — what a dashboard with All selected
costs anyway.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboards import render_dashboards  # noqa: E402
from dashboards.common import PROMETHEUS_UID  # noqa: E402
from rules.integrity import CONTRACT_GROUP  # noqa: E402
from settings import parse_settings  # noqa: E402
from tests.conftest import stack_raw_config  # noqa: E402
from tests.dashboards.procs import Processes, live_settings, start_stack  # noqa: E402
from tests.e2e.procs import Prometheus, wait_until  # noqa: E402
from tests.dashboards.queries import queries, recording_rules, runnable_here, substitute  # noqa: E402

QUERY_BUDGET_SECONDS = 1.0
DASHBOARD_BUDGET_SECONDS = 2.0
# Issue 12's goal for the slowest dashboard's panels summed, at 50 instances per exporter.
DASHBOARD_GOAL_SECONDS = 0.3
# Grafana asks for at most a panel's width in points, and never steps below the datasource's
# `timeInterval`, which the stack sets to the scrape interval (components/grafana_datasources.py):
# over a few minutes the step is the scrape interval.
MAX_DATA_POINTS = 1000
SLOWEST_PANELS_SHOWN = 8
# Prometheus gives up on a query after this long (an expanded rule can take minutes).
QUERY_TIMEOUT_SECONDS = 20
# The group recording what the data-validation dashboard used to compute at each load.
RECORDING_GROUPS_SHOWN = (CONTRACT_GROUP,)


def expand_rules(expr: str, rules: list[dict[str, Any]], rounds: int = 6) -> str:
    """`expr` with every recorded series replaced by the expression that records it (every rule
    recording that name whose fixed labels the selector does not contradict, joined by `or`)."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for rule in rules:
        by_name.setdefault(rule["record"], []).append(rule)
    for _ in range(rounds):
        changed = False
        for name, candidates in by_name.items():
            pattern = re.compile(rf"(?<![\w:]){re.escape(name)}(\{{[^{{}}]*\}})?(\[[^\]]+\])?(?![\w:])")

            def replace(match: re.Match) -> str:
                selector = match.group(1) or ""
                wanted = dict(re.findall(r'(\w+)="([^"]*)"', selector))
                matching = [r for r in candidates if all(wanted.get(k, v) == v for k, v in r.get("labels", {}).items())]
                window = match.group(2) or ""
                # A range over an expression is a subquery.
                return "(" + " or ".join(f"({r['expr']})" for r in matching or candidates) + ")" + (window[:-1] + ":]" if window else "")

            expanded = pattern.sub(replace, expr)
            changed |= expanded != expr
            expr = expanded
        if not changed:
            break
    return expr


def grafana_step(span_seconds: int, scrape_seconds: int) -> int:
    return max(scrape_seconds, math.ceil(span_seconds / MAX_DATA_POINTS))


def grafana_rate_interval(step_seconds: int, scrape_seconds: int) -> int:
    """Grafana's $__rate_interval: four scrapes, or a step plus a scrape when steps are longer."""
    return max(4 * scrape_seconds, step_seconds + scrape_seconds)


def range_query_seconds(url: str, expr: str, span_seconds: int, step_seconds: int) -> float:
    end = time.time()
    params = urllib.parse.urlencode(
        {"query": expr, "start": end - span_seconds, "end": end, "step": step_seconds, "timeout": f"{QUERY_TIMEOUT_SECONDS}s"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(f"{url}/api/v1/query_range?{params}", timeout=60) as response:
        body = json.loads(response.read())
    elapsed = time.perf_counter() - started
    if body.get("status") != "success":
        raise RuntimeError(f"query failed: {expr}: {body}")
    return elapsed


def median_seconds(url: str, expr: str, span_seconds: int, step_seconds: int, repeat: int) -> float:
    return statistics.median(range_query_seconds(url, expr, span_seconds, step_seconds) for _ in range(repeat))


def parse_duration(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(text[:-1]) * units[text[-1]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=50, help="instances each mock exporter simulates")
    parser.add_argument("--warm-up", type=int, help="seconds of scraping before measuring (default: the --range)")
    parser.add_argument("--range", default="5m", help="time range of each panel query (s, m or h)")
    parser.add_argument("--interval", default="10s", help="scrape and evaluation interval of the run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per query; the median counts")
    parser.add_argument("--step", type=int, help="seconds between points (default: Grafana's, from the range and interval)")
    args = parser.parse_args(argv)

    settings = parse_settings(live_settings(stack_raw_config("staging"), args.interval), "staging")
    rules = recording_rules(settings)
    span = parse_duration(args.range)
    warm_up = span if args.warm_up is None else args.warm_up
    scrape = parse_duration(args.interval)
    step = args.step or grafana_step(span, scrape)
    rate_interval = f"{grafana_rate_interval(step, scrape)}s"
    processes = Processes()
    failures = 0
    loads: dict[str, float] = {}
    panel_times: list[tuple[float, str]] = []
    unexpandable: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-dashboards-") as workdir:
            url = start_stack(settings, Path(workdir), processes, hosts=args.hosts).prometheus.url
            wait_until(lambda: Prometheus(url).targets_up(), 120, "every target up", interval=1)
            print(f"Prometheus at {url}; every mock exporter with {args.hosts} instances; warming up {warm_up}s", flush=True)
            time.sleep(warm_up)
            series = Prometheus(url).value("prometheus_tsdb_head_series")
            print(f"head series {series:.0f}; range {args.range}, step {step}s ({span // step} points), $__rate_interval "
                  f"{rate_interval}, median of {args.repeat} runs per query")
            header = f"{'dashboard':<18} {'panels':>6} {'median':>8} {'worst':>8} {'load':>8}   {'median':>8} {'worst':>8} {'load':>8}"
            print("\n" + " " * 26 + "with recording rules".center(26) + "   " + "expanded (without)".center(26))
            print(header)
            for uid, model in render_dashboards(settings).items():
                with_rules, without_rules = [], []
                for query in queries(model):
                    if query.datasource != PROMETHEUS_UID:
                        continue
                    expr = substitute(query.expr, settings, rate_interval, f"{step}s")
                    if not runnable_here(expr):
                        continue
                    with_rules.append(median_seconds(url, expr, span, step, args.repeat))
                    try:
                        without_rules.append(median_seconds(url, expand_rules(expr, rules), span, step, args.repeat))
                    except urllib.error.HTTPError:
                        # A recorded series under `offset` has no expanded form in PromQL, and some
                        # expansions outlast Prometheus' query timeout.
                        unexpandable.append(f"{uid} / {query.title} [{query.ref_id}]")
                    panel_times.append((with_rules[-1], f"{uid} / {query.title} [{query.ref_id}]"))
                if not with_rules:
                    print(f"{uid:<18} {0:>6}   (Loki, Grafana, Tempo or Pyroscope only: not measurable here)")
                    continue
                loads[uid] = sum(with_rules)
                row = [uid, len(with_rules)]
                for timings in (with_rules, without_rules or [math.nan]):
                    row += [statistics.median(timings), max(timings), sum(timings)]
                print(f"{row[0]:<18} {row[1]:>6} " + " ".join(f"{v:>8.3f}" for v in row[2:5]) + "   " + " ".join(f"{v:>8.3f}" for v in row[5:]))
                if max(with_rules) >= QUERY_BUDGET_SECONDS or sum(with_rules) >= DASHBOARD_BUDGET_SECONDS:
                    failures += 1
            if unexpandable:
                print(f"\nleft out of the expanded column (no expanded form, or over {QUERY_TIMEOUT_SECONDS} s): {unexpandable}")
            print("\nslowest panels (with rules):")
            for seconds, where in sorted(panel_times, reverse=True)[:SLOWEST_PANELS_SHOWN]:
                print(f"  {seconds * 1000:8.1f} ms  {where}")
            # What the recording rules cost instead: once per evaluation, not per dashboard load.
            for group in Prometheus(url).query("prometheus_rule_group_last_duration_seconds"):
                name = group["metric"]["rule_group"].rsplit(";", 1)[1]
                if name in RECORDING_GROUPS_SHOWN:
                    print(f"rule group {name}: {float(group['value'][1]) * 1000:.1f} ms per evaluation "
                          f"(every {settings.alerting.slo_long_interval} here; 5m by default)")
            slowest = max(loads, key=loads.get)
            verdict = "within" if loads[slowest] <= DASHBOARD_GOAL_SECONDS else "OVER"
            print(f"\nslowest dashboard: {slowest} {loads[slowest] * 1000:.0f} ms summed at {args.hosts} instances per exporter "
                  f"({verdict} the {DASHBOARD_GOAL_SECONDS * 1000:.0f} ms goal)")
            print(f"budget: < {QUERY_BUDGET_SECONDS:g} s per query, < {DASHBOARD_BUDGET_SECONDS:g} s per dashboard load (with rules)")
            print("over budget: " + (f"{failures} dashboard(s)" if failures else "none"))
    finally:
        processes.stop_all()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
