"""Every Prometheus panel of every dashboard, run against a real Prometheus (Debian's 2.42) scraping
the mock exporters with the rendered configuration and rules — and the `spanmetrics` mock, standing in
for the series Tempo's metrics-generator would remote-write, for the services dashboard.

On the healthy stack, every panel returns data except the problem-only ones (their description
says "Empty when ..."), which must be empty or zero. Then each problem is made to happen — mock
faults, a receiver that fails, and a configuration reload that brings a real node exporter into
shadow with a collector turned off, a host too big for its sample limit, a job written by hand and
a rule that cannot evaluate — and every problem-only panel must return a series. Panels that
cannot run here (Loki, Grafana) and problems that cannot be caused here are listed with the
reason; a panel missing from those lists fails the test until it is reviewed.
"""

from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from dashboards import render_dashboards
from dashboards.common import LOKI_UID, PYROSCOPE_UID, TEMPO_UID
from mock_exporter.signals import DAY
from rules.common import stack_services
from services.topology import Endpoint
from settings import parse_settings
from settings.model import StackSettings
from tests.conftest import stack_raw_config
from tests.dashboards.procs import instant_query, live_settings, start_stack
from tests.dashboards.queries import NOT_RUNNABLE_PREFIXES, metric_names, queries, substitute
from tests.e2e.procs import (
    MOCKED, PROMETHEUS_BINARY, LocalStack, Mock, Processes, WebhookReceiver, free_port, http_json, start_mock, start_real,
    wait_until, write_prometheus_config,
)

pytestmark = pytest.mark.e2e

# Long enough for two evaluations of every 5 m-window rule at a 2 s interval, and for the rate()
# windows of panels ($__rate_interval -> 10s) to hold several samples.
WARM_UP_SECONDS = 25
RATE_INTERVAL = "10s"
# After the problems start, rate windows wide enough to hold the first failures.
PROBLEM_RATE_INTERVAL = "30s"
PROBLEM_TIMEOUT_SECONDS = 90
# The mocks serve this moment of their day whatever the hour the test runs (their values are a
# function of seed and time): what the healthy run sees does not move with the clock.
PINNED_SECOND_OF_DAY = 12 * 3600
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
# The real node exporter runs without this collector: the contract's node_vmstat_* go missing.
DISABLED_COLLECTOR = "vmstat"
# CPUs of the oversized host: about 8 series each, over the node job's sample limit (20,000).
OVERSIZED_HOST_CPUS = 2600

Key = tuple[str, str]  # (dashboard uid, panel title)
LOKI_DATASOURCE = "Loki datasource: no Loki binary here (LogQL is checked structurally in test_dashboards.py)"
TEMPO_DATASOURCE = "Tempo datasource (its service map reads the service-graph series the spanmetrics mock serves): no Tempo binary here"
PYROSCOPE_DATASOURCE = "Pyroscope datasource: no Pyroscope binary here (the query is checked structurally in test_dashboards.py)"
LOKI_METRICS = "reads Loki's own metrics: no Loki binary here"
GRAFANA_METRICS = "reads Grafana's own metrics: no Grafana binary here"

# Panels this test cannot run, and why.
SKIPPED: dict[Key, str] = {
    ("stack-overview", "Log lines received"): LOKI_METRICS,
    ("logs", "Log volume by service"): LOKI_DATASOURCE,
    ("logs", "Log volume by level"): LOKI_DATASOURCE,
    ("logs", "Error lines by service"): LOKI_DATASOURCE,
    ("logs", "Error lines"): LOKI_DATASOURCE,
    ("logs", "Live search"): LOKI_DATASOURCE,
    ("logs", "Lines received by Loki"): LOKI_METRICS,
    ("logs", "Lines discarded by Loki"): LOKI_METRICS,
    ("meta-monitoring", "Loki ingestion"): LOKI_METRICS,
    ("meta-monitoring", "Grafana request latency (p95)"): GRAFANA_METRICS,
    ("services", "Dependency map"): TEMPO_DATASOURCE,
    **{("profiling", title): PYROSCOPE_DATASOURCE for profile in ("CPU", "Memory in use") for title in (
        f"{profile} by service", f"{profile} flame graph", f"{profile} flame graph, 1d earlier")},
    ("profiling", "Top functions by CPU time"): PYROSCOPE_DATASOURCE,
    ("profiling", "Top functions by heap memory in use"): PYROSCOPE_DATASOURCE,
}

# Problem-only panels and the problem `inject_problems` causes for each.
PROBLEMS: dict[Key, str] = {
    ("stack-overview", "Targets down"): "the vLLM mock answers 503 (fault down)",
    ("node", "OOM kills in the last hour (errors)"): "node memory_pressure kills a process at once",
    ("containers", "Containers restarted in the last hour"): "cadvisor restart",
    ("gpu", "XID errors"): "dcgm xid_error 48",
    ("gpu", "Uncorrectable memory errors in the last hour"): "dcgm xid_error 48 raises the double-bit ECC counter",
    ("alerts-slos", "Pending alerts"): "the faults' alerts wait out their `for`",
    ("alerts-slos", "Notifications failed"): "the webhook receiver answers 500 to the Watchdog's repeats",
    ("data-validation", "Deployed exporters without a target up"): "the only vLLM target is down",
    ("data-validation", "Mock / real sample ratio (shadow)"): "node goes to shadow next to the real node exporter",
    ("data-validation", "Contract metrics missing"): f"the real node exporter runs with --no-collector.{DISABLED_COLLECTOR}",
    ("data-validation", "Series without env or source"): "a job written by hand, without the conventions' labels",
    ("meta-monitoring", "Scrapes rejected by limits in the last hour"):
        f"a node host with {OVERSIZED_HOST_CPUS} CPUs exceeds the node job's sample limit",
    ("meta-monitoring", "Rule evaluation problems in the last hour"): "a rule file whose rule fails every evaluation",
}

# Capacity forecasts are guarded by `offset <capacity.min_history>` (7 d): no forecast from a fresh
# series. The back-test (tests/capacity/) evaluates them on 60 days of history instead.
CAPACITY_HISTORY = ("the forecast needs capacity.min_history (7 days) of TSDB history, which a run of seconds does not "
                    "have; tests/capacity/ checks these recordings on backfilled weeks (promtool cases and the back-test)")

# Problem-only panels whose problem cannot be caused here, and exactly why.
NOT_INJECTED: dict[Key, str] = {
    ("capacity", "Forecast peak in 30d"): CAPACITY_HISTORY,
    ("capacity", "Days until full"): CAPACITY_HISTORY,
    ("capacity", "Scaling recommendations"): CAPACITY_HISTORY,
    ("node", "Filesystems filling within 24 h"):
        "the forecast is guarded by `offset 6h` (no forecast from a fresh series): it needs six hours of TSDB "
        "history, which a run of seconds does not have (disk_fill's slope alone is checked by the node rule cases)",
    ("data-validation", "Stale targets"):
        "Prometheus writes `up` on every scrape, failed or not, and stale markers about two intervals after a "
        "target leaves discovery, so an `up` older than three intervals exists only while Prometheus itself "
        "stalls; no mock fault or configuration change causes that",
    ("data-validation", "Ratios out of range"):
        "every mock fault keeps values physical (utilisation within 0..100 %, available memory below total) and "
        "the real exporters do too; the out-of-range side is covered by IntegrityValueOutOfRange's promtool cases",
    ("meta-monitoring", "TSDB errors in the last hour"):
        "failed compactions and head truncations need a failing disk; a WAL corrupted before a restart is "
        "repaired, but Debian's Prometheus 2.42 leaves prometheus_tsdb_wal_corruptions_total at 0 (tried)",
}


def skip_reason(datasource: str, expr: str) -> str | None:
    if datasource == LOKI_UID:
        return LOKI_DATASOURCE
    if datasource == TEMPO_UID:
        return TEMPO_DATASOURCE
    if datasource == PYROSCOPE_UID:
        return PYROSCOPE_DATASOURCE
    names = metric_names(expr)
    if any(name.startswith("loki_") for name in names):
        return LOKI_METRICS
    if any(name.startswith("grafana_") for name in names):
        return GRAFANA_METRICS
    if any(name.startswith(NOT_RUNNABLE_PREFIXES) for name in names):
        return f"reads {sorted(names)}: no binary here"
    return None


def live_stack_settings(**exporters: dict[str, Any]) -> StackSettings:
    """Staging's settings for a live run, with a webhook receiver that hears the Watchdog every
    couple of seconds (so a failing receiver shows at once)."""
    raw = live_settings(stack_raw_config("staging"))
    raw["alerting"] = {
        **raw["alerting"],
        "receivers": {"webhook": {}},
        "routes": {"heartbeat": {"group_wait": "0s", "group_interval": "1s", "repeat_interval": "2s"}},
    }
    raw["exporters"] = {**raw["exporters"], **{name: {**raw["exporters"].get(name, {}), **spec} for name, spec in exporters.items()}}
    return parse_settings(raw, "staging")


@dataclass
class Live:
    settings: StackSettings
    stack: LocalStack
    processes: Processes
    receiver: WebhookReceiver
    workdir: Path
    spanmetrics: Mock

    @property
    def url(self) -> str:
        return self.stack.prometheus.url


@dataclass
class Observation:
    """Per panel: the values its queries returned; and the panels not run, with the reason."""

    values: dict[Key, list[float]] = field(default_factory=dict)
    skipped: dict[Key, str] = field(default_factory=dict)
    problem_only: set[Key] = field(default_factory=set)
    alert_state: dict[Key, list[str]] = field(default_factory=dict)


def observe(live: Live, rate_interval: str, only: Callable[[Key], bool] = lambda key: True) -> Observation:
    seen = Observation()
    for model in render_dashboards(live.settings).values():
        for query in queries(model):
            key = (query.dashboard, query.title)
            if not only(key):
                continue
            if query.may_be_empty:
                seen.problem_only.add(key)
            expr = substitute(query.expr, live.settings, rate_interval)
            if reason := skip_reason(query.datasource, expr):
                seen.skipped[key] = reason
                continue
            result = instant_query(live.url, expr)
            assert result["status"] == "success", (key, result)
            data = result["data"]
            found = [float(data["result"][1])] if data["resultType"] == "scalar" else [float(item["value"][1]) for item in data["result"]]
            seen.values.setdefault(key, []).extend(v for v in found if not math.isnan(v))
            if "ALERTS{" in expr:
                seen.alert_state.setdefault(key, []).extend(item["metric"].get("alertname", "") for item in data["result"])
    return seen


def spanmetrics_job(settings: StackSettings, mock: Mock) -> dict[str, Any]:
    """The series Tempo's metrics-generator would remote-write, scraped from the traced mock's
    `spanmetrics` kind instead: its `job`/`instance` kept as the generator writes them, and `env`
    added as the generator's external label."""
    return {"job_name": "spanmetrics-mock", "honor_labels": True, "scrape_interval": "2s", "scrape_timeout": "1s",
            "static_configs": [{"targets": mock.targets, "labels": {"env": settings.environment}}]}


def reload_prometheus(live: "Live", config_path: Path, jobs: list[dict[str, Any]]) -> None:
    """Add `jobs` to the written configuration and reload Prometheus (SIGHUP) until the last is active."""
    config = yaml.safe_load(config_path.read_text())
    config["scrape_configs"].extend(jobs)
    config_path.write_text(yaml.safe_dump(config, sort_keys=True))
    prometheus = next(p for p in live.processes.running if p.args[0] == PROMETHEUS_BINARY and p.poll() is None)
    prometheus.send_signal(signal.SIGHUP)
    wait_until(lambda: any(t["labels"].get("job") == jobs[-1]["job_name"] for t in
                           http_json(f"{live.url}/api/v1/targets")["data"]["activeTargets"]), 30, "the reloaded configuration")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    settings = live_stack_settings()
    workdir = tmp_path_factory.mktemp("live-dashboards")
    with Processes() as processes, WebhookReceiver() as receiver:
        offset = (PINNED_SECOND_OF_DAY - time.time() % DAY) % DAY
        stack = start_stack(settings, workdir, processes, webhook_url=f"{receiver.url}/webhook",
                            clock_offsets={exporter: offset for exporter in MOCKED})
        spanmetrics = start_mock(processes, "spanmetrics", workdir, clock_offset=offset)
        live = Live(settings, stack, processes, receiver, workdir, spanmetrics)
        reload_prometheus(live, workdir / "prometheus.yml", [spanmetrics_job(settings, spanmetrics)])
        wait_until(stack.prometheus.targets_up, 30, "every target up")
        time.sleep(WARM_UP_SECONDS)
        yield live


@pytest.fixture(scope="module")
def healthy(live) -> Observation:
    return observe(live, RATE_INTERVAL)


def loopback(url: str) -> Endpoint:
    return Endpoint("127.0.0.1", int(url.rsplit(":", 1)[1]))


def reload_with_problems(live: Live) -> None:
    """The configuration an operator might reload: node moved to shadow next to a real node
    exporter deployed without one collector, an oversized host added to the node mock's job, a
    job written by hand that skips the labelling conventions, and a rule that cannot evaluate."""
    real_port = free_port()
    start_real(live.processes, NODE_EXPORTER, real_port, live.workdir, f"--no-collector.{DISABLED_COLLECTOR}")
    oversized = start_mock(live.processes, "node", live.workdir, seed=99, extra_args=("--cpus", str(OVERSIZED_HOST_CPUS)))
    settings = live_stack_settings(node={"mode": "shadow"})
    mocks = dict(live.stack.mocks)
    mocks["node"] = Mock("node", (*mocks["node"].ports, *oversized.ports))
    endpoints = {
        "prometheus": loopback(live.url),
        "alertmanager": loopback(live.stack.alertmanager.url),
        "node": Endpoint("127.0.0.1", real_port),
        **{f"mock-{name}": Endpoint("127.0.0.1", mock.ports[0]) for name, mock in mocks.items()},
    }
    config_path = write_prometheus_config(settings, live.workdir, endpoints, stack_services(settings), mocks)
    # Many-to-many matching: fails on every evaluation while more than one target is up.
    failing = {"groups": [{"name": "injected-failure", "rules": [{"record": "injected:failure", "expr": "up * on () up"}]}]}
    (live.workdir / "rules" / "injected-failure.yml").write_text(yaml.safe_dump(failing))
    reload_prometheus(live, config_path, [
        spanmetrics_job(settings, live.spanmetrics),
        {"job_name": "written-by-hand", "static_configs": [{"targets": [f"127.0.0.1:{real_port}"], "labels": {"exporter": "node"}}]},
    ])


def inject_problems(live: Live) -> None:
    reload_with_problems(live)
    mocks = live.stack.mocks
    mocks["node"].set_fault("memory_pressure")
    mocks["cadvisor"].set_fault("restart")
    mocks["dcgm"].set_fault("xid_error", code=48)
    mocks["vllm"].set_fault("down")
    live.spanmetrics.set_fault("error_rate", ratio=0.5, service="model-server")
    live.receiver.status = 500


@pytest.fixture(scope="module")
def problems(live, healthy) -> Observation:
    """Observed after every problem is injected (`healthy` is taken first, on the healthy stack)."""
    inject_problems(live)

    def every_problem_shows() -> Observation | None:
        seen = observe(live, PROBLEM_RATE_INTERVAL, only=lambda key: key in PROBLEMS)
        return seen if all(seen.values.get(key) for key in PROBLEMS) else None

    try:
        return wait_until(every_problem_shows, PROBLEM_TIMEOUT_SECONDS, "every problem-only panel showing its problem", interval=2)
    except TimeoutError:
        return observe(live, PROBLEM_RATE_INTERVAL, only=lambda key: key in PROBLEMS)


def test_every_panel_returns_data_on_a_healthy_stack(healthy):
    """Every panel that is not problem-only returns data; every problem-only panel is empty or
    zero. Alert-state panels are shown, not judged: which alerts pend against the mocks' data and
    the services absent here depends on thresholds, not on the dashboards.

    Mutations caught: a panel reading a metric no mock serves or a rule name nobody records
    (no data), a problem-only panel whose query is not filtered to the problem (non-zero values)."""
    broken = []
    for key, found in healthy.values.items():
        if key in healthy.alert_state:
            continue
        if key in healthy.problem_only:
            if any(v != 0 for v in found):
                broken.append(f"{key}: empty when healthy by its description, but returned {found[:5]}")
        elif not found:
            broken.append(f"{key}: no data")
    print(f"\nalert-state panels (shown, not judged): {healthy.alert_state}")
    assert not broken, "\n".join(broken)


def test_the_panels_not_run_here_are_the_reviewed_ones(healthy):
    """The panels skipped are exactly those listed in SKIPPED, for the reason given there.

    Mutation caught: a new panel on Loki's or Grafana's metrics (or a panel that stops being
    runnable) passing unjudged: it fails here until it is listed with its reason."""
    print("\nskipped panels:\n" + "\n".join(f"  {key}: {reason}" for key, reason in sorted(healthy.skipped.items())))
    assert healthy.skipped == SKIPPED


def test_every_problem_only_panel_has_an_injected_problem_or_a_reason():
    """Mutation caught: a new "Empty when ..." panel that no injection reaches and no reason
    explains (it would pass forever as empty)."""
    problem_only = {(query.dashboard, query.title) for model in render_dashboards(live_stack_settings()).values()
                    for query in queries(model) if query.may_be_empty}
    accounted = set(PROBLEMS) | set(NOT_INJECTED) | (set(SKIPPED) & problem_only)
    assert problem_only == accounted, {"unaccounted": problem_only - accounted, "not problem-only": accounted - problem_only}
    assert not set(PROBLEMS) & set(NOT_INJECTED) and not set(PROBLEMS) & set(SKIPPED)


def test_every_problem_only_panel_shows_its_problem(problems):
    """Once its problem is injected, every problem-only panel returns a series.

    Mutations caught: a problem panel whose query can never match (a wrong label, a threshold
    past what the problem reaches, a window too short for the counter's step), which the healthy
    run alone would pass as "empty as expected"."""
    silent = [f"{key}: nothing after {PROBLEMS[key]}" for key in PROBLEMS if not problems.values.get(key)]
    assert not silent, "\n".join(silent)


def test_error_propagation_points_at_the_service_where_errors_start(problems, live):
    """With the model server failing half its requests, the services dashboard's "Errors returned"
    shows the error in every caller up to the gateway, and "Where errors start" singles out the
    model server. Mutation caught: a propagation panel that blames the gateway (where the error
    surfaces) instead of where it starts, or that drops the services without downstream calls."""
    panels = {query.title: query.expr for query in queries(render_dashboards(live.settings)["services"])}

    def by_service(title: str) -> dict[str, float]:
        result = instant_query(live.url, substitute(panels[title], live.settings, PROBLEM_RATE_INTERVAL))
        return {item["metric"]["service"]: float(item["value"][1]) for item in result["data"]["result"]}

    def propagated() -> tuple[dict[str, float], dict[str, float]] | None:
        returned, started = by_service("Errors returned, by service"), by_service("Where errors start")
        chain = ("gateway", "plugin-chat", "model-server")
        if all(returned.get(s, 0) > 0 for s in chain) and started.get("model-server", 0) > 0:
            return returned, started
        return None

    returned, started = wait_until(propagated, PROBLEM_TIMEOUT_SECONDS, "the model server's errors in its callers", interval=2)
    assert set(started) >= {"gateway", "plugin-auth", "plugin-chat", "model-server"}, started
    assert max(started, key=started.get) == "model-server", started
    assert started["gateway"] < started["model-server"] / 4, (started, returned)
