"""User rule checks (those `promtool check rules` applies, proven by promtool itself on what is
written), the OpenAPI document holding every endpoint of seed 002 with its schema, the record names
the API reads, and the API's own metrics and their contract (api/monitoring-api.yaml)."""

from __future__ import annotations

import subprocess

import httpx
import pytest
import yaml

import rules.capacity as capacity
import rules.sla as sla
from api import recordings
from api.app import OPENAPI_PATH
from api.rules_store import AlertRuleBody, RulesStore
from tests.api.fake import AUTH_READ, AUTH_WRITE, FakeUpstreams, api_client

PROMTOOL = "/usr/bin/promtool"
GOOD = {"name": "CheckoutErrorsHigh", "expr": 'sum(rate(http_requests_total{code=~"5.."}[5m])) > 1', "for": "10m",
        "labels": {"severity": "warning"}, "annotations": {"summary": "{{ $value }} errors a second"}}

# Seed 002's endpoint list, method and path as the API serves them.
SEED_ENDPOINTS = [
    ("get", "/monitoring/metrics"), ("get", "/monitoring/metrics/{metric}"), ("get", "/monitoring/dashboards"),
    ("post", "/monitoring/dashboards"), ("put", "/monitoring/dashboards/{uid}"), ("delete", "/monitoring/dashboards/{uid}"),
    ("get", "/monitoring/alerts"), ("get", "/monitoring/alerts/rules"), ("post", "/monitoring/alerts/rules"),
    ("put", "/monitoring/alerts/rules/{rule_id}"), ("delete", "/monitoring/alerts/rules/{rule_id}"),
    ("post", "/monitoring/alerts/{alert_id}/ack"), ("get", "/monitoring/traces"), ("get", "/monitoring/traces/{trace_id}"),
    ("get", "/monitoring/services"), ("get", "/monitoring/dependencies"), ("get", "/monitoring/logs"),
    ("get", "/monitoring/logs/streams"), ("post", "/monitoring/logs/search"), ("get", "/monitoring/logs/patterns"),
    ("get", "/monitoring/profiling"), ("get", "/monitoring/profiling/cpu"), ("get", "/monitoring/profiling/memory"),
    ("get", "/monitoring/benchmarks"), ("get", "/monitoring/capacity"), ("get", "/monitoring/capacity/forecast"),
    ("get", "/monitoring/sla"), ("get", "/monitoring/sla/reports"),
]


@pytest.mark.parametrize("change, field", [
    ({"expr": "rate(x[5m"}, "expr: does not parse"),
    ({"expr": "sum by (job (up)"}, "expr: does not parse"),
    ({"for": "10 minutes"}, "for:"),
    ({"for": "5m10h"}, "for:"),
    ({"labels": {"bad-name": "x"}}, "labels.bad-name"),
    ({"labels": {"__reserved": "x"}}, "labels.__reserved"),
    ({"labels": {"alertname": "Other"}}, "labels.alertname"),
    ({"annotations": {"summary": "{{ $value "}}, "annotations.summary"),
    ({"name": "has space"}, "name:"),
])
def test_bad_rules_are_refused_naming_the_field_and_nothing_is_written(tmp_path, change, field):
    response = api_client(FakeUpstreams(), tmp_path).post("/monitoring/alerts/rules", headers=AUTH_WRITE, json={**GOOD, **change})
    assert response.status_code == 422 and response.json()["error"]["message"].startswith(field), response.text
    assert list(tmp_path.iterdir()) == []


def test_written_rule_passes_promtool_and_stays_out_of_rendered_rules(tmp_path):
    (tmp_path / "node.yml").write_text("groups: []\n")  # a file not the API's: never listed, never removed
    client = api_client(FakeUpstreams(), tmp_path)
    assert client.post("/monitoring/alerts/rules", headers=AUTH_WRITE, json=GOOD).status_code == 201
    path = tmp_path / "user-CheckoutErrorsHigh.yml"
    checked = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert yaml.safe_load(path.read_text())["groups"][0]["rules"][0]["for"] == "10m"
    assert RulesStore(tmp_path).ids() == ["CheckoutErrorsHigh"]
    assert client.delete("/monitoring/alerts/rules/node", headers=AUTH_WRITE).status_code == 404
    assert (tmp_path / "node.yml").exists()
    changed = client.put("/monitoring/alerts/rules/CheckoutErrorsHigh", headers=AUTH_WRITE, json={**GOOD, "for": "1h"})
    assert changed.status_code == 200 and RulesStore(tmp_path).read("CheckoutErrorsHigh").for_ == "1h"
    renamed = client.put("/monitoring/alerts/rules/CheckoutErrorsHigh", headers=AUTH_WRITE, json={**GOOD, "name": "Other"})
    assert renamed.status_code == 422


def test_what_our_checks_refuse_promtool_refuses_too(tmp_path):
    """The checks are promtool's: each refused rule, written around them, fails `promtool check rules`."""
    from api.rules_store import document

    for number, change in enumerate(({"expr": "rate(x[5m"}, {"for": "10 minutes"}, {"labels": {"bad-name": "x"}})):
        path = tmp_path / f"bad-{number}.yml"
        path.write_text(yaml.safe_dump(document(AlertRuleBody(**{**GOOD, **change}))))
        assert subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True).returncode != 0, change


def test_rules_without_a_rules_dir_are_503():
    response = api_client(FakeUpstreams()).post("/monitoring/alerts/rules", headers=AUTH_WRITE, json=GOOD)
    assert response.status_code == 503 and "--rules-dir" in response.json()["error"]["message"]


def test_openapi_has_every_seed_endpoint_with_typed_responses():
    document = api_client(FakeUpstreams()).get(OPENAPI_PATH).json()
    assert document["openapi"].startswith("3.")
    for method, path in SEED_ENDPOINTS:
        operation = document["paths"].get(path, {}).get(method)
        assert operation is not None, f"{method.upper()} {path} is missing"
        success = next(v for k, v in operation["responses"].items() if k.startswith("2"))
        assert "$ref" in success["content"]["application/json"]["schema"], f"{method.upper()} {path} has no response schema"
    ack = document["paths"]["/monitoring/alerts/{alert_id}/ack"]["post"]
    assert ack["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AckBody")


def test_recorded_names_are_the_rules_own():
    assert (recordings.CAPACITY_USAGE, recordings.CAPACITY_SIZE, recordings.CAPACITY_HEADROOM, recordings.CAPACITY_FORECAST,
            recordings.CAPACITY_DAYS_UNTIL_FULL, recordings.CAPACITY_RECOMMENDED) == (
        capacity.USAGE, capacity.SIZE, capacity.HEADROOM, capacity.FORECAST, capacity.DAYS_UNTIL_FULL, capacity.RECOMMENDED)
    assert (recordings.SLA_STATE, recordings.SLA_RATIO_MONTH, recordings.SLA_BUDGET_USED, recordings.SLA_BUDGET_PROJECTED) == (
        sla.STATE, sla.RATIO_MONTH, sla.BUDGET_USED, sla.BUDGET_PROJECTED)
    assert recordings.SLA_STATES == sla.STATES


def test_service_graph_names_are_tempos():
    from traces import tempo_generated

    names = repr(vars(tempo_generated))
    for name in (recordings.SERVICE_GRAPH_REQUESTS, recordings.SERVICE_GRAPH_FAILED,
                 recordings.SERVICE_GRAPH_SERVER_SECONDS.removesuffix("_bucket")):
        assert name.removeprefix("traces_") in names, name


def test_self_metrics_are_per_route_template():
    fake = FakeUpstreams()
    fake.on("alertmanager", "GET", "/api/v2/alerts", [])
    client = api_client(fake)
    client.get("/monitoring/alerts", headers=AUTH_READ)
    client.post("/monitoring/alerts/0123456789abcdef/ack", headers=AUTH_WRITE, json={"author": "a", "comment": "c"})
    text = client.get("/metrics").text
    assert 'monitoring_api_request_duration_seconds_bucket{code="200",le="0.1",method="GET",route="/monitoring/alerts"}' in text
    assert 'route="/monitoring/alerts/{alert_id}/ack"' in text and "0123456789abcdef" not in text


def test_self_metrics_satisfy_the_contract():
    from exporters.contracts import check_exposition, load_contract
    from tests.conftest import ROOT

    fake = FakeUpstreams()
    fake.on("alertmanager", "GET", "/api/v2/alerts", lambda request: httpx.Response(500))
    client = api_client(fake)
    client.get("/monitoring/alerts", headers=AUTH_READ)
    contract = load_contract(ROOT / "api" / "monitoring-api.yaml")
    assert check_exposition(contract, client.get("/metrics").text) == []
    assert check_exposition(contract, "# nothing served\n") != []
