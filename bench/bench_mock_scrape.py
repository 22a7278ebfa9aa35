"""Scrape cost of the mock node exporter against the real prometheus-node-exporter.

Run from the repository root:  python bench/bench_mock_scrape.py [--scrapes 40]

Starts, on 127.0.0.1 only: the real node exporter, the mock at its default size, and the mock sized
to about the real exporter's series count. Each is scraped N times; the table gives series count,
median and p95 latency, and process CPU per scrape (utime+stime from /proc/<pid>/stat), also per
1000 series. Every process started here is stopped before exiting; the run is capped at 55 s.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
DEADLINE_SECONDS = 55.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Target:
    label: str
    argv: tuple[str, ...]
    port: int


@dataclass(frozen=True)
class Result:
    label: str
    series: int
    median_ms: float
    p95_ms: float
    cpu_ms_per_scrape: float

    @property
    def cpu_ms_per_1000_series(self) -> float:
        return self.cpu_ms_per_scrape * 1000 / self.series if self.series else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/metrics", timeout=10) as reply:
        return reply.read().decode()


def wait_ready(port: int, process: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            scrape(port)
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"port {port} not serving after {timeout}s")


def series_count(text: str) -> int:
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def measure(target: Target, scrapes: int, deadline: float) -> Result:
    process = subprocess.Popen(target.argv, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(target.port, process)
        for _ in range(3):  # warm-up: first scrapes pay for lazy initialisation
            scrape(target.port)
        series = series_count(scrape(target.port))
        cpu_before = process_cpu_seconds(process.pid)
        latencies: list[float] = []
        for _ in range(scrapes):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            scrape(target.port)
            latencies.append(time.perf_counter() - started)
        cpu = process_cpu_seconds(process.pid) - cpu_before
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    latencies.sort()
    return Result(
        label=target.label,
        series=series,
        median_ms=statistics.median(latencies) * 1000,
        p95_ms=latencies[int(0.95 * (len(latencies) - 1))] * 1000,
        cpu_ms_per_scrape=cpu * 1000 / len(latencies),
    )


def mock_target(label: str, *options: str) -> Target:
    port = free_port()
    argv = (sys.executable, "-m", "mock_exporter", "--exporter", "node", "--listen", f"{LOOPBACK}:{port}", *options)
    return Target(label, argv, port)


def table(results: list[Result]) -> str:
    rows = [f"{'target':<34} {'series':>7} {'median ms':>10} {'p95 ms':>8} {'CPU ms/scrape':>14} {'CPU ms/1k series':>17}"]
    for r in results:
        rows.append(
            f"{r.label:<34} {r.series:>7} {r.median_ms:>10.2f} {r.p95_ms:>8.2f} {r.cpu_ms_per_scrape:>14.2f} {r.cpu_ms_per_1000_series:>17.2f}"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=100)
    args = parser.parse_args()
    if not os.access(NODE_EXPORTER, os.X_OK):
        print(f"{NODE_EXPORTER} is not installed", file=sys.stderr)
        return 1
    deadline = time.monotonic() + DEADLINE_SECONDS
    real_port = free_port()
    real = Target("prometheus-node-exporter (real)", (NODE_EXPORTER, f"--web.listen-address={LOOPBACK}:{real_port}"), real_port)
    results = [measure(real, args.scrapes, deadline)]
    results.append(measure(mock_target("mock, default size (8 CPUs)"), args.scrapes, deadline))
    # Size the mock to the real series count: each extra CPU adds 8 series, each disk ~9 + 7 filesystem series.
    default_series = results[1].series
    extra_cpus = max(0, (results[0].series - default_series) // 8)
    results.append(measure(mock_target(f"mock, {8 + extra_cpus} CPUs (≈ real size)", "--cpus", str(8 + extra_cpus)), args.scrapes, deadline))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
