"""`prometheus.remote_write` to a long-term store: the rendered block and its secret, Grafana's second
datasource, and for real: Debian's Prometheus writes to Debian's VictoriaMetrics (which accepts
Prometheus remote write and answers the Prometheus query API) behind basic auth, the recording
rules' series arrive there and the dashboards' queries return data from it."""

from __future__ import annotations

import base64
import json
import math
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml

from dashboards import render_dashboards
from dashboards.common import PROMETHEUS_UID
from render.prometheus import render_prometheus_config
from render.remote_write import SECRET_KEY, long_term_datasource, remote_write_config
from services.core import core_services
from services.spec import SecretFile
from services.topology import Endpoint, internal_endpoints
from settings import SettingsError, parse_settings
from settings.secrets import needed_secrets
from tests.conftest import stack_raw_config
from tests.dashboards.procs import instant_query, live_settings
from tests.dashboards.queries import queries, recorded_names, runnable_here, substitute
from tests.e2e.procs import Processes, free_port, http_ok, start_mocks, start_prometheus, wait_until, write_prometheus_config
from rules.common import stack_services

VICTORIA_METRICS = "/usr/bin/victoria-metrics"
STORE = "https://mimir.example.org"


def with_remote_write(remote: dict, base: dict | None = None):
    raw = json.loads(json.dumps(base if base is not None else stack_raw_config("staging")))
    raw["prometheus"] = {**raw.get("prometheus", {}), "remote_write": remote}
    return parse_settings(raw, "staging")


def test_unset_remote_write_renders_nothing_and_needs_no_secret():
    settings = with_remote_write(None)
    assert "remote_write" not in render_prometheus_config(settings, internal_endpoints(settings))
    assert SECRET_KEY not in [spec.key for spec in needed_secrets(settings)]
    assert core_services(settings)["prometheus"].secret_files == ()


def test_basic_auth_reads_the_password_from_the_secret_file():
    settings = with_remote_write({"url": f"{STORE}/api/v1/push", "auth": "basic", "username": "tenant-1",
                                  "queue": {"max_shards": 20}})
    [target] = render_prometheus_config(settings, internal_endpoints(settings))["remote_write"]
    assert target["url"] == f"{STORE}/api/v1/push"
    assert target["basic_auth"] == {"username": "tenant-1", "password_file": f"/run/secrets/{SECRET_KEY}"}
    assert target["queue_config"]["max_shards"] == 20 and target["queue_config"]["capacity"] == 10000
    assert SECRET_KEY in [spec.key for spec in needed_secrets(settings)]
    assert SecretFile(SECRET_KEY, SECRET_KEY) in core_services(settings)["prometheus"].secret_files
    # The credentials never enter the document.
    assert "authorization" not in target and "password" not in target["basic_auth"]


def test_bearer_token_is_a_credentials_file():
    settings = with_remote_write({"url": f"{STORE}/api/v1/push", "auth": "bearer"})
    [target] = remote_write_config(settings)["remote_write"]
    assert target["authorization"] == {"type": "Bearer", "credentials_file": f"/run/secrets/{SECRET_KEY}"}


@pytest.mark.parametrize(
    ("remote", "line"),
    [
        ({"url": STORE, "auth": "basic"}, "monitoring:prometheus.remote_write.username: null is required when auth is basic"),
        ({"url": STORE, "auth": "bearer", "username": "x"},
         'monitoring:prometheus.remote_write.username: "x" is only used with auth basic, not bearer'),
        ({"url": STORE, "queue": {"min_shards": 10, "max_shards": 5}},
         "monitoring:prometheus.remote_write.queue.max_shards: 5 is below min_shards 10"),
    ],
)
def test_bad_remote_write_settings_are_one_line_each(remote, line):
    with pytest.raises(SettingsError) as caught:
        with_remote_write(remote)
    assert caught.value.lines == [line]


def test_grafana_reads_the_store_only_when_it_has_a_query_url():
    base = {"timeInterval": "30s"}
    assert long_term_datasource(with_remote_write({"url": f"{STORE}/api/v1/push"}), base) is None
    basic = long_term_datasource(
        with_remote_write({"url": f"{STORE}/api/v1/push", "auth": "basic", "username": "t", "query_url": f"{STORE}/prometheus"}),
        base,
    )
    assert basic == {"url": f"{STORE}/prometheus", "json_data": base, "basic_auth_username": "t",
                     "secure_field": ("basicAuthPassword", "")}
    bearer = long_term_datasource(
        with_remote_write({"url": f"{STORE}/api/v1/push", "auth": "bearer", "query_url": f"{STORE}/prometheus"}), base
    )
    assert bearer["json_data"] == {**base, "httpHeaderName1": "Authorization"}
    assert bearer["secure_field"] == ("httpHeaderValue1", "Bearer ")


def test_rendered_remote_write_passes_promtool(tmp_path):
    settings = with_remote_write({"url": f"{STORE}/api/v1/push", "auth": "basic", "username": "t"})
    secret = tmp_path / SECRET_KEY
    secret.write_text("password")
    config = render_prometheus_config(settings, internal_endpoints(settings), rules_dir=str(tmp_path / "rules"))
    config["remote_write"][0]["basic_auth"]["password_file"] = str(secret)
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=True))
    checked = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --- For real: Prometheus -> VictoriaMetrics ----------------------------------------------------

USER, PASSWORD = "prometheus", "not-a-real-password"
WARM_UP_SECONDS = 25


class Store:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str, auth: bool = True) -> dict:
        request = urllib.request.Request(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
        if auth:
            token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


def values(result: dict) -> list[float]:
    data = result["data"]
    if data["resultType"] == "scalar":
        found = [float(data["result"][1])]
    else:
        found = [float(item["value"][1]) for item in data["result"]]
    return [v for v in found if not math.isnan(v)]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("remote-write")
    store_port = free_port()
    raw = live_settings(stack_raw_config("staging"))
    raw["prometheus"]["remote_write"] = {
        "url": f"http://127.0.0.1:{store_port}/api/v1/write", "auth": "basic", "username": USER,
        "queue": {"batch_send_deadline": "1s"},
    }
    settings = parse_settings(raw, "staging")
    processes = Processes()
    try:
        processes.start(
            [VICTORIA_METRICS, f"-httpListenAddr=127.0.0.1:{store_port}", f"-storageDataPath={workdir / 'store'}",
             "-retentionPeriod=1d", f"-httpAuth.username={USER}", f"-httpAuth.password={PASSWORD}",
             # Fresh samples are visible at once (the default hides the last 30 s), answers are not cached.
             "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=ERROR"],
            workdir / "victoria-metrics.log",
        )
        store = Store(f"http://127.0.0.1:{store_port}")
        wait_until(lambda: http_ok(f"{store.url}/health"), 30, "VictoriaMetrics ready")
        mocks = start_mocks(processes, settings, workdir)
        prometheus_port = free_port()
        endpoints = {
            "prometheus": Endpoint("127.0.0.1", prometheus_port),
            "alertmanager": Endpoint("127.0.0.1", free_port()),
            **{f"mock-{name}": Endpoint("127.0.0.1", mock.ports[0]) for name, mock in mocks.items()},
        }
        path = write_prometheus_config(settings, workdir, endpoints, stack_services(settings), mocks)
        # The secret file Prometheus reads the password from (under /run/secrets in a container).
        secret = workdir / SECRET_KEY
        secret.write_text(PASSWORD)
        config = yaml.safe_load(path.read_text())
        config["remote_write"][0]["basic_auth"]["password_file"] = str(secret)
        path.write_text(yaml.safe_dump(config, sort_keys=True))
        prometheus = start_prometheus(processes, path, workdir, prometheus_port)
        time.sleep(WARM_UP_SECONDS)
        yield settings, prometheus, store
    finally:
        processes.stop_all()


@pytest.mark.e2e
def test_the_store_requires_the_credentials(written):
    _, _, store = written
    with pytest.raises(urllib.error.HTTPError) as refused:
        store.query("up", auth=False)
    assert refused.value.code == 401
    assert values(store.query("up"))


@pytest.mark.e2e
def test_recording_rules_series_arrive_in_the_store(written):
    settings, prometheus, store = written
    missing = []
    for name in sorted(recorded_names(settings)):
        expr = f'count({{__name__="{name}"}})'
        if prometheus.query(expr) and not values(store.query(expr)):
            missing.append(name)
    assert missing == []
    # Not vacuous: the live run records most rules.
    recorded_here = [n for n in recorded_names(settings) if prometheus.query(f'count({{__name__="{n}"}})')]
    assert len(recorded_here) >= 20


@pytest.mark.e2e
def test_dashboards_queries_return_data_from_the_store(written):
    settings, prometheus, store = written
    empty_in_store, compared = [], 0
    for model in render_dashboards(settings).values():
        for query in queries(model):
            expr = substitute(query.expr, settings, "10s")
            if query.datasource != PROMETHEUS_UID or not runnable_here(expr) or "ALERTS" in expr:
                continue
            if not values(instant_query(prometheus.url, expr)):
                continue
            compared += 1
            if not values(store.query(expr)):
                empty_in_store.append(f"{query.dashboard} / {query.title} [{query.ref_id}]: {expr}")
    assert empty_in_store == []
    assert compared >= 40
