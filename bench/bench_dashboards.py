"""Query latency of every dashboard against a real Prometheus, with and without recording rules.

    .venv/bin/python bench/bench_dashboards.py [--node-hosts 50] [--warm-up 60] [--range 1h]

Starts the mock exporters (the node mock simulating --node-hosts hosts) and Debian's Prometheus on
127.0.0.1 with the rendered configuration and rules, waits for the warm-up, then runs each panel
query as Grafana does on load (a range query over --range) twice: as written, and with every
recording rule expanded into its expression ("without rules"). Prints per dashboard the median
and worst panel and the sum of one load, against the seed budgets (< 1 s per query, < 2 s per
dashboard). Every process is stopped on exit.

Expanding a rule drops the selector's own matchers (a rule's output cannot be filtered before it
exists), so the "without" column computes over every series — what a dashboard with All selected
costs anyway.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboards import render_dashboards  # noqa: E402
from dashboards.common import LOKI_UID  # noqa: E402
from settings import parse_settings  # noqa: E402
from tests.conftest import stack_raw_config  # noqa: E402
from tests.dashboards.procs import Processes, live_settings, start_stack  # noqa: E402
from tests.dashboards.queries import queries, recording_rules, runnable_here, substitute  # noqa: E402

QUERY_BUDGET_SECONDS = 1.0
DASHBOARD_BUDGET_SECONDS = 2.0
# Grafana asks for about this many points per panel.
POINTS = 300
NAME = r"[A-Za-z_:][A-Za-z0-9_:]*"


def expand_rules(expr: str, rules: list[dict[str, Any]], rounds: int = 6) -> str:
    """`expr` with every recorded series replaced by the expression that records it."""
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
                rule = next(
                    (r for r in candidates if all(wanted.get(k, v) == v for k, v in r.get("labels", {}).items())),
                    candidates[0],
                )
                window = match.group(2) or ""
                # A range over an expression is a subquery.
                return f"({rule['expr']})" + (window[:-1] + ":]" if window else "")

            expanded = pattern.sub(replace, expr)
            changed |= expanded != expr
            expr = expanded
        if not changed:
            break
    return expr


def range_query_seconds(url: str, expr: str, span_seconds: int) -> float:
    end = time.time()
    params = urllib.parse.urlencode(
        {"query": expr, "start": end - span_seconds, "end": end, "step": max(1, span_seconds // POINTS)}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(f"{url}/api/v1/query_range?{params}", timeout=60) as response:
        body = json.loads(response.read())
    elapsed = time.perf_counter() - started
    if body.get("status") != "success":
        raise RuntimeError(f"query failed: {expr}: {body}")
    return elapsed


def parse_duration(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(text[:-1]) * units[text[-1]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--node-hosts", type=int, default=50)
    parser.add_argument("--warm-up", type=int, default=60, help="seconds of scraping before measuring")
    parser.add_argument("--range", default="1h", help="time range of each panel query (s, m or h)")
    parser.add_argument("--interval", default="5s", help="scrape and evaluation interval of the run")
    args = parser.parse_args(argv)

    settings = parse_settings(live_settings(stack_raw_config("staging"), args.interval), "staging")
    rules = recording_rules(settings)
    span = parse_duration(args.range)
    processes = Processes()
    failures = 0
    try:
        with tempfile.TemporaryDirectory(prefix="bench-dashboards-") as workdir:
            url = start_stack(settings, Path(workdir), processes, hosts={"node": args.node_hosts})
            print(f"Prometheus at {url}; node mock with {args.node_hosts} hosts; warming up {args.warm_up}s", flush=True)
            time.sleep(args.warm_up)
            header = f"{'dashboard':<18} {'panels':>6} {'median':>8} {'worst':>8} {'load':>8}   {'median':>8} {'worst':>8} {'load':>8}"
            print("\n" + " " * 26 + "with recording rules".center(26) + "   " + "expanded (without)".center(26))
            print(header)
            for uid, model in render_dashboards(settings).items():
                with_rules, without_rules = [], []
                for query in queries(model):
                    if query.datasource == LOKI_UID:
                        continue
                    expr = substitute(query.expr, settings, "1m")
                    if not runnable_here(expr):
                        continue
                    with_rules.append(range_query_seconds(url, expr, span))
                    without_rules.append(range_query_seconds(url, expand_rules(expr, rules), span))
                if not with_rules:
                    print(f"{uid:<18} {0:>6}   (Loki/Grafana only: not measurable here)")
                    continue
                row = [uid, len(with_rules)]
                for timings in (with_rules, without_rules):
                    row += [statistics.median(timings), max(timings), sum(timings)]
                print(f"{row[0]:<18} {row[1]:>6} " + " ".join(f"{v:>8.3f}" for v in row[2:5]) + "   " + " ".join(f"{v:>8.3f}" for v in row[5:]))
                if max(with_rules) >= QUERY_BUDGET_SECONDS or sum(with_rules) >= DASHBOARD_BUDGET_SECONDS:
                    failures += 1
            print(f"\nbudget: < {QUERY_BUDGET_SECONDS:g} s per query, < {DASHBOARD_BUDGET_SECONDS:g} s per dashboard load (with rules)")
            print("over budget: " + (f"{failures} dashboard(s)" if failures else "none"))
    finally:
        processes.stop_all()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
