"""The pack over both stacks' previews (this is how CI runs it), and violations planted in a copy of a
saved preview, each caught with the resource named."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any, Callable

import pytest
import yaml

from policies.catalog import MANDATORY
from policies.check import Finding, check, load, settings_config
from preview.__main__ import PLACEHOLDER
from tests.conftest import ROOT, STACKS

SECRET_CONFIG = {"secret_values": [PLACEHOLDER]}


def findings_of(resources: list[dict[str, Any]], tmp_path, stack: str) -> list[Finding]:
    saved = tmp_path / "resources.json"
    saved.write_text(json.dumps({"resources": resources, "outputs": {}}))
    return check(load(saved), {**SECRET_CONFIG, **settings_config(ROOT / f"Pulumi.{stack}.yaml")})


@pytest.mark.parametrize("stack", STACKS)
def test_stack_has_no_mandatory_violation(previews, stack, tmp_path):
    findings = findings_of(previews[stack].resources, tmp_path, stack)
    assert [str(f) for f in findings if f.enforcement == MANDATORY] == []


@pytest.mark.parametrize(("stack", "section", "setting", "value", "expected"), [
    ("prod", "monitoring:kubernetes", "service_type", "NodePort", {"allowed_service_types": ["NodePort"]}),
    ("staging", "monitoring:exposure", "bind_address", "10.0.0.5", {"bind_address": "10.0.0.5"}),
    ("staging", "monitoring:exposure", "publish", ["grafana", "loki"], {"published_services": ["grafana", "loki"]}),
    ("staging", "monitoring:traces", "publish_receivers", False, {"publish_trace_receivers": False}),
])
def test_exposure_allowances_follow_the_stack_settings(tmp_path, stack, section, setting, value, expected):
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    assert settings_config(ROOT / f"Pulumi.{stack}.yaml").items() >= {"allowed_service_types": [],
                                                                       "bind_address": "127.0.0.1"}.items()
    document["config"].setdefault(section, {})[setting] = value
    changed = tmp_path / f"Pulumi.{stack}.yaml"
    changed.write_text(yaml.safe_dump(document))
    assert settings_config(changed).items() >= expected.items()


def test_published_services_follow_the_stack_settings(previews, tmp_path):
    """The checker reads exposure.publish, security.auth.enabled and traces.publish_receivers from the
    stack's settings: staging publishes all five services (the monitoring API too) with its trace
    receivers and no gateway, prod authenticates. A staging preview whose settings publish less has
    its extra host ports reported, each naming its container.

    Mutations checked: settings_config not passing published_services (the catalog's default lacks
    `api`, flagging monitoring-api on staging), auth_enabled or publish_trace_receivers; the check
    removed from service_exposure."""
    staging = settings_config(ROOT / "Pulumi.staging.yaml")
    assert staging["published_services"] == ["grafana", "prometheus", "loki", "alertmanager", "api"]
    assert (staging["auth_enabled"], staging["publish_trace_receivers"]) == (False, True)
    assert settings_config(ROOT / "Pulumi.prod.yaml")["auth_enabled"] is True

    document = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    document["config"]["monitoring:exposure"] = {"publish": ["grafana", "loki", "api"]}
    document["config"]["monitoring:traces"]["publish_receivers"] = False
    narrower = tmp_path / "Pulumi.staging.yaml"
    narrower.write_text(yaml.safe_dump(document))
    saved = tmp_path / "resources.json"
    saved.write_text(json.dumps({"resources": previews["staging"].resources, "outputs": {}}))
    found = check(load(saved), {**SECRET_CONFIG, **settings_config(narrower)})
    assert sorted({f.resource for f in found if f.policy == "service-exposure"}) == [
        "alertmanager", "alloy", "prometheus-proxy"]


def _named(resources, type_suffix: str, name: str) -> dict[str, Any]:
    return next(r for r in resources if r["type"].endswith(type_suffix) and r["name"] == name)


def _container(resources, name: str) -> dict[str, Any]:
    return _named(resources, "container:Container", name)["inputs"]


def _pod(resources, kind: str, name: str) -> dict[str, Any]:
    return _named(resources, f"apps/v1:{kind}", name)["inputs"]["spec"]["template"]["spec"]


def _drop(resources, type_suffix: str, name: str) -> None:
    resources.remove(_named(resources, type_suffix, name))


def _first_alert_rule(resources) -> None:
    config = _named(resources, "ConfigMap", "prometheus-config")["inputs"]["data"]
    key = next(k for k in sorted(config) if k.startswith("rules__") and "alert:" in config[k])
    config[key] = config[key].replace("runbook_url:", "runbook:", 1)


def _panel_datasource(resources) -> None:
    dashboard = _named(resources, "dashboard:Dashboard", "node")["inputs"]
    config = json.loads(dashboard["configJson"])
    config["panels"][0]["datasource"] = {"type": "prometheus", "uid": "not-provisioned"}
    dashboard["configJson"] = json.dumps(config)


def _alloy_config(resources) -> dict:
    return _named(resources, "ConfigMap", "alloy-config")["inputs"]["data"]


def _plain_loki_push(resources) -> None:
    data = _alloy_config(resources)
    data["config.alloy"] = data["config.alloy"].replace("https://gateway:3100", "http://loki:3100")


def _anonymous_profile_push(resources) -> None:
    data = _alloy_config(resources)
    text = data["config.alloy"]
    start = text.index('url = "https://gateway:4040"')
    data["config.alloy"] = text[:start] + text[start:].replace("basic_auth", "headers", 1)


# (stack, what to plant, the policy that must catch it, the resource it must name)
PLANTED: list[tuple[str, Callable[[list], Any], str, str]] = [
    ("staging", lambda r: _container(r, "grafana").update(image="grafana/grafana:latest"), "images-pinned", "grafana"),
    ("staging", lambda r: _container(r, "prometheus").pop("memory"), "resource-limits", "prometheus"),
    ("staging", lambda r: _container(r, "alertmanager").pop("healthcheck"), "health-checks", "alertmanager"),
    ("staging", lambda r: _container(r, "node-exporter").update(labels=[]), "host-access-exceptions", "node-exporter"),
    ("staging", lambda r: _container(r, "grafana")["ports"][0].update(ip="0.0.0.0"), "service-exposure", "grafana"),
    # A host port on the bind address for a service exposure.publish cannot list (staging publishes all
    # five publishable services, so the plant is on one that is never published).
    ("staging", lambda r: _container(r, "pushgateway").update(ports=[{"internal": 9091, "external": 9091,
                                                                      "ip": "127.0.0.1"}]),
     "service-exposure", "pushgateway"),
    ("staging", lambda r: _container(r, "grafana")["envs"].append("GF_AUTH_ANONYMOUS_ENABLED=true"), "grafana-login", "grafana"),
    ("staging", lambda r: _container(r, "loki")["labels"].append(
        {"label": "debug", "value": f"{PLACEHOLDER}-grafana_admin_password"}), "no-plain-secrets", "loki"),
    ("prod", lambda r: _pod(r, "Deployment", "grafana")["containers"][0]["securityContext"].update(
        allowPrivilegeEscalation=True), "restricted-security-context", "grafana"),
    ("prod", lambda r: _named(r, "apps/v1:StatefulSet", "loki").update(protect=False), "persistent-storage", "loki"),
    ("prod", lambda r: _drop(r, "NetworkPolicy", "grafana"), "network-policies-cover-workloads", "grafana"),
    ("prod", lambda r: _drop(r, "PodDisruptionBudget", "prometheus"), "disruption-budgets", "prometheus"),
    ("prod", lambda r: _named(r, "core/v1:Service", "grafana")["inputs"]["spec"].update(type="LoadBalancer"),
     "service-exposure", "grafana"),
    ("prod", lambda r: _pod(r, "StatefulSet", "prometheus")["containers"][0].update(args=[
        a.replace("retention.time=30d", "retention.time=7d") for a in _pod(r, "StatefulSet", "prometheus")["containers"][0]["args"]]),
     "retention", "prometheus"),
    ("prod", _first_alert_rule, "alert-rules-complete", "prometheus-config"),
    ("prod", _panel_datasource, "dashboards-use-provisioned-datasources", "node"),
    ("prod", lambda r: _named(r, "Ingress", "grafana")["inputs"]["spec"].pop("tls"), "tls-in-production", "grafana"),
    # The gateway's datasources and the collector's pushes (render/gateway.py).
    ("prod", lambda r: _named(r, "dataSource:DataSource", "tempo")["inputs"].update(url="http://tempo:3200"),
     "tls-in-production", "tempo"),
    ("prod", lambda r: _named(r, "dataSource:DataSource", "loki")["inputs"].pop("basicAuthEnabled"),
     "tls-in-production", "loki"),
    ("prod", _plain_loki_push, "tls-in-production", "alloy-config"),
    ("prod", _anonymous_profile_push, "tls-in-production", "alloy-config"),
    ("prod", lambda r: _drop(r, "CronJob", "backup-loki") or _drop(r, "ConfigMap", "backup-loki-config"),
     "backups-scheduled", "loki"),
    ("prod", lambda r: _drop(r, "CronJob", "backup-tempo") or _drop(r, "ConfigMap", "backup-tempo-config"),
     "backups-scheduled", "tempo"),
    ("prod", lambda r: _drop(r, "CronJob", "backup-pushgateway") or _drop(r, "ConfigMap", "backup-pushgateway-config"),
     "backups-scheduled", "pushgateway"),
]


@pytest.mark.parametrize(("stack", "plant", "policy", "resource"), PLANTED,
                         ids=[f"{p[0]}-{p[2]}-{i}" for i, p in enumerate(PLANTED)])
def test_planted_violation_is_caught_naming_the_resource(previews, tmp_path, stack, plant, policy, resource):
    resources = copy.deepcopy(previews[stack].resources)
    before = {(f.policy, f.resource) for f in findings_of(resources, tmp_path, stack)}
    assert (policy, resource) not in before, "the saved preview must comply before the plant"
    plant(resources)
    assert (policy, resource) in {(f.policy, f.resource) for f in findings_of(resources, tmp_path, stack)}


def test_a_stateful_service_without_a_backup_is_a_mandatory_violation(previews, tmp_path):
    resources = copy.deepcopy(previews["prod"].resources)
    _drop(resources, "CronJob", "backup-pyroscope")
    _drop(resources, "ConfigMap", "backup-pyroscope-config")
    found = {(f.policy, f.resource, f.enforcement) for f in findings_of(resources, tmp_path, "prod")}
    assert ("backups-scheduled", "pyroscope", MANDATORY) in found, found


def test_checker_command_prints_and_fails_on_a_mandatory_violation(previews, tmp_path):
    resources = copy.deepcopy(previews["staging"].resources)
    _container(resources, "grafana").update(image="grafana/grafana:latest")
    saved = tmp_path / "resources.json"
    saved.write_text(json.dumps({"resources": resources, "outputs": {}}))
    # Were the PolicyPack constructed, the command would block serving it: the timeout catches that.
    completed = subprocess.run([sys.executable, "-m", "policies", "check", str(saved),
                                "--stack-settings", "Pulumi.staging.yaml"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "[mandatory] images-pinned: grafana: image 'grafana/grafana:latest' is tagged latest" in completed.stdout
    assert "fix: Pin the image" in completed.stdout
