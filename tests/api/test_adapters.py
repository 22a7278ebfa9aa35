"""Each adapter against upstream answers shaped as its project defines them (tests/api/fixtures.py
names the sources): what the API asks each upstream, and what it makes of the answer."""

from __future__ import annotations

import json

import httpx
import pytest

from api import recordings
from tests.api import fixtures as f
from tests.api.fake import AUTH_READ, AUTH_WRITE, FakeUpstreams, api_client, sample


@pytest.fixture
def fake():
    return FakeUpstreams()


# --- Grafana ------------------------------------------------------------------------------------

def test_dashboards_list_marks_only_the_api_folder_editable(fake):
    fake.on("grafana", "GET", "/api/search", f.GRAFANA_SEARCH)
    listed = api_client(fake).get("/monitoring/dashboards", headers=AUTH_READ).json()["dashboards"]
    assert [(d["uid"], d["editable"]) for d in listed] == [("node", False), ("mine-1a2b3c4d", True)]
    assert fake.requests[0].url.params["type"] == "dash-db"


def test_dashboard_create_goes_to_the_api_folder_creating_it_once(fake):
    fake.on("grafana", "GET", "/api/folders/monitoring-api", lambda r: httpx.Response(404, json={"message": "folder not found"}))
    fake.on("grafana", "POST", "/api/folders", {"uid": "monitoring-api", "title": "Monitoring API"})
    fake.on("grafana", "POST", "/api/dashboards/db", f.GRAFANA_SAVED)
    created = api_client(fake, grafana_folder_uid="monitoring-api").post(
        "/monitoring/dashboards", headers=AUTH_WRITE, json={"title": "Mine", "tags": ["team"]})
    assert created.status_code == 201 and created.json() == {"uid": "mine-1a2b3c4d", "url": "/d/mine-1a2b3c4d/mine", "version": 2}
    folder, saved = (json.loads(r.content) for r in fake.requests if r.method == "POST")
    assert folder == {"uid": "monitoring-api", "title": "Monitoring API"}
    assert saved["folderUid"] == "monitoring-api" and saved["overwrite"] is False
    assert saved["dashboard"]["id"] is None and saved["dashboard"]["uid"].startswith("mine-")


@pytest.mark.parametrize("folder, provisioned", [("monitoring", False), ("monitoring-api", True)])
def test_provisioned_or_foreign_dashboards_are_not_changed(fake, folder, provisioned):
    fake.on("grafana", "GET", "/api/dashboards/uid/node", f.grafana_dashboard("node", folder, provisioned))
    client = api_client(fake)
    assert client.put("/monitoring/dashboards/node", headers=AUTH_WRITE, json={"title": "x"}).status_code == 403
    assert client.delete("/monitoring/dashboards/node", headers=AUTH_WRITE).status_code == 403
    assert {r.method for r in fake.requests} == {"GET"}


def test_own_dashboard_update_and_delete(fake):
    fake.on("grafana", "GET", "/api/dashboards/uid/mine-1a2b3c4d", f.grafana_dashboard("mine-1a2b3c4d", "monitoring-api", False))
    fake.on("grafana", "POST", "/api/dashboards/db", f.GRAFANA_SAVED)
    fake.on("grafana", "DELETE", "/api/dashboards/uid/mine-1a2b3c4d", {"title": "Mine", "message": "deleted", "uid": "mine-1a2b3c4d"})
    client = api_client(fake)
    updated = client.put("/monitoring/dashboards/mine-1a2b3c4d", headers=AUTH_WRITE, json={"title": "Mine 2"})
    assert updated.status_code == 200 and updated.json()["version"] == 2
    saved = json.loads(next(r.content for r in fake.requests if r.method == "POST"))
    # The current version is sent back, so a concurrent edit is refused by Grafana, not overwritten.
    assert saved["dashboard"]["version"] == 1 and saved["dashboard"]["id"] == 7 and saved["dashboard"]["title"] == "Mine 2"
    assert client.delete("/monitoring/dashboards/mine-1a2b3c4d", headers=AUTH_WRITE).json() == {"id": "mine-1a2b3c4d", "deleted": True}
    missing = client.delete("/monitoring/dashboards/none", headers=AUTH_WRITE)
    assert missing.status_code == 404


# --- Loki ---------------------------------------------------------------------------------------

def test_logs_search_newest_first_with_nanosecond_range(fake):
    fake.on("loki", "GET", "/loki/api/v1/query_range", f.LOKI_QUERY_RANGE)
    client = api_client(fake)
    lines = client.get("/monitoring/logs", headers=AUTH_READ,
                       params={"query": '{level="error"}', "start": 1700000000, "end": 1700000100, "limit": 10}).json()["lines"]
    assert [l["line"] for l in lines] == ["error talking to db", "error job 7", "error timeout"]
    assert lines[1]["labels"] == {"service": "worker", "level": "error"}
    params = fake.requests[0].url.params
    assert (params["start"], params["end"], params["limit"], params["direction"]) == (
        "1700000000000000000", "1700000100000000000", "10", "backward")
    posted = client.post("/monitoring/logs/search", headers=AUTH_WRITE,
                         json={"query": '{level="error"}', "start": 1700000000, "end": 1700000100, "direction": "forward"})
    assert [l["line"] for l in posted.json()["lines"]] == ["error timeout", "error job 7", "error talking to db"]


def test_metric_query_is_refused_as_a_log_search(fake):
    fake.on("loki", "GET", "/loki/api/v1/query_range", f.LOKI_METRIC_QUERY)
    response = api_client(fake).get("/monitoring/logs", headers=AUTH_READ, params={"query": 'rate({a="b"}[1m])'})
    assert response.status_code == 422


def test_log_streams_and_patterns(fake):
    fake.on("loki", "GET", "/loki/api/v1/series", f.LOKI_SERIES)
    fake.on("loki", "GET", "/loki/api/v1/patterns", f.LOKI_PATTERNS)
    client = api_client(fake)
    streams = client.get("/monitoring/logs/streams", headers=AUTH_READ, params={"match": ['{service="api"}']}).json()
    assert streams == {"streams": f.LOKI_SERIES["data"]}
    assert fake.requests[0].url.params.get_list("match[]") == ['{service="api"}']
    patterns = client.get("/monitoring/logs/patterns", headers=AUTH_READ, params={"query": '{service="api"}'}).json()
    assert patterns["patterns"] == [{"pattern": '<_> level=error msg="db timeout" <_>', "count": 15},
                                    {"pattern": '<_> level=info msg="request served" <_>', "count": 10}]


# --- Tempo and the service graph --------------------------------------------------------------

def test_trace_search_and_trace_by_id(fake):
    fake.on("tempo", "GET", "/api/search", f.TEMPO_SEARCH)
    fake.on("tempo", "GET", "/api/traces/2f3e0cee77ae5dc9c17ade3689eb2e54", f.TEMPO_TRACE)
    client = api_client(fake)
    found = client.get("/monitoring/traces", headers=AUTH_READ, params={"service": "gateway", "min_duration": "500ms"}).json()
    assert found["traces"][0] == {"trace_id": "2f3e0cee77ae5dc9c17ade3689eb2e54", "root_service": "gateway",
                                  "root_name": "POST /chat", "start_unix_nano": "1700000000000000000", "duration_ms": 557}
    assert fake.requests[0].url.params["tags"] == "service.name=gateway"
    assert fake.requests[0].url.params["minDuration"] == "500ms"
    trace = client.get("/monitoring/traces/2f3e0cee77ae5dc9c17ade3689eb2e54", headers=AUTH_READ).json()
    root, child = trace["spans"]
    assert (root["span_id"], root["service"], root["error"], root["attributes"]) == (
        "0102030405060708", "gateway", True, {"http.status_code": 500})
    assert (child["parent_span_id"], child["service"], child["error"]) == ("0102030405060708", "model-server", False)
    assert client.get("/monitoring/traces/ffff", headers=AUTH_READ).status_code == 404


def test_service_map_and_dependencies_from_the_service_graph(fake):
    edge = lambda c, s, v: sample({"client": c, "server": s}, v)  # noqa: E731
    fake.prometheus_vector(f"histogram_quantile(0.95, sum by (client, server, le) (rate({recordings.SERVICE_GRAPH_SERVER_SECONDS}",
                           [edge("gateway", "plugin-chat", 0.2), edge("plugin-chat", "model-server", "NaN")])
    fake.prometheus_vector(f"sum by (client, server) (rate({recordings.SERVICE_GRAPH_FAILED}",
                           [edge("plugin-chat", "model-server", 0.5)])
    fake.prometheus_vector(f"sum by (client, server) (rate({recordings.SERVICE_GRAPH_REQUESTS}",
                           [edge("gateway", "plugin-chat", 10), edge("plugin-chat", "model-server", 9)])
    fake.prometheus_vector(f"sum by (server) (rate({recordings.SERVICE_GRAPH_FAILED}",
                           [sample({"server": "model-server"}, 0.5)])
    fake.prometheus_vector(f"sum by (server) (rate({recordings.SERVICE_GRAPH_REQUESTS}",
                           [sample({"server": "plugin-chat"}, 10), sample({"server": "model-server"}, 9)])
    fake.prometheus_vector(f"sum by (client) (rate({recordings.SERVICE_GRAPH_REQUESTS}",
                           [sample({"client": "gateway"}, 10), sample({"client": "plugin-chat"}, 9)])
    client = api_client(fake)
    deps = client.get("/monitoring/dependencies", headers=AUTH_READ).json()["dependencies"]
    assert deps == [
        {"client": "gateway", "server": "plugin-chat", "requests_per_second": 10.0, "failed_per_second": 0.0, "server_p95_seconds": 0.2},
        {"client": "plugin-chat", "server": "model-server", "requests_per_second": 9.0, "failed_per_second": 0.5,
         "server_p95_seconds": None},
    ]
    services = {s["name"]: s for s in client.get("/monitoring/services", headers=AUTH_READ).json()["services"]}
    assert services["gateway"]["requests_per_second"] == 0.0  # the edge serves nothing itself
    assert (services["model-server"]["requests_per_second"], services["model-server"]["failed_per_second"]) == (9.0, 0.5)
    assert services["plugin-chat"]["requests_per_second"] == 10.0


# --- Pyroscope ----------------------------------------------------------------------------------

def test_profiling_overview_and_hottest_functions(fake):
    fake.on("pyroscope", "POST", "/querier.v1.QuerierService/ProfileTypes", f.PYROSCOPE_PROFILE_TYPES)
    fake.on("pyroscope", "POST", "/querier.v1.QuerierService/LabelValues", f.PYROSCOPE_LABEL_VALUES)
    fake.on("pyroscope", "GET", "/pyroscope/render", f.PYROSCOPE_RENDER)
    client = api_client(fake)
    overview = client.get("/monitoring/profiling", headers=AUTH_READ).json()
    assert overview["services"] == ["gateway", "plugin-chat"]
    assert [t["id"] for t in overview["profile_types"]] == [t["ID"] for t in f.PYROSCOPE_PROFILE_TYPES["profileTypes"]]
    cpu = client.get("/monitoring/profiling/cpu", headers=AUTH_READ, params={"service": "gateway", "limit": 2}).json()
    assert cpu["total"] == 100 and cpu["unit"] == "samples"
    assert cpu["top"] == [{"name": "handle", "self": 60, "total": 70}, {"name": "gc", "self": 30, "total": 30}]
    assert fake.requests[-1].url.params["query"] == 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="gateway"}'
    client.get("/monitoring/profiling/memory", headers=AUTH_READ, params={"service": "gateway"})
    assert fake.requests[-1].url.params["query"] == 'memory:inuse_space:bytes:space:bytes{service_name="gateway"}'


# --- Prometheus: metrics, capacity, SLA, benchmarks -------------------------------------------

def test_metrics_list_with_family_metadata(fake):
    fake.on("prometheus", "GET", "/api/v1/label/__name__/values",
            {"status": "success", "data": ["go_gc_duration_seconds_count", "node_load1", "up"]})
    fake.on("prometheus", "GET", "/api/v1/metadata", {"status": "success", "data": {
        "go_gc_duration_seconds": [{"type": "summary", "help": "GC pauses.", "unit": ""}],
        "node_load1": [{"type": "gauge", "help": "1m load average.", "unit": ""}]}})
    listed = api_client(fake).get("/monitoring/metrics", headers=AUTH_READ, params={"limit": 2}).json()
    assert listed == {"truncated": True, "metrics": [
        {"name": "go_gc_duration_seconds_count", "type": "summary", "help": "GC pauses."},
        {"name": "node_load1", "type": "gauge", "help": "1m load average."}]}


def test_metric_data_selector_is_escaped(fake):
    fake.on("prometheus", "GET", "/api/v1/query_range", {"status": "success", "data": {"resultType": "matrix", "result": []}})
    api_client(fake).get("/monitoring/metrics/up", headers=AUTH_READ, params={"match": ['job=a"}or vector(1)']})
    assert fake.requests[0].url.params["query"] == 'up{job="a\\"}or vector(1)"}'


def test_capacity_forecast_and_sla_from_recordings(fake):
    fs = {"resource": "filesystem_space", "unit": "bytes", "instance": "h:9100", "mountpoint": "/"}
    fake.prometheus_vector(recordings.CAPACITY_HEADROOM, [sample({"__name__": recordings.CAPACITY_HEADROOM, **fs}, 0.25)])
    fake.prometheus_vector(recordings.CAPACITY_RECOMMENDED, [sample(fs, 1e9)])
    fake.prometheus_vector(recordings.CAPACITY_DAYS_UNTIL_FULL, [sample(fs, "+Inf")])
    fake.prometheus_vector(recordings.CAPACITY_FORECAST, [sample(fs, 0.9)])
    fake.prometheus_vector(recordings.CAPACITY_USAGE, [sample(fs, 0.75)])
    fake.prometheus_vector(recordings.CAPACITY_SIZE, [sample(fs, 4e9)])
    fake.prometheus_vector(recordings.SLA_STATE, [sample({"sla": "llm-api"}, 1)])
    fake.prometheus_vector(recordings.SLA_BUDGET_PROJECTED, [sample({"sla": "llm-api", "objective": "latency"}, 1.5)])
    fake.prometheus_vector(recordings.SLA_BUDGET_USED, [sample({"sla": "llm-api", "objective": "latency"}, 0.5)])
    fake.prometheus_vector(recordings.SLA_RATIO_MONTH, [sample({"sla": "llm-api", "objective": "latency"}, 0.995)])
    client = api_client(fake)
    assert client.get("/monitoring/capacity", headers=AUTH_READ).json() == {
        "resources": [{"labels": fs, "usage_ratio": 0.75, "size": 4e9, "headroom_ratio": 0.25}]}
    assert client.get("/monitoring/capacity/forecast", headers=AUTH_READ).json() == {
        "forecasts": [{"labels": fs, "forecast_peak_ratio": 0.9, "days_until_full": None, "recommended_addition": 1e9}]}
    assert client.get("/monitoring/sla", headers=AUTH_READ).json() == {
        "slas": [{"sla": "llm-api", "state": "degraded", "objectives": {"latency": 0.995}}]}
    assert client.get("/monitoring/sla/reports", headers=AUTH_READ).json() == {"reports": [
        {"sla": "llm-api", "objective": "latency", "month_to_date_ratio": 0.995, "error_budget_used_ratio": 0.5,
         "error_budget_projected_ratio": 1.5}]}


def test_benchmarks_per_job(fake):
    fake.prometheus_vector("histogram_quantile(0.99", [sample({"job": "prometheus"}, 0.08)])
    fake.prometheus_vector("histogram_quantile(0.9,", [sample({"job": "prometheus"}, 0.02)])
    fake.prometheus_vector("histogram_quantile(0.5,", [sample({"job": "prometheus"}, 0.004), sample({"job": "loki"}, "NaN")])
    fake.prometheus_vector("sum by (job) (rate(", [sample({"job": "prometheus"}, 3.5)])
    answer = api_client(fake).get("/monitoring/benchmarks", headers=AUTH_READ, params={"window": "10m"}).json()
    assert answer == {"window": "10m", "benchmarks": [
        {"job": "loki", "requests_per_second": None, "p50_seconds": None, "p90_seconds": None, "p99_seconds": None},
        {"job": "prometheus", "requests_per_second": 3.5, "p50_seconds": 0.004, "p90_seconds": 0.02, "p99_seconds": 0.08}]}
    assert all(name + "_bucket" in fake.requests[0].url.params["query"] for name in recordings.LATENCY_HISTOGRAMS)


def test_basic_auth_goes_only_to_the_upstreams_that_ask_for_it(fake):
    fake.on("alertmanager", "GET", "/api/v2/alerts", [])
    fake.on("loki", "GET", "/loki/api/v1/series", f.LOKI_SERIES)
    client = api_client(fake, client_user="stack", client_password="s3cret-pass", client_auth_upstreams=("alertmanager",))
    client.get("/monitoring/alerts", headers=AUTH_READ)
    client.get("/monitoring/logs/streams", headers=AUTH_READ)
    alertmanager, loki = fake.requests
    assert alertmanager.headers["authorization"] == httpx.BasicAuth("stack", "s3cret-pass")._auth_header
    # Nor is the caller's own bearer token passed on to any upstream.
    assert "authorization" not in loki.headers
