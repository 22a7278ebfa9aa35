"""The gateway in front of Loki, Tempo and Pyroscope (render/gateway.py), run as real nginx with the
rendered configuration and htpasswd files, in front of stand-ins for the three services: Loki's
serves TLS with a certificate from the stack's CA (as logs/loki.py makes it), Tempo's and
Pyroscope's plain HTTP. The stand-ins record every request they get.

Mutations checked (each fails a test here): `auth_basic` dropped from a server; the htpasswd of
one service given another's users; `proxy_set_header Authorization ""` dropped (the credentials
reach the service); `proxy_ssl_verify on` dropped (a Loki with a foreign certificate is reached);
`listen ... ssl` without ssl; the request body or query not passed on.
"""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import tempfile
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import pytest

from render.gateway import (
    GATED,
    GatewayFiles,
    HEALTH_PATH,
    endpoint_key,
    htpasswd_file,
    render_gateway_config,
    render_htpasswd,
    routes,
)
from render.tls_clients import certificate_names
from render.web_config import CA_FILE, CERT_FILE, KEY_FILE
from services.topology import Endpoint
from settings import parse_settings
from tests.e2e.procs import Processes, free_port, wait_until
from tests.security.certs import LocalCa

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.e2e

SETTINGS = parse_settings(
    {"security": {"tls": {"mode": "generated"},
                  "auth": {"enabled": True, "users": [{"name": "alice", "services": ["tempo"]}]}}},
    "gateway",
)
PASSWORDS = {"monitoring": "client-secret-for-tests", "alice": "alice-secret-for-tests"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


CLIENT = basic("monitoring", PASSWORDS["monitoring"])


class Recorder(BaseHTTPRequestHandler):
    """A service's stand-in: answers every request with what it received, and keeps it."""

    seen: list[dict] = []

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        request = {"service": self.server.service, "method": self.command, "path": self.path, "body": body,
                   "authorization": self.headers.get("Authorization")}
        type(self).seen.append(request)
        payload = json.dumps(request).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


def stand_in(service: str, port: int, tls: ssl.SSLContext | None) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), Recorder)
    server.service = service
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def call(url: str, context: ssl.SSLContext | None, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, dict | str]:
    request = urllib.request.Request(url, headers=headers or {}, data=body, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            text = response.read().decode(errors="replace")
            return response.status, json.loads(text) if text.startswith("{") else text
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def server_context(directory: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / CERT_FILE, directory / KEY_FILE)
    return context


def start_gateway(workdir: Path, ca: LocalCa, upstream_ports: dict[str, int], processes: Processes,
                  readable: Path) -> dict[str, int]:
    """nginx with the rendered configuration (its files and ports moved under `workdir`). nginx's
    workers read the htpasswd files on every request as its unprivileged user (`nobody` when the
    test runs as root, as the image's own user when deployed): they sit where that user can read."""
    secrets = workdir / "gateway"
    ca.write_service(secrets, "gateway", *certificate_names(SETTINGS, "gateway"))
    (secrets / CA_FILE).write_bytes(ca.pem)
    readable.chmod(0o755)
    for service in GATED:
        (readable / htpasswd_file(service)).write_text(render_htpasswd(SETTINGS, service, PASSWORDS))
        (readable / htpasswd_file(service)).chmod(0o644)
    listen = {endpoint_key(service): Endpoint("127.0.0.1", free_port()) for service in GATED}
    upstreams = {service: Endpoint("127.0.0.1", port) for service, port in upstream_ports.items()}
    files = GatewayFiles(str(secrets / CERT_FILE), str(secrets / KEY_FILE), str(secrets / CA_FILE), str(readable))
    (workdir / "nginx.conf").write_text(
        render_gateway_config(routes(SETTINGS, upstreams, listen), files, resolver=None, runtime_dir=str(workdir))
    )
    processes.start([NGINX, "-c", str(workdir / "nginx.conf"), "-p", str(workdir)], workdir / "nginx.log")
    return {service: listen[endpoint_key(service)].port for service in GATED}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("gateway")
    ca = LocalCa.create()
    ca.write_service(workdir / "loki", "loki", *certificate_names(SETTINGS, "loki"))
    (workdir / "ca.crt").write_bytes(ca.pem)
    ports = {service: free_port() for service in GATED}
    servers = [stand_in("loki", ports["loki"], server_context(workdir / "loki")),
               stand_in("tempo", ports["tempo"], None), stand_in("pyroscope", ports["pyroscope"], None)]
    context = ssl.create_default_context(cafile=str(workdir / "ca.crt"))
    try:
        with tempfile.TemporaryDirectory(prefix="gateway-htpasswd-") as readable, Processes() as processes:
            listen = start_gateway(workdir, ca, ports, processes, Path(readable))
            urls = {service: f"https://127.0.0.1:{port}" for service, port in listen.items()}
            wait_until(lambda: call(f"{urls['loki']}{HEALTH_PATH}", context, CLIENT)[0] == 200, 30, "the gateway")
            yield urls, listen, context
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_the_htpasswd_files_hold_bcrypt_hashes_of_exactly_the_services_users():
    lines = dict(line.split(":", 1) for line in render_htpasswd(SETTINGS, "tempo", PASSWORDS).splitlines())
    assert sorted(lines) == ["alice", "monitoring"]
    assert bcrypt.checkpw(PASSWORDS["alice"].encode(), lines["alice"].encode())
    assert "alice" not in render_htpasswd(SETTINGS, "loki", PASSWORDS)
    with pytest.raises(ValueError, match="alice"):
        render_htpasswd(SETTINGS, "tempo", {"monitoring": "x"})


@pytest.mark.parametrize("service", GATED)
def test_the_client_user_reaches_each_service_and_its_credentials_stop_at_the_gateway(gateway, service):
    urls, _, context = gateway
    status, answer = call(f"{urls[service]}/api/query?q=%7Bjob%3D%22x%22%7D", context, CLIENT)
    assert status == 200
    assert answer["service"] == service and answer["path"] == "/api/query?q=%7Bjob%3D%22x%22%7D"
    assert answer["authorization"] is None


def test_a_push_body_passes_through(gateway):
    urls, _, context = gateway
    status, answer = call(f"{urls['loki']}/loki/api/v1/push", context, CLIENT, body=b'{"streams": []}')
    assert (status, answer["method"], answer["body"]) == (200, "POST", '{"streams": []}')


@pytest.mark.parametrize("service", GATED)
def test_no_or_wrong_credentials_are_refused_before_the_service(gateway, service):
    urls, _, context = gateway
    before = len(Recorder.seen)
    assert call(f"{urls[service]}{HEALTH_PATH}", context)[0] == 401
    assert call(f"{urls[service]}/ready", context)[0] == 401
    assert call(f"{urls[service]}/ready", context, basic("monitoring", "wrong"))[0] == 401
    assert len(Recorder.seen) == before


def test_a_user_reaches_only_the_services_listed_for_it(gateway):
    urls, _, context = gateway
    alice = basic("alice", PASSWORDS["alice"])
    assert call(f"{urls['tempo']}/api/search", context, alice)[0] == 200
    assert call(f"{urls['loki']}/loki/api/v1/labels", context, alice)[0] == 401
    assert call(f"{urls['pyroscope']}/ready", context, alice)[0] == 401


def test_only_tls_with_the_gateways_certificate_is_served(gateway):
    urls, listen, _ = gateway
    assert call(f"http://127.0.0.1:{listen['loki']}/ready", None, CLIENT)[0] == 400
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        call(f"{urls['loki']}/ready", ssl.create_default_context(), CLIENT)


def test_a_loki_with_a_certificate_from_another_authority_is_not_reached(tmp_path):
    """The gateway checks Loki's certificate against the stack's CA and Loki's name."""
    ca, foreign = LocalCa.create(), LocalCa.create("another CA")
    foreign.write_service(tmp_path / "loki", "loki", *certificate_names(SETTINGS, "loki"))
    ports = {service: free_port() for service in GATED}
    loki = stand_in("loki", ports["loki"], server_context(tmp_path / "loki"))
    (tmp_path / "ca.crt").write_bytes(ca.pem)
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    try:
        with tempfile.TemporaryDirectory(prefix="gateway-htpasswd-") as readable, Processes() as processes:
            listen = start_gateway(tmp_path, ca, ports, processes, Path(readable))
            url = f"https://127.0.0.1:{listen['loki']}"
            wait_until(lambda: call(f"{url}{HEALTH_PATH}", context, CLIENT)[0] == 200, 30, "the gateway")
            before = len(Recorder.seen)
            assert call(f"{url}/ready", context, CLIENT)[0] == 502
            assert len(Recorder.seen) == before
    finally:
        loki.shutdown()
        loki.server_close()
