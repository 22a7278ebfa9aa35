"""vLLM's own published Grafana dashboard has data for every one of its queries on the mock.

The dashboard's 27 queries (vendored with their provenance in vllm_published_dashboard.yaml) run
against a real Prometheus scraping two mock vLLM servers: one of the current generation (v0.33.0
names) and one of the previous (v0.10.1.1), each serving another model. Every query has data for
the current server's model. The previous server is the control that shows the check can fail: its
model has data for every query but the inter-token latency panel's, the histogram it serves under
its old name (time_per_output_token_seconds)."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import pytest
import yaml

from mock_exporter.signals import Wave, seconds_until, unit_hash
from mock_exporter.vllm import MODELS
from tests.dashboards.procs import Processes, instant_query
from tests.e2e.procs import free_port, http_ok, start_prometheus, wait_until

pytestmark = pytest.mark.e2e

DASHBOARD = yaml.safe_load(Path(__file__).with_name("vllm_published_dashboard.yaml").read_text())
# Seeds whose simulated servers serve different models (a seed picks the model).
SEEDS = {"current": 3, "previous": 4}
SCRAPE_INTERVAL = "1s"
RATE_INTERVAL = "10s"  # Grafana's $__rate_interval for a 1 s scrape and a short time range
WARM_UP_SECONDS = 15


def model_of(seed: int) -> str:
    return MODELS[int(unit_hash(seed, 1) * len(MODELS))]


def queries() -> list[tuple[str, str]]:
    return [(f"{panel['title']} [{target['refId']}]", target["expr"]) for panel in DASHBOARD["panels"] for target in panel["targets"]]


def start_mock(processes: Processes, workdir: Path, generation: str) -> str:
    """One simulated server, its clock at its daily peak so every 10 s window holds requests."""
    seed = SEEDS[generation]
    offset = seconds_until(Wave(seed, 0), time.time(), "peak")
    port = free_port()
    processes.start(
        [sys.executable, "-m", "mock_exporter", "--exporter", "vllm", "--listen", f"127.0.0.1:{port}", "--seed", str(seed),
         "--clock-offset", repr(offset), "--vllm-generation", generation],
        workdir / f"mock-vllm-{generation}.log",
    )
    wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/metrics"), 30, f"mock vLLM ({generation})")
    return f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("vllm-published")
    processes = Processes()
    try:
        targets = [start_mock(processes, workdir, generation) for generation in SEEDS]
        config = {"global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": "1s"},
                  "scrape_configs": [{"job_name": "vllm", "static_configs": [{"targets": targets}]}]}
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        prometheus = start_prometheus(processes, workdir / "prometheus.yml", workdir, free_port())
        time.sleep(WARM_UP_SECONDS)
        yield prometheus.url
    finally:
        processes.stop_all()


def has_data(url: str, expr: str, model: str) -> bool:
    query = expr.replace("$model_name", model).replace("$__rate_interval", RATE_INTERVAL)
    result = instant_query(url, query)
    assert result["status"] == "success", (query, result)
    return any(not math.isnan(float(item["value"][1])) for item in result["data"]["result"])


def test_the_published_dashboard_has_27_queries():
    assert len(queries()) == 27
    assert DASHBOARD["commit"] and DASHBOARD["source"].endswith("grafana.json")


def test_every_published_query_has_data_on_the_current_mock(prometheus):
    model = model_of(SEEDS["current"])
    empty = [where for where, expr in queries() if not has_data(prometheus, expr, model)]
    assert empty == [], f"queries of vLLM's dashboard without data for {model}"


def test_the_previous_generation_lacks_only_the_renamed_histogram(prometheus):
    """The control: on a v0.10.1.1 server the inter-token latency panel is empty, everything else
    has data — the gap the rules' and our dashboard's `or` over both names closes."""
    model = model_of(SEEDS["previous"])
    assert model != model_of(SEEDS["current"])
    empty = [where for where, expr in queries() if not has_data(prometheus, expr, model)]
    assert empty == [f"Inter Token Latency [{ref}]" for ref in "ABCDE"]
