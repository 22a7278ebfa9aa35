"""The status page's own queries against a real Prometheus (Debian's 2.42) scraping the vLLM mock
with the rendered SLA rules: operational when healthy, degraded under a latency fault, an outage
while the mock is down, operational again once each fault clears; the availability panels return
the mock-fed availability. The outage is then an incident of the month's report, from the alert
history Prometheus recorded."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from dashboards import status_page
from rules.sla import DEGRADED, OPERATIONAL, OUTAGE
from services.topology import Endpoint
from settings import parse_settings
from tests.e2e.procs import ROOT, Processes, free_port, start_mocks, start_prometheus, wait_until, write_prometheus_config

pytestmark = pytest.mark.e2e

INTERVAL = "1s"
# Ten scrapes decide the state: a fault shows within seconds, and clears as fast.
STATE_WINDOW = "10s"
TRANSITION_TIMEOUT = 60
SLA = {"state_window": STATE_WINDOW}
RAW = {
    "prometheus": {"scrape_interval": INTERVAL, "evaluation_interval": INTERVAL, "scrape_timeout": INTERVAL},
    "exporters": {
        "allow_out_of_order": True,
        "vllm": {"mode": "mock", "scrape_interval": INTERVAL},
        **{name: {"mode": "off"} for name in ("node", "cadvisor", "dcgm", "postgres", "redis", "blackbox", "pushgateway")},
    },
    "alerting": {"for_scale": 0.02},
    "sla": SLA,
}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("status-page")
    settings = parse_settings(RAW, "e2e")
    with Processes() as processes:
        mocks = start_mocks(processes, settings, workdir)
        port = free_port()
        endpoints = {
            "prometheus": Endpoint("127.0.0.1", port),
            "alertmanager": Endpoint("127.0.0.1", free_port()),  # none runs: the alerts stay in Prometheus
            "mock-vllm": Endpoint("127.0.0.1", mocks["vllm"].ports[0]),
        }
        config = write_prometheus_config(settings, workdir, endpoints, ("prometheus",), mocks)
        prometheus = start_prometheus(processes, config, workdir, port)
        yield settings, prometheus, mocks["vllm"], workdir


def page_queries(settings) -> dict[str, list[str]]:
    """Panel title -> its queries, read from the dashboard the stack provisions."""
    model = status_page.build(settings)
    return {panel["title"]: [target["expr"] for target in panel["targets"]] for panel in model["panels"]}


def state(settings, prometheus) -> float | None:
    (query,) = page_queries(settings)["Current state"]
    return prometheus.value(query)


def wait_for_state(settings, prometheus, expected: int, what: str) -> None:
    wait_until(lambda: state(settings, prometheus) == expected, TRANSITION_TIMEOUT, what, interval=0.5)


def test_states_follow_the_mock_faults_and_return(live):
    settings, prometheus, mock, workdir = live
    wait_for_state(settings, prometheus, OPERATIONAL, "operational on the healthy mock")
    mock.set_fault("latency", factor=5)
    wait_for_state(settings, prometheus, DEGRADED, "degraded under a latency fault")
    mock.clear_faults()
    wait_for_state(settings, prometheus, OPERATIONAL, "operational once the latency fault clears")
    fault_at = datetime.now(timezone.utc)
    mock.set_fault("down")
    wait_for_state(settings, prometheus, OUTAGE, "an outage while the mock is down")
    wait_until(lambda: prometheus.value('ALERTS{alertname="SlaServiceOutage",alertstate="firing",sla="llm-api"}'),
               TRANSITION_TIMEOUT, "SlaServiceOutage firing")
    cleared_at = datetime.now(timezone.utc)
    mock.clear_faults()
    wait_for_state(settings, prometheus, OPERATIONAL, "operational once the mock answers again")
    availability = {title: [prometheus.value(q) for q in queries] for title, queries in page_queries(settings).items()
                    if title != "Current state"}
    # The availability panels read the mock-fed history: the outage shows, bounded by 0 and 1.
    for title, values in availability.items():
        assert values and all(v is not None and 0 < v < 1 for v in values), (title, values)

    # The outage is the month's one outage incident, from the ALERTS history, to within the state window.
    stack_file = workdir / "Pulumi.e2e.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {"monitoring:prometheus": RAW["prometheus"], "monitoring:sla": SLA}}))
    time.sleep(2)  # the alert's resolution is one evaluation after its last sample
    now = datetime.now(timezone.utc)
    result = subprocess.run(
        [sys.executable, "-m", "sla", "report", "--stack", "e2e", "--period", fault_at.strftime("%Y-%m"), "--format", "json",
         "--config-file", str(stack_file), "--prometheus", prometheus.url, "--now", now.isoformat()],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    incidents = json.loads(result.stdout)["services"][0]["incidents"]
    outages = [i for i in incidents if i["kind"] == "outage"]
    assert len(outages) == 1, incidents
    start = datetime.fromisoformat(outages[0]["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(outages[0]["end"].replace("Z", "+00:00"))
    slack = timedelta(seconds=15)  # the state window's half plus scrape and evaluation steps
    assert fault_at.replace(microsecond=0) <= start <= fault_at + slack, (fault_at, start)
    assert cleared_at.replace(microsecond=0) <= end <= cleared_at + slack, (cleared_at, end)
    assert not outages[0]["ongoing"]
