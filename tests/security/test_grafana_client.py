"""Pulumi's own calls to Grafana (the admin-password rotation and the datasource checks) trust the
stack's CA when Grafana serves the stack's certificate: against a local HTTPS server on 127.0.0.1
with a certificate from a test CA."""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from components.grafana_api import GrafanaApiProvider
from tests.security.certs import LocalCa


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"database":"ok"}')

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def grafana(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("grafana-tls")
    ca = LocalCa.create()
    ca.write_service(workdir, "grafana", ["grafana", "localhost"], ["127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(workdir / "tls.crt", workdir / "tls.key")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", ca.pem.decode()
    finally:
        server.shutdown()
        server.server_close()


def test_grafana_calls_trust_the_stacks_ca_and_nothing_else(grafana):
    url, ca = grafana
    provider = GrafanaApiProvider()
    assert provider.grafana_call(url, "/api/health", "admin:pw", ca=ca)[0] == 200
    status, error = provider.grafana_call(url, "/api/health", "admin:pw")
    assert status == 0 and "CERTIFICATE_VERIFY_FAILED" in error
