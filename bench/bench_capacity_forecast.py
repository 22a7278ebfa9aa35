"""Capacity forecast: accuracy per law and method (the back-test), and what the trend costs.

    .venv/bin/python bench/bench_capacity_forecast.py [--repeat 5]

Builds the back-test's TSDB (tests/capacity/backtest.py: four laws, 5 m samples, fixed seed), runs
Debian's Prometheus on 127.0.0.1 over it, and prints each method's forecast of day 60 made on day
30 with its accuracy `1 - |forecast - actual| / capacity`. Then it times instant queries as of day
30, per series: the deployed trend rule's read (`predict_linear` over 28 days of a 5 m series, what
the recorded daily peak is) against the same forecast written out with subqueries (what the
dashboard would pay without the recordings). Every process is stopped.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rules.capacity import CONFIG, forecast, peak  # noqa: E402
from tests.capacity import backtest  # noqa: E402
from tests.e2e.procs import Processes  # noqa: E402


def timed(url: str, expr: str, at: int, repeat: int) -> float:
    """Median seconds of `repeat` instant queries of `expr` at `at`."""
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        backtest.query(url, expr, at)
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Processes() as processes:
        started = time.monotonic()
        avail = backtest.histories()
        url = backtest.start_prometheus(processes, backtest.load(avail, Path(tmp)), Path(tmp))
        print(f"{len(avail)} laws x {backtest.FORECAST_DAY + 1} days loaded in {time.monotonic() - started:.0f} s")
        results = backtest.run(url, backtest.actual_peaks(avail))
        print(backtest.table(results))
        for law in backtest.LAWS:
            print(f"  {law.name:8} {law.describe}")
        as_of = backtest.ORIGIN + backtest.FORECAST_DAY * backtest.DAY
        series = len(avail)
        # A stored 5 m series stands for the recorded peaks (same sample count as the rule reads).
        stored = 'node_filesystem_avail_bytes{env="backtest"}'
        costs = {
            "trend rule (predict_linear over 28d of a 5 m series)": forecast(stored, CONFIG),
            "peak rule (max_over_time over 1d of a 5 m series)": peak(stored, CONFIG),
            "forecast without recordings (nested subqueries)": backtest.methods()[backtest.CHOSEN],
        }
        print(f"\n{'query as of day 30':58} {'per series':>12}")
        for name, expr in costs.items():
            print(f"{name:58} {timed(url, expr, as_of, args.repeat) / series * 1000:9.2f} ms")
    print("The deployed peak rule reads 1 d at the scrape interval (2,880 samples at 30 s, ten times the 5 m row above);"
          " the trend reads the recorded peaks (8,064 samples at the 5 m capacity interval).")
    chosen_ok = all(r.accuracy >= backtest.TARGET_ACCURACY for r in results
                    if r.method == backtest.CHOSEN and r.law != backtest.STEP_LAW)
    return 0 if chosen_ok else 1


if __name__ == "__main__":
    sys.exit(main())
