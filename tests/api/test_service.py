"""The monitoring API as a service of the stack: off by default and then absent everywhere; on, a
hardened built service on both platforms, Prometheus globbing its user rules (one Docker host
only), its self-scrape, its NetworkPolicy flows, its image's pins and context, and the OpenAPI
document the preview writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from api.app import OPENAPI_PATH
from components.monitoring_api import DOCKERFILE, context_files
from platforms.kubernetes_network import ANY_POD, stack_flows
from render.prometheus import USER_RULES_DIR
from services.api import NAME, RULES_DIR, api_services
from services.cluster import for_platform
from services.core import core_services
from services.topology import internal_endpoints
from settings import parse_settings
from tests.conftest import ROOT
from tests.kubernetes.k8s_render import raw_on_platform

IMAGE = "monitoring-api:test"


def _settings(platform: str):
    return parse_settings(raw_on_platform({"api": {"enabled": True}}, platform), "staging")


def _prometheus_config(settings) -> dict:
    return yaml.safe_load(core_services(settings)["prometheus"].file("prometheus.yml").content)


def test_off_by_default_and_then_absent():
    settings = parse_settings({}, "staging")
    assert api_services(settings, internal_endpoints(settings), IMAGE) == {}
    prometheus = core_services(settings)["prometheus"]
    config = _prometheus_config(settings)
    assert NAME not in {job["job_name"] for job in config["scrape_configs"]}
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    assert "--web.enable-lifecycle" not in prometheus.command and NAME not in prometheus.depends_on


def test_on_docker_hardened_with_user_rules_shared_read_only():
    settings = _settings("docker")
    spec = api_services(settings, internal_endpoints(settings), IMAGE)[NAME]
    assert spec.built_image and spec.image == IMAGE and spec.security.user == "65534:65534"
    assert spec.security.drop_capabilities == ("ALL",) and spec.security.no_new_privileges and not spec.security.privileged
    assert [v.mount_path for v in spec.volumes] == [RULES_DIR] and spec.health.path == "/monitoring/healthz"
    command = " ".join(spec.command)
    for upstream in ("prometheus:9090", "alertmanager:9093", "grafana:3000", "loki:3100", "tempo:3200", "pyroscope:4040"):
        assert f"http://{upstream}" in command
    assert f"--rules-dir {RULES_DIR}" in command and "--prometheus-reload-url http://prometheus:9090/-/reload" in command
    assert "--timeout loki=15" in command and "--rate-limit 20" in command
    assert [s.secret_key for s in spec.secret_files] == ["monitoring_api_tokens"] and "--grafana-token-file" not in command
    with_token = parse_settings(raw_on_platform({"api": {"enabled": True, "grafana_token": True}}, "docker"), "staging")
    signed_in = api_services(with_token, internal_endpoints(with_token), IMAGE)[NAME]
    assert "--grafana-token-file /run/secrets/monitoring_api_grafana_token" in " ".join(signed_in.command)
    assert "monitoring_api_grafana_token" in {s.secret_key for s in signed_in.secret_files}
    prometheus = core_services(settings)["prometheus"]
    shared = next(v for v in prometheus.volumes if v.borrowed_from == NAME)
    assert shared.mount_path == USER_RULES_DIR and not shared.borrowed_writable
    assert "--web.enable-lifecycle" in prometheus.command and NAME in prometheus.depends_on
    config = _prometheus_config(settings)
    assert f"{USER_RULES_DIR}/*.yml" in config["rule_files"]
    job = next(job for job in config["scrape_configs"] if job["job_name"] == NAME)
    assert job["static_configs"][0]["targets"] == ["monitoring-api:8080"] and job["metrics_path"] == "/metrics"


def test_signals_off_leave_their_upstreams_out():
    settings = parse_settings({"api": {"enabled": True}, "traces": {"enabled": False}, "profiles": {"enabled": False}}, "staging")
    command = api_services(settings, internal_endpoints(settings), IMAGE)[NAME].command
    assert "--tempo" not in command and "--pyroscope" not in command and "--loki" in command


def test_on_kubernetes_rules_in_one_configmap_and_named_flows():
    """Mutations caught (by these assertions; not run against the shared files): the API given --rules-dir or a volume on a cluster, no ApiWrite, Prometheus
    without the ConfigMap mount or the auto-reload flags, no egress to the API server."""
    from services.api import USER_RULES_CONFIG_MAP, propagation_seconds
    from services.spec import ApiWrite

    settings = _settings("kubernetes")
    specs = [*for_platform(settings, core_services(settings)).values(),
             *for_platform(settings, api_services(settings, internal_endpoints(settings), IMAGE)).values()]
    api = next(spec for spec in specs if spec.name == NAME)
    command = " ".join(api.command)
    assert "--rules-dir" not in api.command and api.volumes == ()
    assert f"--rules-configmap monitoring/{USER_RULES_CONFIG_MAP}" in command
    # kubelet's refresh (120 s), Prometheus' auto-reload check (30 s), one evaluation interval.
    from settings.types import duration_seconds

    assert propagation_seconds(settings) == 120 + 30 + duration_seconds(settings.prometheus.evaluation_interval)
    assert f"--rules-propagation-seconds {propagation_seconds(settings)}" in command
    assert api.api_writes == (ApiWrite("configmaps", USER_RULES_CONFIG_MAP, ("get", "update", "patch")),)
    prometheus = next(spec for spec in specs if spec.name == "prometheus")
    assert "--web.enable-lifecycle" not in prometheus.command
    assert "--enable-feature=auto-reload-config" in prometheus.command
    mounted = next(v for v in prometheus.volumes if v.config_map == USER_RULES_CONFIG_MAP)
    assert mounted.mount_path == USER_RULES_DIR and not mounted.stateful
    assert f"{USER_RULES_DIR}/*.yml" in _prometheus_config(settings)["rule_files"]
    flows = {(f.source, f.destination, f.ports) for f in stack_flows(settings, specs) if NAME in (f.source, f.destination)}
    assert {(NAME, "prometheus", (9090,)), (NAME, "alertmanager", (9093,)), (NAME, "grafana", (3000,)),
            (NAME, "loki", (3100,)), ("prometheus", NAME, (8080,)), (ANY_POD, NAME, (8080,)),
            (NAME, "*", (443, 6443))} <= flows


def test_image_pins_are_the_requirements_and_its_context_is_the_package():
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M))
    installed = dict(re.findall(r"([A-Za-z0-9_.-]+)==(\S+)", (ROOT / DOCKERFILE).read_text()))
    assert set(installed) >= {"fastapi", "uvicorn", "httpx", "prometheus-client", "PyYAML", "promql-parser"}
    assert all(pins[name] == version for name, version in installed.items()), (installed, pins)
    # promtool (the user rules' checker) comes from the Prometheus image the stack runs.
    from settings.images import IMAGES

    dockerfile = (ROOT / DOCKERFILE).read_text()
    assert f"FROM {IMAGES['prometheus'].image} AS prometheus" in dockerfile
    assert "COPY --from=prometheus /bin/promtool /usr/local/bin/promtool" in dockerfile
    files = context_files()
    assert "api/__main__.py" in files and str(DOCKERFILE) in files
    assert all(f.startswith("api/") or f == str(DOCKERFILE) for f in files) and not any("__pycache__" in f for f in files)


def test_preview_writes_the_openapi_document(previews):
    for stack, preview in previews.items():
        written = json.loads((preview.out / "api" / "openapi.json").read_text())
        assert "/monitoring/alerts/{alert_id}/ack" in written["paths"], stack
        assert any(r["type"] == "monitoring:api:MonitoringApi" for r in preview.resources)
    assert OPENAPI_PATH == "/monitoring/openapi.json"


def test_with_tls_and_auth_it_verifies_the_ca_and_signs_in_where_asked():
    settings = parse_settings({"api": {"enabled": True}, "security": {"tls": {"mode": "generated"}, "auth": {"enabled": True}}},
                              "staging")
    spec = api_services(settings, internal_endpoints(settings), IMAGE)[NAME]
    command = " ".join(spec.command)
    assert "--prometheus https://prometheus:9090" in command and "--ca-file /run/secrets/ca.crt" in command
    assert "--client-auth prometheus" in command and "--client-auth alertmanager" in command
    # Loki, Tempo and Pyroscope through the gateway, which asks for the client user (render/gateway.py).
    assert "--loki https://gateway:3100" in command and "--client-auth loki" in command
    tls_only = parse_settings({"api": {"enabled": True}, "security": {"tls": {"mode": "generated"}}}, "staging")
    plain = " ".join(api_services(tls_only, internal_endpoints(tls_only), IMAGE)[NAME].command)
    assert "--loki https://loki:3100" in plain and "--client-auth" not in plain
    assert f"--client-user {settings.security.auth.client_user} --client-password-file /run/secrets/web_client_password" in command
    assert {s.file_name for s in spec.secret_files} >= {"ca.crt", "web_client_password", "monitoring_api_tokens"}
