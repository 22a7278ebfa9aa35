"""The capacity forecast's back-test: 60 days of a filesystem's usage following known laws (5 m
samples, seeded noise); what a forecast as of day 30 can read is loaded into a real Prometheus
(Debian's 2.42) through `promtool tsdb create-blocks-from openmetrics`, each method's forecast is
evaluated there as of day 30 (`/api/v1/query?time=`), and compared with the generated day 60.

The forecasts are the rule module's own expressions (rules/capacity.py), with the recorded daily
peak written out as a subquery at the recording interval. Backfilling the recordings instead
(`promtool tsdb create-blocks-from rules`) needs one backfill and restart per level of the chain
(ratio -> daily peak -> forecast: rules reading other recordings cannot be backfilled in one pass),
about three times the run time for the same numbers: the subquery evaluates the same expression
text at the same 5 m steps the recording would.

Accuracy per law is `1 - |forecast - actual| / capacity`. `actual` is the peak of day 60 (the
highest usage over its last 24 h): the quantity the forecast predicts and the one that decides
whether the disk fills; a forecast of the mean would be full at noon every day.
"""

from __future__ import annotations

import math
import random
import subprocess
import urllib.parse
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Callable

from rules.capacity import CONFIG, CapacityConfig, Sizes, forecast, peak, resources
from rules.common import RuleContext
from settings.types import duration_seconds
from tests.e2e.procs import PROMETHEUS_BINARY, Processes, free_port, http_json, http_ok, wait_until

DAY = 86400
STEP_SECONDS = 300
STEP = "5m"
DAYS = 60
FORECAST_DAY = 30
SEED = 15
# A fixed origin (2026-01-05, a Monday, 00:00 UTC): nothing depends on when the test runs.
ORIGIN = 1767571200
CAPACITY_BYTES = 1_000_000_000_000
# Recoverable by the chosen method to within this share of capacity on every law but the step.
TARGET_ACCURACY = 0.90
STEP_LAW = "step"


@dataclass(frozen=True)
class Law:
    name: str
    describe: str
    usage: Callable[[float, random.Random], float]  # day (float) -> used share of capacity


LAWS = (
    Law("linear", "0.20 + 0.008/day", lambda d, rng: 0.20 + 0.008 * d),
    Law("cycles", "0.25 + 0.006/day, daily ±0.10 and weekly ±0.05 waves, noise σ 0.01",
        lambda d, rng: 0.25 + 0.006 * d + 0.10 * math.sin(2 * math.pi * d) + 0.05 * math.sin(2 * math.pi * d / 7) + rng.gauss(0, 0.01)),
    Law(STEP_LAW, "0.30 + 0.002/day, +0.25 at day 20 (a migration landing)",
        lambda d, rng: 0.30 + 0.002 * d + (0.25 if d >= 20 else 0.0)),
    Law("flat", "0.50, noise σ 0.005", lambda d, rng: 0.50 + rng.gauss(0, 0.005)),
)


def _labels(law: str) -> str:
    return (f'env="backtest",exporter="node",source="real",instance="host:9100",device="/dev/{law}",'
            f'fstype="ext4",mountpoint="/{law}"')


def histories(laws: tuple[Law, ...] = LAWS, seed: int = SEED) -> dict[str, list[int]]:
    """Each law's available bytes, one sample per 5 minutes for 60 days (noise from one seeded
    generator, law after law)."""
    rng = random.Random(seed)
    steps = DAYS * DAY // STEP_SECONDS + 1
    return {
        law.name: [round(CAPACITY_BYTES * (1 - min(max(law.usage(i * STEP_SECONDS / DAY, rng), 0.0), 1.0))) for i in range(steps)]
        for law in laws
    }


def actual_peaks(avail: dict[str, list[int]]) -> dict[str, float]:
    """The truth at day 60: each law's highest usage over the last 24 h, from the generated samples."""
    last_day = DAY // STEP_SECONDS
    return {law: 1 - min(values[-last_day:]) / CAPACITY_BYTES for law, values in avail.items()}


def openmetrics(avail: dict[str, list[int]], first_day: int, last_day: int) -> str:
    """The samples of days [first_day, last_day) as node exporter filesystem series."""
    per_day = DAY // STEP_SECONDS
    span = range(first_day * per_day, last_day * per_day)
    lines = ["# TYPE node_filesystem_avail_bytes gauge"]
    lines += [f"node_filesystem_avail_bytes{{{_labels(law)}}} {values[i]} {ORIGIN + i * STEP_SECONDS}"
              for law, values in avail.items() for i in span]
    lines.append("# TYPE node_filesystem_size_bytes gauge")
    lines += [f"node_filesystem_size_bytes{{{_labels(law)}}} {CAPACITY_BYTES} {ORIGIN + i * STEP_SECONDS}"
              for law in avail for i in span]
    return "\n".join([*lines, "# EOF", ""])


def usage_expression() -> str:
    """The deployed rules' filesystem usage ratio (capacity:usage:ratio for filesystem_space)."""
    ctx = RuleContext(modes=MappingProxyType({"node": "real"}), slos=(), services=())
    [space] = [r for r in resources(ctx, CONFIG, Sizes()) if r.name == "filesystem_space"]
    return f"({space.usage})"


def methods(config: CapacityConfig = CONFIG) -> dict[str, str]:
    """Forecast expressions by method, as of the evaluation time, each `horizon` ahead."""
    usage = usage_expression()
    fortnight = replace(config, trend_window="14d")
    return {
        f"daily peaks, linear over {config.trend_window} (deployed)": forecast(peak(usage, config, STEP), config, STEP),
        "daily peaks, linear over 14d": forecast(peak(usage, fortnight, STEP), fortnight, STEP),
        # The plain linear trend: the same line through the raw series instead of its daily peaks.
        f"raw series, linear over {config.trend_window}": forecast(usage, config, STEP),
    }


CHOSEN = next(iter(methods()))


@dataclass(frozen=True)
class Result:
    law: str
    method: str
    forecast: float
    actual: float

    @property
    def accuracy(self) -> float:
        return 1 - abs(self.forecast - self.actual)


def load(avail: dict[str, list[int]], workdir: Path, parts: int = 3) -> Path:
    """TSDB blocks under `workdir/tsdb` of what a forecast as of day 30 can read: days 0 to 30
    (the trend window and the first peak window behind it). The truth at day 60 is computed from
    the same samples, so the importer writes half the blocks; it writes one 2 h block at a time
    (Prometheus 2.42 has no --max-block-duration), mostly per-block work, so the days are split into
    `parts` importers running side by side, at day boundaries (2 h blocks never straddle them)."""
    tsdb = workdir / "tsdb"
    bounds = [round(FORECAST_DAY * k / parts) for k in range(parts + 1)]
    running = []
    for first, last in zip(bounds, bounds[1:]):
        source = workdir / f"days-{first}-{last}.om.txt"
        source.write_text(openmetrics(avail, first, last + (1 if last == FORECAST_DAY else 0)))
        running.append(subprocess.Popen(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(source), str(tsdb)],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for importer in running:
        output, _ = importer.communicate(timeout=300)
        if importer.returncode:
            raise RuntimeError(f"promtool create-blocks-from openmetrics failed: {output[-2000:]}")
    return tsdb


def start_prometheus(processes: Processes, tsdb: Path, workdir: Path) -> str:
    """Prometheus on 127.0.0.1 serving the imported blocks: no scrapes, retention beyond the
    blocks' age, and local compaction off (min = max block duration) so it only answers queries."""
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  evaluation_interval: 1m\n")
    port = free_port()
    processes.start(
        [PROMETHEUS_BINARY, f"--config.file={config}", f"--storage.tsdb.path={tsdb}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=3650d",
         "--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h", "--log.level=warn"],
        workdir / "prometheus.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(f"{url}/-/ready"), 60, "Prometheus ready on the back-test TSDB")
    return url


def query(url: str, expr: str, at: int) -> dict[str, float]:
    """Instant query at `at`: mountpoint -> value."""
    params = urllib.parse.urlencode({"query": expr, "time": str(at)})
    answer = http_json(f"{url}/api/v1/query?{params}", timeout=120)
    if answer["status"] != "success":
        raise RuntimeError(f"{expr}: {answer}")
    return {item["metric"]["mountpoint"].lstrip("/"): float(item["value"][1]) for item in answer["data"]["result"]}


def run(url: str, actual: dict[str, float], config: CapacityConfig = CONFIG) -> list[Result]:
    """Every method's forecast as of day 30 against `actual` (actual_peaks)."""
    if duration_seconds(config.horizon) != (DAYS - FORECAST_DAY) * DAY:
        raise ValueError(f"the back-test forecasts day {DAYS} from day {FORECAST_DAY}: horizon {config.horizon}")
    as_of = ORIGIN + FORECAST_DAY * DAY
    results = []
    for method, expr in methods(config).items():
        forecasts = query(url, expr, as_of)
        results += [Result(law.name, method, forecasts[law.name], actual[law.name]) for law in LAWS]
    return results


def backtest(workdir: Path, processes: Processes) -> list[Result]:
    avail = histories()
    url = start_prometheus(processes, load(avail, workdir), workdir)
    return run(url, actual_peaks(avail))


def table(results: list[Result]) -> str:
    lines = [f"{'law':8} {'method':42} {'forecast':>9} {'actual':>7} {'accuracy':>9}"]
    for r in results:
        lines.append(f"{r.law:8} {r.method:42} {r.forecast:9.3f} {r.actual:7.3f} {r.accuracy:9.1%}")
    return "\n".join(lines)
