"""The dashboards reach Grafana as the program declares them: one folder, one Dashboard per model,
provisioned by the datasources' provider after the datasources and their health checks; the
Alertmanager datasource; and a health check that really fails on an unhealthy datasource."""

from __future__ import annotations

import json
import subprocess
import sys
from http.server import BaseHTTPRequestHandler

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.grafana_datasources import HEALTH_PATHS, DatasourceHealthProvider
from dashboards import render_dashboards
from tests.conftest import STACKS, stack_settings
from tests.fake_http import send_json, serving

DASHBOARD = "grafana:oss/dashboard:Dashboard"
DATASOURCE = "grafana:oss/dataSource:DataSource"
FOLDER = "grafana:oss/folder:Folder"
HEALTH = "pulumi-python:dynamic:Resource"


@pytest.mark.parametrize("stack", STACKS)
def test_every_dashboard_is_provisioned_as_rendered(previews, stack):
    preview = previews[stack]
    expected = render_dashboards(stack_settings(stack))
    # The public status page is a dashboard of its own component (tests/sla/test_status_page.py).
    dashboards = [d for d in preview.of_type(DASHBOARD) if preview.by_urn(d["parent"])["type"] != "monitoring:grafana:StatusPage"]
    assert {d["name"] for d in dashboards} == set(expected)
    folder = preview.named(FOLDER, "folder")
    for dashboard in dashboards:
        assert json.loads(dashboard["inputs"]["configJson"]) == expected[dashboard["name"]]
        assert dashboard["inputs"]["overwrite"] is True
        assert dashboard["inputs"]["folder"] == folder["inputs"]["uid"]
        assert preview.by_urn(dashboard["parent"])["type"] == "monitoring:grafana:GrafanaDashboards"
        assert "pulumi:providers:grafana" in dashboard["provider"]


@pytest.mark.parametrize("stack", STACKS)
def test_datasources_and_health_checks(previews, stack):
    preview = previews[stack]
    datasources = {d["inputs"]["uid"]: d for d in preview.of_type(DATASOURCE)}
    # Tempo and Pyroscope run by default (with Alloy): their datasources too (tests/traces/test_correlation.py).
    assert set(datasources) == {"prometheus", "loki", "alertmanager", "tempo", "pyroscope"}
    assert datasources["pyroscope"]["inputs"]["type"] == "grafana-pyroscope-datasource"
    alertmanager = datasources["alertmanager"]["inputs"]
    assert alertmanager["type"] == "alertmanager"
    assert json.loads(alertmanager["jsonDataEncoded"])["implementation"] == "prometheus"
    assert json.loads(datasources["prometheus"]["inputs"]["jsonDataEncoded"])["queryTimeout"]
    checks = {c["inputs"]["uid"]: c for c in preview.of_type(HEALTH)}
    assert set(checks) == set(datasources)
    for uid, check in checks.items():
        assert check["inputs"]["path"] == HEALTH_PATHS[uid]
        assert check["inputs"]["auth"] == "[secret]"
        assert datasources[uid]["urn"] in check["dependencies"]


def test_dashboards_wait_for_the_datasources_component(previews):
    preview = previews["staging"]
    component = preview.named("monitoring:grafana:GrafanaDashboards", "grafana-dashboards")
    datasources = preview.named("monitoring:grafana:GrafanaDatasources", "grafana-datasources")
    assert preview.by_urn(component["parent"])["type"] == "monitoring:stack:MonitoringStack"
    for dashboard in preview.of_type(DASHBOARD):
        # depends_on a component resolves to its children: every datasource and health check.
        needed = {r["urn"] for r in preview.resources if r["parent"] == datasources["urn"] and r["custom"] and r["type"] != "pulumi:providers:grafana"}
        assert needed <= set(dashboard["dependencies"]), dashboard["name"]


class FakeGrafana(BaseHTTPRequestHandler):
    """Grafana's datasource health API as far as the check reads it: a status per path."""

    answers: dict[str, tuple[int, dict]] = {}

    def do_GET(self):  # noqa: N802
        code, body = self.answers.get(self.path, (404, {"message": "not found"}))
        if self.headers.get("Authorization") != "Basic YWRtaW46c2VjcmV0":  # admin:secret
            code, body = 401, {"message": "unauthorized"}
        send_json(self, code, body)

    def log_message(self, *args):
        pass


@pytest.fixture
def grafana_api():
    FakeGrafana.answers = {
        HEALTH_PATHS["prometheus"]: (200, {"status": "OK", "message": "Successfully queried the Prometheus API."}),
        HEALTH_PATHS["loki"]: (400, {"status": "ERROR", "message": "Unable to connect with Loki."}),
        HEALTH_PATHS["alertmanager"]: (200, {"cluster": {"status": "ready"}}),
    }
    with serving(FakeGrafana) as url:
        yield url


def props(url: str, uid: str, auth: str = "admin:secret") -> dict:
    return {"grafana_url": url, "auth": auth, "uid": uid, "path": HEALTH_PATHS[uid], "deadline_seconds": 0.5}


def test_health_check_passes_for_healthy_and_fails_for_unhealthy(grafana_api):
    provider = DatasourceHealthProvider()
    assert provider.create(props(grafana_api, "prometheus")).id == "prometheus-health"
    assert provider.create(props(grafana_api, "alertmanager")).id == "alertmanager-health"
    with pytest.raises(RuntimeError, match="loki is not healthy.*Unable to connect with Loki"):
        provider.create(props(grafana_api, "loki"))
    with pytest.raises(RuntimeError, match="HTTP 401"):
        provider.create(props(grafana_api, "prometheus", auth="admin:wrong"))


def test_health_check_runs_where_the_project_is_not_importable(grafana_api, tmp_path):
    """Pulumi's dynamic-provider host has no project path: the provider must unpickle without it."""
    blob = serialize_provider(DatasourceHealthProvider())
    script = (
        "import base64, json, sys, dill\n"
        "provider = dill.loads(base64.b64decode(sys.argv[1]))\n"
        "print(provider.create(json.loads(sys.argv[2])).id)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-I", "-c", script, blob, json.dumps(props(grafana_api, "prometheus"))],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "prometheus-health"
