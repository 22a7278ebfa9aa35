"""Time the offline preview of each stack: resources declared and seconds, median of a few runs."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3


def preview_once(stack: str, out: Path) -> tuple[float, int]:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "preview", stack, "--out", str(out), "--quiet"],
        cwd=ROOT, check=True, capture_output=True, timeout=300,
    )
    elapsed = time.perf_counter() - started
    resources = json.loads((out / "resources.json").read_text())["resources"]
    return elapsed, len(resources)


def main() -> None:
    print(f"{'stack':<10}{'resources':>10}{'median s':>10}{'min s':>8}{'max s':>8}   ({RUNS} runs, process start included)")
    with tempfile.TemporaryDirectory() as tmp:
        for stack in ("staging", "prod"):
            timings, count = [], 0
            for run in range(RUNS):
                elapsed, count = preview_once(stack, Path(tmp) / f"{stack}-{run}")
                timings.append(elapsed)
            print(f"{stack:<10}{count:>10}{statistics.median(timings):>10.2f}{min(timings):>8.2f}{max(timings):>8.2f}")


if __name__ == "__main__":
    main()
