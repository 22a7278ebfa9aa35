"""The rendered exporter scrape jobs, run for real: Debian's Prometheus scraping the real Debian
exporters next to the mocks (node in shadow), so every series shows which side it came from."""

from __future__ import annotations

import pytest
import yaml

from render.exporters import exporter_scrape_jobs
from services.topology import local_endpoints
from settings import parse_settings
from tests.e2e.procs import Processes, free_port, start_mock, start_prometheus, start_real, wait_until

pytestmark = pytest.mark.e2e

SETTINGS = {
    "exporters": {
        "node": {"mode": "shadow"},
        "cadvisor": {"mode": "mock"},
        "dcgm": {"mode": "mock"},
        "vllm": {"mode": "off"},
        "pushgateway": {"mode": "real", "scrape_interval": "1s"},
        "blackbox": {"mode": "real", "probe_stack": False},
    },
    "prometheus": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("rollout-live")
    with Processes() as processes:
        ports = {name: free_port() for name in ("node", "pushgateway", "blackbox", "prometheus")}
        start_real(processes, "/usr/bin/prometheus-node-exporter", ports["node"], workdir)
        start_real(
            processes, "/usr/bin/prometheus-pushgateway", ports["pushgateway"], workdir,
            f"--persistence.file={workdir / 'pushgateway.db'}",
        )
        blackbox_config = workdir / "blackbox.yml"
        from render.exporters import render_blackbox_config

        blackbox_config.write_text(yaml.safe_dump(render_blackbox_config()))
        start_real(processes, "/usr/bin/prometheus-blackbox-exporter", ports["blackbox"], workdir,
                   f"--config.file={blackbox_config}")
        mocks = {name: start_mock(processes, name, workdir) for name in ("node", "cadvisor", "dcgm")}

        # A batch job's push: honor_labels must keep its own job label.
        import urllib.request

        request = urllib.request.Request(
            f"http://127.0.0.1:{ports['pushgateway']}/metrics/job/nightly_backup",
            data=b"backup_last_success_timestamp_seconds 1.7e9\n",
            method="PUT",
        )
        urllib.request.urlopen(request, timeout=5).close()

        raw = dict(SETTINGS)
        raw["exporters"] = dict(SETTINGS["exporters"])
        raw["exporters"]["blackbox"] = {
            **SETTINGS["exporters"]["blackbox"],
            "http_probes": [f"http://127.0.0.1:{mocks['node'].ports[0]}/-/healthy"],
        }
        settings = parse_settings(raw, "staging")
        endpoints = local_endpoints(
            {"node": ports["node"], "pushgateway": ports["pushgateway"], "blackbox": ports["blackbox"]}
            | {f"mock-{name}": mock.ports[0] for name, mock in mocks.items()}
        )
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "scrape_configs": exporter_scrape_jobs(settings, endpoints),
        }
        config_path = workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config))
        prometheus = start_prometheus(processes, config_path, workdir, ports["prometheus"])
        wait_until(lambda: prometheus.targets_up() and len(prometheus.query("up")) >= 6, 60, "every target up")
        wait_until(lambda: prometheus.query('probe_success{probe="http"}'), 30, "a probe result")
        yield prometheus


def series_labels(prometheus, expr: str) -> list[dict[str, str]]:
    return [sample["metric"] for sample in prometheus.query(expr)]


def test_every_target_is_up_and_labelled(live):
    for labels in series_labels(live, "up"):
        assert labels["env"] == "staging", labels
        assert labels["source"] in ("mock", "real"), labels
        assert labels["exporter"] in ("node", "cadvisor", "dcgm", "pushgateway", "blackbox"), labels
    by_job = {(labels["job"], labels["source"]) for labels in series_labels(live, "up")}
    assert {("node", "real"), ("node-mock", "mock"), ("cadvisor-mock", "mock"), ("dcgm-mock", "mock")} <= by_job


def test_shadow_puts_mock_and_real_side_by_side_with_the_same_shape(live):
    real = series_labels(live, 'node_cpu_seconds_total{exporter="node", source="real"}')
    mock = series_labels(live, 'node_cpu_seconds_total{exporter="node", source="mock"}')
    assert real and mock
    assert {frozenset(labels) for labels in real} == {frozenset(labels) for labels in mock}


def test_pushgateway_keeps_the_pushing_jobs_labels(live):
    (labels,) = series_labels(live, "backup_last_success_timestamp_seconds")
    assert labels["job"] == "nightly_backup" and labels["exporter"] == "pushgateway"


def test_blackbox_probe_reports_the_probed_url_as_instance(live):
    (labels,) = series_labels(live, 'probe_success{probe="http"}')
    assert labels["instance"].endswith("/-/healthy") and labels["exporter"] == "blackbox"
    assert live.value('probe_success{probe="http"}') == 1
