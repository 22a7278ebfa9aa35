"""The mock exporters serve TLS and basic authentication from the web configuration file the program
renders for them (`--web-config-file`, mock_exporter/webconfig.py), proven with real processes:

- a mock started with the rendered file and a certificate carrying the names the program gives
  `mock-<exporter>` refuses plain HTTP, a missing, wrong or unknown user's credentials (401 with
  `WWW-Authenticate: Basic`) on every path and every simulated host, and serves the client user;
- its health command (the one the container and the pod run) succeeds over HTTPS with the header
  read from the secret file, and fails with a wrong header in that file;
- the rendered prometheus.yml, rewritten only to loopback ports and this test's secrets directory,
  makes a real Debian Prometheus scrape every mock over TLS with the CA, the mock's name and the
  client user: every mock target is up;
- a bad file stops the mock at start with one line naming the key;
- a successful bcrypt check is cached per (user, password), a failed one is not;
- the image installs the pins of requirements.txt for the file's YAML and bcrypt.

Mutations checked (each makes at least one test here fail): `--web-config-file` ignored in
`mock_exporter/__main__.py` (plain HTTP served: plain-HTTP, 401 and scrape tests fail); the
parse_request check removed from `mock_exporter/server.py` (401 tests fail); the cache removed or
caching failures too (cache test fails); the unknown-key check removed (start test fails); mocks
dropped from `reads_web_config` in render/web_config.py (no flag: the health-command and scrape
tests fail; no `prometheus_client` on the mock jobs: scrape test fails); `source == "mock"` removed
from `_job`'s `secured` in render/exporters.py (jobs plain http: scrape test fails); the python
probe not rebuilt after `secured` in services/exporters.py (plain-http probe: health test fails);
bcrypt or PyYAML dropped from the image's Dockerfile (pin test fails).
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from render.prometheus import render_prometheus_config
from render.tls_clients import certificate_names, service_name
from render.web_config import (
    CA_FILE,
    CLIENT_PASSWORD_FILE,
    HEALTH_AUTHORIZATION_FILE,
    SECRETS_DIR,
    WEB_CONFIG_FILE,
    health_authorization,
    render_web_config,
    web_config_flag,
)
from services.exporters import exporter_services
from services.topology import Endpoint
from settings import parse_settings
from tests.e2e.procs import PROMETHEUS_BINARY, ROOT, Processes, _port_free, free_port, wait_until
from tests.security.certs import LocalCa
from tests.security.test_tls_e2e import basic, context_for, get, rewrite_paths

pytestmark = pytest.mark.e2e

CLIENT_PASSWORD = "client-secret-for-mock-tests"
MOCKS = ("cadvisor", "dcgm", "vllm")
HOSTS = 2
SETTINGS = parse_settings(
    {
        "prometheus": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "exporters": {
            "node": {"mode": "off"},
            **{name: {"mode": "mock", "scrape_interval": "1s"} for name in MOCKS},
            **{name: {"mode": "off"} for name in ("postgres", "redis", "blackbox", "pushgateway")},
        },
        "security": {"tls": {"mode": "generated"}, "auth": {"enabled": True}},
    },
    "mock-tls",
)
CLIENT = SETTINGS.security.auth.client_user
PASSWORDS = {CLIENT: CLIENT_PASSWORD}


def key(exporter: str) -> str:
    return f"mock-{exporter}"


def write_secrets(ca: LocalCa, directory: Path, service: str) -> None:
    """What the platform mounts under /run/secrets for `service`, in a local directory."""
    name = service_name(service)
    ca.write_service(directory, name, *certificate_names(SETTINGS, name))
    (directory / CA_FILE).write_bytes(ca.pem)
    (directory / CLIENT_PASSWORD_FILE).write_text(CLIENT_PASSWORD)
    (directory / HEALTH_AUTHORIZATION_FILE).write_text(health_authorization(SETTINGS, CLIENT_PASSWORD))
    web_config = render_web_config(SETTINGS, service, PASSWORDS, secrets_dir=str(directory))
    (directory / WEB_CONFIG_FILE).write_text(yaml.safe_dump(web_config))


def mock_command(exporter: str, port: int, secrets: Path, hosts: int = 1) -> list[str]:
    """The mock's command line with the program's own flag for the file (whatever it is spelt)."""
    flags = web_config_flag(SETTINGS, key(exporter), secrets_dir=str(secrets))
    return [sys.executable, "-m", "mock_exporter", "--exporter", exporter, "--listen", f"127.0.0.1:{port}",
            "--hosts", str(hosts), *flags]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("mock-tls")
    ca = LocalCa.create()
    # Each dcgm host takes the next port: keep a free pair for it.
    ports = {"prometheus": free_port(), "alertmanager": free_port(), **{key(name): free_port() for name in MOCKS}}
    while not all(_port_free(port) for port in range(ports[key("dcgm")] + 1, ports[key("dcgm")] + HOSTS)):
        ports[key("dcgm")] = free_port()
    secrets = {service: workdir / service / "secrets" for service in ("prometheus", *map(key, MOCKS))}
    for service, directory in secrets.items():
        write_secrets(ca, directory, service)
    endpoints = {service: Endpoint("127.0.0.1", port) for service, port in ports.items()}
    config = render_prometheus_config(SETTINGS, endpoints, rules_dir=str(workdir))
    config["rule_files"] = []
    config = rewrite_paths(config, f"{SECRETS_DIR}/", f"{secrets['prometheus']}/")
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))

    processes = Processes()
    try:
        for name in MOCKS:
            processes.start(mock_command(name, ports[key(name)], secrets[key(name)], HOSTS if name == "dcgm" else 1),
                            workdir / f"{name}.log")
        processes.start([PROMETHEUS_BINARY, f"--config.file={workdir / 'prometheus.yml'}",
                         f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
                         f"--web.config.file={secrets['prometheus'] / WEB_CONFIG_FILE}",
                         f"--storage.tsdb.path={workdir / 'prom-data'}", "--log.level=warn"], workdir / "prometheus.log")
        auth = basic(CLIENT, CLIENT_PASSWORD)
        for service in ("prometheus", *map(key, MOCKS)):
            context = context_for(secrets[service] / CA_FILE, service)
            path = "/-/ready" if service == "prometheus" else "/-/healthy"
            wait_until(lambda: get(f"https://127.0.0.1:{ports[service]}{path}", context, auth)[0] == 200, 30,
                       f"{service} serving TLS on {ports[service]}")
        yield {"ports": ports, "secrets": secrets, "workdir": workdir}
    finally:
        processes.stop_all()


def mock_urls(stack, exporter: str = "dcgm") -> list[str]:
    """The base URL of every simulated host of the mock."""
    first = stack["ports"][key(exporter)]
    return [f"https://127.0.0.1:{first + host}" for host in range(HOSTS if exporter == "dcgm" else 1)]


def headers_of(url: str, context: ssl.SSLContext, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@pytest.mark.parametrize("host", range(HOSTS))
def test_plain_http_is_refused_on_every_host(stack, host):
    status, body = get(f"http://127.0.0.1:{stack['ports'][key('dcgm')] + host}/metrics")
    assert status == 400 and b"HTTPS" in body


def test_a_certificate_from_another_authority_is_not_trusted(stack):
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        get(mock_urls(stack)[0] + "/metrics", ssl.create_default_context())


@pytest.mark.parametrize("path", ["/metrics", "/-/healthy", "/-/fault", "/"])
@pytest.mark.parametrize("headers", [{}, basic(CLIENT, "wrong"), basic("mallory", CLIENT_PASSWORD),
                                     {"Authorization": "Basic not-base64!"}, {"Authorization": "Bearer x"}],
                         ids=["no-credentials", "wrong-password", "unknown-user", "malformed", "not-basic"])
def test_missing_or_wrong_credentials_get_401_on_every_path_and_host(stack, path, headers):
    context = context_for(stack["secrets"][key("dcgm")] / CA_FILE, "mock-dcgm")
    for url in mock_urls(stack):
        status, answer = headers_of(url + path, context, headers)
        assert status == 401 and answer.get("WWW-Authenticate") == "Basic", (url, path)


def test_a_fault_cannot_be_posted_without_credentials(stack):
    context = context_for(stack["secrets"][key("dcgm")] / CA_FILE, "mock-dcgm")
    request = urllib.request.Request(mock_urls(stack)[0] + "/-/fault", data=json.dumps({"kind": "down"}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5, context=context)
    assert refused.value.code == 401
    status, body = get(mock_urls(stack)[0] + "/-/fault", context, basic(CLIENT, CLIENT_PASSWORD))
    assert status == 200 and json.loads(body)["active"] == {}


@pytest.mark.parametrize("exporter", MOCKS)
def test_the_client_user_is_served_on_every_host(stack, exporter):
    context = context_for(stack["secrets"][key(exporter)] / CA_FILE, key(exporter))
    for url in mock_urls(stack, exporter):
        status, body = get(url + "/metrics", context, basic(CLIENT, CLIENT_PASSWORD))
        assert status == 200 and b"# TYPE " in body, url


def test_the_health_command_probes_https_with_the_header_from_its_file(stack, tmp_path):
    """The command the container (Docker) and the pod (exec probe) run, with the secrets directory
    and the container port rewritten to this test's: it passes with the client user's header file
    and fails with a wrong one."""
    [spec] = [s for name, s in exporter_services(SETTINGS, "image").items() if name == key("dcgm")]
    port = stack["ports"][key("dcgm")]
    secrets = stack["secrets"][key("dcgm")]
    assert spec.health.scheme == "https" and spec.health.authorization_file

    def run(directory: Path) -> int:
        command = [part.replace(f"{SECRETS_DIR}/", f"{directory}/").replace(f"127.0.0.1:{spec.health.port}/",
                                                                            f"127.0.0.1:{port}/")
                   for part in spec.health_command]
        assert command != list(spec.health_command)
        return subprocess.run(command, capture_output=True, timeout=30).returncode

    assert run(secrets) == 0
    (tmp_path / HEALTH_AUTHORIZATION_FILE).write_text(health_authorization(SETTINGS, "wrong"))
    assert run(tmp_path) != 0


def prometheus_targets(stack) -> list[dict]:
    context = context_for(stack["secrets"]["prometheus"] / CA_FILE, "prometheus")
    status, body = get(f"https://127.0.0.1:{stack['ports']['prometheus']}/api/v1/targets", context,
                       basic(CLIENT, CLIENT_PASSWORD))
    assert status == 200
    return json.loads(body)["data"]["activeTargets"]


def test_the_rendered_scrape_jobs_reach_every_mock_over_tls(stack):
    jobs = {f"{name}-mock" for name in MOCKS}

    def all_up() -> bool:
        found = {t["labels"]["job"]: t for t in prometheus_targets(stack) if t["labels"]["job"] in jobs}
        return set(found) == jobs and all(t["health"] == "up" for t in found.values())

    try:
        wait_until(all_up, 30, "every mock job up over TLS")
    except TimeoutError:
        pytest.fail(json.dumps([(t["labels"]["job"], t["scrapeUrl"], t["lastError"])
                                for t in prometheus_targets(stack)], indent=1))
    assert all(t["scrapeUrl"].startswith("https://") for t in prometheus_targets(stack) if t["labels"]["job"] in jobs)


def run_mock(tmp_path: Path, web_config: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "web.yml"
    path.write_text(yaml.safe_dump(web_config))
    return subprocess.run([sys.executable, "-m", "mock_exporter", "--exporter", "node", "--listen",
                           f"127.0.0.1:{free_port()}", "--web-config-file", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("document, named", [
    ({"http_server_config": {"http2": False}}, "http_server_config"),
    ({"tls_server_config": {"cert_file": "c", "key_file": "k", "client_ca_file": "ca"}}, "tls_server_config.client_ca_file"),
    ({"tls_server_config": {"cert_file": "c", "key_file": "k", "min_version": "TLS11"}}, "min_version"),
    ({"basic_auth_users": {"alice": "not-a-hash"}}, "basic_auth_users.alice"),
])
def test_a_file_the_mock_cannot_serve_stops_it_with_one_line(tmp_path, document, named):
    completed = run_mock(tmp_path, document)
    assert completed.returncode == 2 and completed.stdout == ""
    [line] = completed.stderr.splitlines()
    assert line.startswith("mock_exporter: web config ") and named in line


def test_a_successful_check_is_cached_per_user_and_password(monkeypatch):
    import bcrypt

    from mock_exporter import webconfig

    calls: list[bytes] = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda password, hashed: calls.append(hashed) or real(password, hashed))
    users = webconfig.BasicAuth({CLIENT: bcrypt.hashpw(CLIENT_PASSWORD.encode(), bcrypt.gensalt(4))})
    good = "Basic " + base64.b64encode(f"{CLIENT}:{CLIENT_PASSWORD}".encode()).decode()
    wrong = "Basic " + base64.b64encode(f"{CLIENT}:wrong".encode()).decode()
    unknown = "Basic " + base64.b64encode(f"mallory:{CLIENT_PASSWORD}".encode()).decode()
    assert users.check(good) and users.check(good) and len(calls) == 1
    assert not users.check(wrong) and not users.check(wrong) and len(calls) == 3
    # An unknown user still costs a bcrypt (against a fixed hash): no timing tells users apart.
    assert not users.check(unknown) and calls[-1] == webconfig.FAKE_HASH and len(calls) == 4


def test_the_image_installs_the_web_configs_packages_at_the_pinned_versions():
    pins = dict(re.findall(r"^(bcrypt|PyYAML)==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M))
    installed = dict(re.findall(r"\b(bcrypt|PyYAML)==(\S+)", (ROOT / "images/mock-exporter/Dockerfile").read_text()))
    assert set(pins) == {"bcrypt", "PyYAML"} and installed == pins
