"""Grafana's links between metrics, logs, traces and profiles, as the datasources are declared
(jsonData keys as Grafana 11.6 documents them for the Tempo, Loki and Prometheus datasources)."""

from __future__ import annotations

import json

import pytest

from components.grafana_datasources import loki_json_data, prometheus_json_data
from settings.model import StackSettings
from tests.conftest import STACKS
from traces.grafana import pyroscope_json_data, tempo_json_data
from traces.tempo_generated import EXEMPLAR_TRACE_ID_LABEL, SPANMETRICS_CALLS

DATASOURCE = "grafana:oss/dataSource:DataSource"


def test_tempo_links_to_logs_metrics_profiles_and_draws_the_service_map():
    data = tempo_json_data(StackSettings(environment="x"))
    logs = data["tracesToLogsV2"]
    assert logs["datasourceUid"] == "loki" and logs["filterByTraceID"] is True
    assert logs["tags"] == [{"key": "service.name", "value": "service"}]
    metrics = data["tracesToMetrics"]
    assert metrics["datasourceUid"] == "prometheus"
    assert all(SPANMETRICS_CALLS in q["query"] or "latency_bucket" in q["query"] for q in metrics["queries"])
    assert all("$__tags" in q["query"] for q in metrics["queries"])
    profiles = data["tracesToProfiles"]
    assert profiles["datasourceUid"] == "pyroscope" and profiles["profileTypeId"].startswith("process_cpu:")
    assert profiles["tags"] == [{"key": "service.name", "value": "service_name"}]
    assert data["serviceMap"] == {"datasourceUid": "prometheus"}
    assert data["nodeGraph"] == {"enabled": True}


def test_without_pyroscope_tempo_has_no_profile_link():
    assert "tracesToProfiles" not in tempo_json_data(StackSettings(environment="x", profiles={"enabled": False}))


def test_exemplars_open_their_trace_in_tempo_only_when_tempo_runs():
    assert prometheus_json_data(StackSettings(environment="x"))["exemplarTraceIdDestinations"] == [
        {"name": EXEMPLAR_TRACE_ID_LABEL, "datasourceUid": "tempo"}
    ]
    assert "exemplarTraceIdDestinations" not in prometheus_json_data(StackSettings(environment="x", traces={"enabled": False}))


def test_a_trace_id_in_a_log_line_opens_tempo_automatically():
    field = loki_json_data(StackSettings(environment="x"))["derivedFields"][0]
    assert field["datasourceUid"] == "tempo" and field["url"] == "${__value.raw}"
    # Without Tempo and without a configured link: no derived field.
    assert "derivedFields" not in loki_json_data(StackSettings(environment="x", traces={"enabled": False}))
    # A configured link wins over the automatic one.
    other = StackSettings(environment="x", logs={"trace_link": {"datasource_uid": "jaeger"}})
    assert loki_json_data(other)["derivedFields"][0]["datasourceUid"] == "jaeger"
    external = StackSettings(environment="x", logs={"trace_link": {"url_template": "https://t.example/${__value.raw}"}})
    assert "datasourceUid" not in loki_json_data(external)["derivedFields"][0]


@pytest.mark.parametrize("stack", STACKS)
def test_the_stacks_declare_the_tempo_and_pyroscope_datasources(previews, stack):
    datasources = {d["inputs"]["uid"]: d["inputs"] for d in previews[stack].of_type(DATASOURCE)}
    tempo, pyroscope = datasources["tempo"], datasources["pyroscope"]
    # Prod gates both behind the authenticating gateway (security.auth, render/gateway.py).
    host = "https://gateway" if stack == "prod" else "http://tempo"
    assert tempo["type"] == "tempo" and tempo["url"].startswith(host) and tempo["url"].endswith(":3200")
    assert json.loads(tempo["jsonDataEncoded"])["tracesToLogsV2"]["datasourceUid"] == "loki"
    assert pyroscope["type"] == "grafana-pyroscope-datasource" and pyroscope["url"].endswith(":4040")
    # Less the gateway's TLS fields (its CA and name) in prod.
    pyroscope_data = {key: value for key, value in json.loads(pyroscope["jsonDataEncoded"]).items()
                      if key not in ("tlsAuthWithCACert", "serverName")}
    assert pyroscope_data == pyroscope_json_data(StackSettings(environment="x"))
    exemplars = json.loads(datasources["prometheus"]["jsonDataEncoded"])["exemplarTraceIdDestinations"]
    assert exemplars[0]["datasourceUid"] == "tempo"
