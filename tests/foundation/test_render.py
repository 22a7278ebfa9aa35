"""Rendered documents: pure renderers, checked by the real promtool/amtool, identical to what deploys."""

from __future__ import annotations

import configparser
import shutil
import subprocess

import pytest
import yaml

from render.grafana import render_grafana_ini
from render.prometheus import SELF_SCRAPED, render_prometheus_config
from services.core import core_services
from services.topology import Endpoint, internal_endpoints
from settings import parse_settings
from tests.conftest import DOCKER_STACKS, STACKS, stack_raw_config, stack_settings
from tests.logs.roundtrip import from_alloy, from_promtail


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: `make test` installs it (scripts/setup.sh)"
    return path


# Debian's promtool has no Kubernetes SD: prod's prometheus.yml is checked with its SD blocks swapped
# for file SD in tests/kubernetes/test_render_discovery.py.
@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_promtool_accepts_prometheus_config(previews, stack):
    config = previews[stack].out / "prometheus" / "prometheus.yml"
    # Checked in place: rule_files point at /etc/prometheus/rules, so check the rules separately below.
    document = yaml.safe_load(config.read_text())
    document["rule_files"] = [str(previews[stack].out / "prometheus" / "rules" / "*.yml")]
    local = config.parent / "prometheus.local.yml"
    local.write_text(yaml.safe_dump(document))
    result = subprocess.run([tool("promtool"), "check", "config", str(local)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("stack", STACKS)
def test_promtool_accepts_rule_files(previews, stack):
    rule_files = sorted((previews[stack].out / "prometheus" / "rules").glob("*.yml"))
    assert rule_files
    result = subprocess.run([tool("promtool"), "check", "rules", *map(str, rule_files)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_amtool_accepts_alertmanager_config(previews, stack):
    config = previews[stack].out / "alertmanager" / "alertmanager.yml"
    result = subprocess.run([tool("amtool"), "check-config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rejects_a_broken_config(tmp_path):
    """The check above can fail: a config promtool must refuse."""
    bad = tmp_path / "prometheus.yml"
    bad.write_text("global:\n  scrape_interval: soon\n")
    assert subprocess.run([tool("promtool"), "check", "config", str(bad)], capture_output=True).returncode != 0


@pytest.mark.parametrize("stack", STACKS)
def test_documents_in_build_are_what_the_containers_receive(previews, stack):
    settings = stack_settings(stack)
    specs = core_services(settings)
    for service, spec in specs.items():
        for config_file in spec.files:
            written = previews[stack].out / service / config_file.relpath
            assert written.read_text() == config_file.content, written


def test_prometheus_config_monitors_the_monitoring_stack():
    settings = parse_settings({"environment": "qa", "prometheus": {"external_labels": {"region": "eu"}}}, "qa")
    document = render_prometheus_config(settings, internal_endpoints(settings))
    assert document["global"] == {
        "scrape_interval": "30s",
        "scrape_timeout": "10s",
        "evaluation_interval": "30s",
        "external_labels": {"env": "qa", "region": "eu"},
    }
    assert document["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    jobs = {job["job_name"]: job for job in document["scrape_configs"]}
    assert set(SELF_SCRAPED) <= set(jobs)
    for job in SELF_SCRAPED:
        assert jobs[job]["sample_limit"] > 0 and jobs[job]["label_limit"] > 0


def test_renderers_take_endpoints_so_tests_can_run_them_locally():
    settings = parse_settings({}, "staging")
    local = {name: Endpoint("127.0.0.1", 40000 + i) for i, name in enumerate(internal_endpoints(settings))}
    document = render_prometheus_config(settings, local)
    targets = [t for job in document["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert targets and all("127.0.0.1:4" in t for t in targets), "no target may name an internal host"


def test_prometheus_command_carries_retention():
    settings = parse_settings({"prometheus": {"retention": "45d", "retention_size": "100GB"}}, "staging")
    command = core_services(settings)["prometheus"].command
    assert "--storage.tsdb.retention.time=45d" in command
    assert "--storage.tsdb.retention.size=100GB" in command
    assert not any("enable-lifecycle" in arg for arg in command)
    # The admin API serves the backup job's TSDB snapshots only: on with backups, off without.
    assert "--web.enable-admin-api" in command
    without_backups = parse_settings({"backup": {"enabled": False}}, "staging")
    assert not any("enable-admin-api" in arg for arg in core_services(without_backups)["prometheus"].command)


def test_grafana_ini_is_locked_down():
    settings = parse_settings({"grafana": {"admin_user": "ops", "session_inactive": "30m"}}, "staging")
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(core_services(settings)["grafana"].file("grafana.ini").content)
    assert ini["auth.anonymous"]["enabled"] == "false"
    assert ini["users"]["allow_sign_up"] == "false"
    assert ini["auth"]["disable_login_form"] == "false"
    assert ini["auth"]["login_maximum_inactive_lifetime_duration"] == "30m"
    assert ini["analytics"]["reporting_enabled"] == ini["analytics"]["check_for_updates"] == "false"
    assert ini["security"]["admin_user"] == "ops"
    assert ini["security"]["admin_password"] == "$__file{/run/secrets/grafana_admin_password}"
    assert ini["snapshots"]["external_enabled"] == "false"


def test_grafana_cookie_is_secure_behind_https():
    settings = parse_settings({"grafana": {"url": "https://grafana.example.org"}}, "staging")
    assert render_grafana_ini(settings, 3000)["security"]["cookie_secure"] is True


def test_loki_keeps_30_days_through_the_compactor():
    settings = stack_settings("staging")
    document = yaml.safe_load(core_services(settings)["loki"].file("loki.yml").content)
    assert document["limits_config"]["retention_period"] == "720h"
    assert document["compactor"]["retention_enabled"] is True
    assert document["compactor"]["delete_request_store"] == "filesystem"
    (schema,) = document["schema_config"]["configs"]
    assert (schema["store"], schema["schema"], schema["object_store"]) == ("tsdb", "v13", "filesystem")
    assert document["auth_enabled"] is False
    limits = document["limits_config"]
    assert limits["ingestion_rate_mb"] > 0 and limits["max_query_series"] > 0 and limits["query_timeout"]


@pytest.mark.parametrize("collector", ["alloy", "promtail"])
def test_the_log_collector_ships_container_logs_to_loki(collector):
    settings = parse_settings({**stack_raw_config("staging"), "logs": {"collector": collector}}, "staging")
    service = core_services(settings)[collector]
    if collector == "alloy":
        shipped = from_alloy(service.file("config.alloy").content)
    else:
        shipped = from_promtail(yaml.safe_load(service.file("promtail.yml").content))
    assert shipped["client"] == {"url": "http://loki:3100/loki/api/v1/push", "external_labels": {"env": "staging"}}
    (docker,) = [source for source in shipped["sources"] if source["kind"] == "docker"]
    assert {"container", "service"} <= {rule["target_label"] for rule in docker["relabel"]}
