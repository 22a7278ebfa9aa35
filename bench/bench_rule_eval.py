"""Rule-group evaluation time at a realistic series count.

    .venv/bin/python bench/bench_rule_eval.py [--hosts 50] [--interval 10s] [--warm-up 60]

Runs every mock exporter simulating --hosts hosts each, and Debian's Prometheus on 127.0.0.1 with
the rendered configuration and the stack's full rule set (scrape and evaluation every --interval).
After the warm-up it reads `prometheus_rule_group_last_duration_seconds` and
`prometheus_rule_group_last_evaluation_samples` per group and prints them with the head series
count. A group must finish well within its interval (the deployed one is 30 s): the script exits 1
when any group takes more than a tenth of it. The long SLO windows (1d, 3d, 30d) and the capacity
peaks and trends (1d, 28d; evaluated here at --interval, deployed every 5 m) read only the warm-up's
data here, so their figures are lower bounds (bench_capacity_forecast.py times the 28-day trend). Loopback only; every process is stopped.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from settings.types import duration_seconds  # noqa: E402
from tests.e2e.procs import Processes, fast_settings, start_local_stack, wait_until  # noqa: E402

DEPLOYED_INTERVAL = 30.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--interval", default="10s")
    parser.add_argument("--warm-up", type=float, default=60)
    args = parser.parse_args()

    settings = fast_settings(interval=args.interval, for_scale=1.0, alerting={"receivers": {}})
    with tempfile.TemporaryDirectory() as tmp, Processes() as processes:
        started = time.monotonic()
        stack = start_local_stack(processes, settings, Path(tmp), hosts=args.hosts)
        wait_until(stack.prometheus.targets_up, 90, "every target up", interval=1)
        print(f"{len(stack.mocks)} mock exporters x {args.hosts} hosts up after {time.monotonic() - started:.0f} s; "
              f"warming up {args.warm_up:.0f} s")
        time.sleep(args.warm_up)
        prometheus = stack.prometheus
        series = prometheus.value("prometheus_tsdb_head_series")
        samples = prometheus.value("sum(scrape_samples_scraped)")
        durations = {r["metric"]["rule_group"].rsplit(";", 1)[1]: float(r["value"][1])
                     for r in prometheus.query("prometheus_rule_group_last_duration_seconds")}
        outputs = {r["metric"]["rule_group"].rsplit(";", 1)[1]: float(r["value"][1])
                   for r in prometheus.query("prometheus_rule_group_last_evaluation_samples")}
        failures = prometheus.value("sum(prometheus_rule_evaluation_failures_total)")
    print(f"head series {series:.0f}, samples per scrape round {samples:.0f}, rule evaluation failures {failures:.0f}")
    print(f"{'group':32} {'last duration':>14} {'samples out':>12}")
    for group, seconds in sorted(durations.items(), key=lambda item: -item[1]):
        print(f"{group:32} {seconds * 1000:11.1f} ms {outputs.get(group, 0):12.0f}")
    total = sum(durations.values())
    budget = DEPLOYED_INTERVAL / 10
    print(f"all groups: {total * 1000:.1f} ms per evaluation round; slowest group "
          f"{max(durations.values()) * 1000:.1f} ms (budget {budget:.0f} s = a tenth of the {DEPLOYED_INTERVAL:.0f} s interval)")
    ok = max(durations.values()) < budget and not failures and duration_seconds(args.interval) > 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
