"""The phased mock-to-real rollout: what each mode deploys and scrapes, and a one-setting rollback."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from exporters.catalog import EXPORTERS
from render.exporters import exporter_scrape_jobs
from render.prometheus import render_prometheus_config
from services.exporters import exporter_services
from services.topology import internal_endpoints
from settings import SettingsError, parse_settings
from tests.conftest import ROOT, run_preview, stack_settings
from tests.foundation.test_render import tool

CONTAINER = "docker:index/container:Container"


def containers(preview) -> set[str]:
    return {r["name"] for r in preview.of_type(CONTAINER)}


def jobs_of(settings) -> dict[str, dict]:
    return {job["job_name"]: job for job in exporter_scrape_jobs(settings, internal_endpoints(settings))}


def relabelled(job) -> dict[str, str]:
    return {r["target_label"]: r["replacement"] for r in job["relabel_configs"] if "replacement" in r}


def test_staging_is_mid_rollout(previews):
    names = containers(previews["staging"])
    # node and container real: their mocks are gone; GPU in shadow: both; LLM: mock only.
    assert {"node-exporter", "cadvisor", "dcgm-exporter", "mock-dcgm", "mock-vllm"} <= names
    assert not {"mock-node", "mock-cadvisor"} & names


def test_prod_is_one_phase_behind(previews):
    # Prod runs on Kubernetes: the same modes deploy the same services, as workloads. The real
    # cAdvisor is the kubelet's there (no workload of its own); its mock still runs.
    names = {r["name"] for r in previews["prod"].resources if r["type"].startswith("kubernetes:apps/v1:")}
    assert {"node-exporter", "mock-cadvisor", "mock-dcgm", "mock-vllm"} <= names
    assert not {"mock-node", "dcgm-exporter", "cadvisor"} & names


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_exporter_series_is_labelled_with_exporter_source_and_env(stack):
    settings = stack_settings(stack)
    for name, job in jobs_of(settings).items():
        labels = relabelled(job)
        assert labels["env"] == stack, name
        assert labels["source"] == ("mock" if name.endswith("-mock") else "real"), name
        assert labels["exporter"] in EXPORTERS, name
        assert job["sample_limit"] > 0 and job["label_limit"] > 0, name


def test_shadow_scrapes_mock_and_real_side_by_side():
    settings = stack_settings("staging")
    jobs = jobs_of(settings)
    assert relabelled(jobs["dcgm"])["source"] == "real"
    assert relabelled(jobs["dcgm-mock"])["source"] == "mock"
    assert jobs["dcgm"]["static_configs"][0]["targets"] == ["dcgm-exporter:9400"]
    assert jobs["dcgm-mock"]["static_configs"][0]["targets"] == ["mock-dcgm:9400"]


def test_scrape_interval_classes():
    settings = parse_settings({"exporters": {"vllm": {"mode": "mock"}}}, "staging")
    jobs = jobs_of(settings)
    assert jobs["node-mock"]["scrape_interval"] == "30s"
    assert jobs["vllm-mock"]["scrape_interval"] == "60s"
    assert jobs["pushgateway"]["scrape_interval"] == "5m"
    assert jobs["pushgateway"]["honor_labels"] is True


def test_real_node_exporter_listens_only_on_the_stack_network_gateway():
    settings = stack_settings("staging")
    node = exporter_services(settings, "mock:1")["node"]
    assert f"--web.listen-address={settings.docker.gateway}:9100" in node.command
    assert node.security.host_network and node.security.host_pid and node.security.exception
    assert jobs_of(settings)["node"]["static_configs"][0]["targets"] == [f"{settings.docker.gateway}:9100"]


def test_user_listed_targets_and_file_sd():
    settings = parse_settings(
        {
            "prometheus": {"targets_dir": "/srv/prometheus-targets"},
            "exporters": {"node": {"mode": "real", "targets": ["db-1:9100", "db-2:9100"]}, "vllm": {"mode": "off"}},
        },
        "staging",
    )
    job = jobs_of(settings)["node"]
    assert job["static_configs"][0]["targets"] == [f"{settings.docker.gateway}:9100", "db-1:9100", "db-2:9100"]
    assert job["file_sd_configs"][0]["files"] == ["/etc/prometheus/targets/node/*.yml"]


def test_vllm_real_is_only_the_users_servers():
    settings = parse_settings(
        {"exporters": {k: {"mode": "real"} for k in ("node", "cadvisor", "dcgm")} | {"vllm": {"mode": "real", "targets": ["llm-1:8000"]}}},
        "staging",
    )
    assert jobs_of(settings)["vllm"]["static_configs"][0]["targets"] == ["llm-1:8000"]
    assert "vllm" not in exporter_services(settings, "mock:1") and "mock-vllm" not in exporter_services(settings, "mock:1")


def test_blackbox_probes_the_stack_through_the_exporter():
    settings = parse_settings({"exporters": {"blackbox": {"http_probes": ["https://example.org/health"], "tcp_probes": ["db:5432"]}}}, "s")
    jobs = jobs_of(settings)
    http = jobs["blackbox-http"]
    assert http["metrics_path"] == "/probe" and http["params"] == {"module": ["http_2xx"]}
    assert "http://grafana:3000/api/health" in http["static_configs"][0]["targets"]
    assert "https://example.org/health" in http["static_configs"][0]["targets"]
    assert {"target_label": "__address__", "replacement": "blackbox-exporter:9115"} in http["relabel_configs"]
    assert jobs["blackbox-tcp"]["static_configs"][0]["targets"] == ["db:5432"]


def test_federation_job():
    settings = parse_settings({"prometheus": {"federation": {"targets": ["prom-eu:9090", "prom-us:9090"]}}}, "s")
    job = jobs_of(settings)["federate"]
    assert job["metrics_path"] == "/federate" and job["honor_labels"] is True
    assert job["params"]["match[]"] and job["static_configs"][0]["targets"] == ["prom-eu:9090", "prom-us:9090"]


ROLLOUT_STATES = [
    {"node": "mock", "cadvisor": "mock", "dcgm": "mock", "vllm": "mock"},
    {"node": "shadow", "cadvisor": "mock", "dcgm": "mock", "vllm": "off"},
    {"node": "real", "cadvisor": "shadow", "dcgm": "off", "vllm": "mock"},
    {"node": "real", "cadvisor": "real", "dcgm": "real", "vllm": "shadow"},
]


def test_real_vllm_needs_servers_to_scrape():
    raw = {"exporters": {k: {"mode": "real"} for k in ("node", "cadvisor", "dcgm", "vllm")}}
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, "staging")
    assert caught.value.lines == [
        "monitoring:exporters.vllm.targets: [] lists no vLLM server while vllm.mode is 'real': "
        "add host:port targets or set prometheus.targets_dir"
    ]
    raw["prometheus"] = {"targets_dir": "/srv/targets"}
    assert parse_settings(raw, "staging").exporters.vllm.mode == "real"


@pytest.mark.parametrize("modes", ROLLOUT_STATES, ids=lambda m: "-".join(m.values()))
def test_promtool_accepts_every_rollout_state(tmp_path, modes):
    raw = {
        "exporters": {name: {"mode": mode} for name, mode in modes.items()}
        | {"postgres": {"mode": "real"}, "redis": {"mode": "real"}},
        "prometheus": {"targets_dir": "/srv/targets", "federation": {"targets": ["global:9090"]}},
    }
    settings = parse_settings(raw, "staging")
    document = render_prometheus_config(settings, internal_endpoints(settings))
    document["rule_files"] = []
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(document))
    result = subprocess.run([tool("promtool"), "check", "config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = {job["job_name"] for job in document["scrape_configs"]}
    for exporter, mode in modes.items():
        assert (f"{exporter}-mock" in jobs) == (mode in ("mock", "shadow")), exporter
        # With a file_sd directory every real exporter has a job, even vLLM (whose servers are the user's).
        assert (exporter in jobs) == (mode in ("shadow", "real")), exporter


def test_out_of_order_rollout_needs_the_override():
    with pytest.raises(SettingsError) as caught:
        parse_settings({"exporters": {"vllm": {"mode": "real", "targets": ["llm:8000"]}}}, "staging")
    assert caught.value.lines[0].startswith('monitoring:exporters.vllm.mode: "real" is ahead of node.mode')
    settings = parse_settings(
        {"exporters": {"vllm": {"mode": "real", "targets": ["llm:8000"]}, "allow_out_of_order": True}}, "staging"
    )
    assert settings.exporters.vllm.mode == "real"


def _preview_with(tmp_path, stack, change) -> dict:
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    change(document["config"])
    config = tmp_path / f"Pulumi.{stack}.yaml"
    config.write_text(yaml.safe_dump(document))
    out = tmp_path / "out"
    result = run_preview(stack, out, "--config-file", str(config))
    assert result.returncode == 0, result.stderr
    return json.loads((out / "resources.json").read_text())


def test_rollback_is_one_setting_and_the_preview_shows_it(tmp_path, previews):
    def roll_back_gpu(config):
        config["monitoring:exporters"]["dcgm"]["mode"] = "mock"

    after = _preview_with(tmp_path, "staging", roll_back_gpu)
    before_names = {(r["type"], r["name"]) for r in previews["staging"].resources}
    after_names = {(r["type"], r["name"]) for r in after["resources"]}
    removed = before_names - after_names
    assert (CONTAINER, "dcgm-exporter") in removed
    assert not after_names - before_names, "a rollback only removes the real exporter"
    prometheus = next(r for r in after["resources"] if r["type"] == CONTAINER and r["name"] == "prometheus")
    config = next(u["content"] for u in prometheus["inputs"]["uploads"] if u["file"].endswith("prometheus.yml"))
    jobs = {job["job_name"] for job in yaml.safe_load(config)["scrape_configs"]}
    assert "dcgm-mock" in jobs and "dcgm" not in jobs


def test_mock_image_is_built_from_the_repository_only_while_a_mock_runs(tmp_path, previews):
    image = previews["staging"].named("docker:index/image:Image", "mock-exporter")["inputs"]
    assert image["imageName"].startswith("monitoring-mock-exporter:")
    assert image["build"]["dockerfile"].endswith("images/mock-exporter/Dockerfile")
    assert image["skipPush"] is True
    mock = previews["staging"].named(CONTAINER, "mock-vllm")["inputs"]
    assert mock["image"] == image["imageName"]
    assert mock["command"][:2] == ["--exporter", "vllm"]

    def all_real(config):
        config["monitoring:exporters"] = {
            "node": {"mode": "real"}, "cadvisor": {"mode": "real"}, "dcgm": {"mode": "real"},
            "vllm": {"mode": "real", "targets": ["llm-1:8000"]},
        }

    after = _preview_with(tmp_path, "staging", all_real)
    # The backup job's image is built either way; the mock image only while a mock runs.
    assert not [r for r in after["resources"] if r["type"] == "docker:index/image:Image" and r["name"] == "mock-exporter"]
    assert not any(r["name"].startswith("mock-") for r in after["resources"] if r["type"] == CONTAINER)


def test_mock_image_pushes_to_a_registry_for_clusters(tmp_path):
    def registry(config):
        config["monitoring:exporters"]["mock_image"] = {"registry": "registry.example.org/monitoring", "tag": "1.0.0"}

    after = _preview_with(tmp_path, "staging", registry)
    image = next(r for r in after["resources"]
                 if r["type"] == "docker:index/image:Image" and r["name"] == "mock-exporter")["inputs"]
    assert image["imageName"].startswith("registry.example.org/monitoring/monitoring-mock-exporter:1.0.0-")
    assert image["skipPush"] is False
