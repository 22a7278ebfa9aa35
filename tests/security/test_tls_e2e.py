"""Proof of TLS and authentication with the real tools (Debian's Prometheus 2.42, Alertmanager 0.25,
node exporter, Pushgateway and blackbox exporter), each started with the web configuration file the
program renders and a certificate carrying the names the program gives it:

- the servers refuse plain HTTP, a missing or wrong password, and a user the settings do not list
  for that service; they accept the stack's client user and a listed user;
- the rendered prometheus.yml - scrape jobs, alerting and the blackbox modules, rewritten only to
  loopback ports and this test's secrets directories - reaches every other service over TLS with
  the CA, the expected names and the client user: every target is up and an alert reaches
  Alertmanager.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from render.exporters import render_blackbox_config
from render.prometheus import render_prometheus_config
from render.tls_clients import certificate_names, service_name
from render.web_config import CA_FILE, CLIENT_PASSWORD_FILE, SECRETS_DIR, WEB_CONFIG_FILE, render_web_config
from services.topology import Endpoint
from settings import parse_settings
from tests.e2e.procs import ALERTMANAGER_BINARY, PROMETHEUS_BINARY, Processes, free_port, wait_until
from tests.security.certs import LocalCa

pytestmark = pytest.mark.e2e

CLIENT_PASSWORD = "client-secret-for-tests"
ALICE_PASSWORD = "alice-secret-for-tests"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
PUSHGATEWAY = "/usr/bin/prometheus-pushgateway"
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
# Settings key -> the process serving it here.
SERVED = ("prometheus", "alertmanager", "node", "pushgateway", "blackbox")

SETTINGS = parse_settings(
    {
        "prometheus": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "exporters": {
            "node": {"mode": "real", "scrape_interval": "1s"},
            **{name: {"mode": "off"} for name in ("cadvisor", "dcgm", "vllm", "postgres", "redis")},
            "blackbox": {"mode": "real", "scrape_interval": "1s"},
            "pushgateway": {"mode": "real", "scrape_interval": "1s"},
        },
        "security": {
            "tls": {"mode": "generated"},
            "auth": {"enabled": True, "users": [{"name": "alice", "services": ["prometheus"]}]},
        },
    },
    "tls-e2e",
)
PASSWORDS = {SETTINGS.security.auth.client_user: CLIENT_PASSWORD, "alice": ALICE_PASSWORD}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def get(url: str, context: ssl.SSLContext | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """(status, body) of a GET; HTTPError statuses are returned, not raised."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def context_for(ca_file: Path, name: str) -> ssl.SSLContext:
    """Checks the certificate for the service's name whatever the URL's host (loopback here), as
    Prometheus' `server_name` does."""
    context = ssl.create_default_context(cafile=str(ca_file))
    wrap = context.wrap_socket

    def wrap_socket(sock, *args, server_hostname=None, **kwargs):
        return wrap(sock, *args, server_hostname=name, **kwargs)

    context.wrap_socket = wrap_socket  # type: ignore[method-assign]
    return context


def rewrite_paths(document: Any, old: str, new: str) -> Any:
    """The rendered document with the container's secrets directory replaced by a local one."""
    return json.loads(json.dumps(document).replace(old, new))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tls-e2e")
    ca = LocalCa.create()
    ports = {key: free_port() for key in SERVED}
    endpoints = {key: Endpoint("127.0.0.1", port) for key, port in ports.items()}
    secrets: dict[str, Path] = {}
    for key in SERVED:
        directory = secrets[key] = workdir / key / "secrets"
        name = service_name(key)
        ca.write_service(directory, name, *certificate_names(SETTINGS, name))
        (directory / CA_FILE).write_bytes(ca.pem)
        (directory / CLIENT_PASSWORD_FILE).write_text(CLIENT_PASSWORD)
        web_config = render_web_config(SETTINGS, key, PASSWORDS, secrets_dir=str(directory))
        (directory / WEB_CONFIG_FILE).write_text(yaml.safe_dump(web_config))

    def web(key: str) -> str:
        return f"--web.config.file={secrets[key] / WEB_CONFIG_FILE}"

    def listen(key: str) -> str:
        return f"--web.listen-address=127.0.0.1:{ports[key]}"

    rules = workdir / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "tls", "rules": [
        {"alert": "TlsProof", "expr": "vector(1)", "labels": {"severity": "info"}}]}]}))
    config = render_prometheus_config(SETTINGS, endpoints, rules_dir=str(workdir))
    config["rule_files"] = [str(rules)]
    config = rewrite_paths(config, f"{SECRETS_DIR}/", f"{secrets['prometheus']}/")
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    blackbox_config = workdir / "blackbox.yml"
    blackbox_config.write_text(yaml.safe_dump(render_blackbox_config(SETTINGS, secrets_dir=str(secrets["blackbox"]))))

    processes = Processes()
    try:
        processes.start([ALERTMANAGER_BINARY, f"--config.file={null_route_config(workdir)}", listen("alertmanager"),
                         web("alertmanager"), f"--storage.path={workdir / 'am-data'}", "--cluster.listen-address=",
                         "--log.level=warn"], workdir / "alertmanager.log")
        processes.start([NODE_EXPORTER, listen("node"), web("node"), "--collector.disable-defaults",
                         "--collector.loadavg"], workdir / "node.log")
        # Memory only: the binary's default persistence file is shared by every run on the machine.
        processes.start([PUSHGATEWAY, listen("pushgateway"), web("pushgateway"), "--persistence.file="],
                        workdir / "pushgateway.log")
        processes.start([BLACKBOX, listen("blackbox"), web("blackbox"), f"--config.file={blackbox_config}"],
                        workdir / "blackbox.log")
        processes.start([PROMETHEUS_BINARY, f"--config.file={workdir / 'prometheus.yml'}", listen("prometheus"),
                         web("prometheus"), f"--storage.tsdb.path={workdir / 'prom-data'}",
                         "--rules.alert.resend-delay=1s", "--log.level=warn"], workdir / "prometheus.log")
        auth = basic(SETTINGS.security.auth.client_user, CLIENT_PASSWORD)
        for key in SERVED:
            context = context_for(secrets[key] / CA_FILE, service_name(key))
            path = "/metrics" if key == "node" else "/-/ready" if key in ("prometheus", "alertmanager") else "/-/healthy"
            wait_until(lambda: get(f"https://127.0.0.1:{ports[key]}{path}", context, auth)[0] == 200, 30,
                       f"{key} serving TLS on {ports[key]}")
        yield {"ports": ports, "secrets": secrets, "ca": secrets["prometheus"] / CA_FILE, "workdir": workdir}
    finally:
        processes.stop_all()


def null_route_config(workdir: Path) -> Path:
    """A fixed Alertmanager config (routing is not what is proven here; the web config is)."""
    path = workdir / "alertmanager.yml"
    path.write_text(yaml.safe_dump({"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}))
    return path


def url(stack, key: str, path: str) -> str:
    return f"https://127.0.0.1:{stack['ports'][key]}{path}"


@pytest.mark.parametrize("key", ["prometheus", "alertmanager"])
def test_plain_http_is_refused(stack, key):
    status, body = get(f"http://127.0.0.1:{stack['ports'][key]}/-/ready")
    assert status == 400 and b"HTTPS" in body


@pytest.mark.parametrize("key", ["prometheus", "alertmanager"])
def test_a_certificate_from_another_authority_is_not_trusted(stack, key):
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        get(url(stack, key, "/-/ready"), ssl.create_default_context())


@pytest.mark.parametrize("key", ["prometheus", "alertmanager"])
@pytest.mark.parametrize("headers", [{}, basic("monitoring", "wrong"), basic("mallory", CLIENT_PASSWORD)],
                         ids=["no-credentials", "wrong-password", "unknown-user"])
def test_missing_or_wrong_credentials_are_refused(stack, key, headers):
    context = context_for(stack["ca"], service_name(key))
    assert get(url(stack, key, "/-/ready"), context, headers)[0] == 401


def test_a_listed_user_reaches_only_the_services_listed_for_it(stack):
    alice = basic("alice", ALICE_PASSWORD)
    assert get(url(stack, "prometheus", "/-/ready"), context_for(stack["ca"], "prometheus"), alice)[0] == 200
    assert get(url(stack, "alertmanager", "/-/ready"), context_for(stack["ca"], "alertmanager"), alice)[0] == 401


def targets(stack) -> list[dict[str, Any]]:
    context = context_for(stack["ca"], "prometheus")
    auth = basic(SETTINGS.security.auth.client_user, CLIENT_PASSWORD)
    status, body = get(url(stack, "prometheus", "/api/v1/targets"), context, auth)
    assert status == 200
    return json.loads(body)["data"]["activeTargets"]


def query(stack, expr: str) -> list[dict[str, Any]]:
    context = context_for(stack["ca"], "prometheus")
    auth = basic(SETTINGS.security.auth.client_user, CLIENT_PASSWORD)
    status, body = get(url(stack, "prometheus", "/api/v1/query?" + urllib.parse.urlencode({"query": expr})), context, auth)
    assert status == 200
    return json.loads(body)["data"]["result"]


def test_rendered_scrape_jobs_reach_every_service_over_tls(stack):
    jobs = {"prometheus", "alertmanager", "node", "pushgateway", "blackbox"}

    def all_up() -> bool:
        found = {t["labels"]["job"]: t for t in targets(stack) if t["labels"]["job"] in jobs}
        return set(found) == jobs and all(t["health"] == "up" for t in found.values())

    try:
        wait_until(all_up, 30, "every scrape job up over TLS")
    except TimeoutError:
        pytest.fail(json.dumps([(t["labels"]["job"], t["scrapeUrl"], t["lastError"]) for t in targets(stack)], indent=1))
    assert all(t["scrapeUrl"].startswith("https://") for t in targets(stack) if t["labels"]["job"] in jobs)


def test_blackbox_probes_the_stack_with_its_ca_and_client_user(stack):
    """Alertmanager is published, so its certificate names loopback too and the probe's URL
    (rewritten to 127.0.0.1) matches it: the probe succeeds only with the CA and the client user."""
    alertmanager = url(stack, "alertmanager", "/-/ready")

    def probed() -> float | None:
        result = query(stack, f'probe_success{{instance="{alertmanager}"}}')
        return float(result[0]["value"][1]) if result else None

    wait_until(lambda: probed() is not None, 30, "the blackbox probe of Alertmanager")
    wait_until(lambda: probed() == 1.0, 15, "a successful probe of Alertmanager over TLS with the client user")


def test_alerts_reach_alertmanager_over_tls(stack):
    context = context_for(stack["ca"], "alertmanager")
    auth = basic(SETTINGS.security.auth.client_user, CLIENT_PASSWORD)

    def received() -> bool:
        status, body = get(url(stack, "alertmanager", "/api/v2/alerts"), context, auth)
        return status == 200 and any(a["labels"].get("alertname") == "TlsProof" for a in json.loads(body))

    wait_until(received, 30, "the TlsProof alert in Alertmanager")
    errors = query(stack, "sum(prometheus_notifications_errors_total)")
    assert errors and float(errors[0]["value"][1]) == 0
