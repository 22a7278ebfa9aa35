"""HTTP serving of simulated hosts: /metrics, /-/healthy and the /-/fault control endpoint, over
HTTPS and behind basic authentication with a web configuration file (mock_exporter/webconfig.py)."""

from __future__ import annotations

import json
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mock_exporter.base import FaultError, Simulator
from mock_exporter.text import CONTENT_TYPE
from mock_exporter.webconfig import WebSecurity

# A refused request's body is read up to this size before the 401 (a larger one is not waited for).
MAX_UNAUTHORIZED_BODY = 1 << 20


class HostServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: Simulator, clock_offset: float = 0.0,
                 security: WebSecurity | None = None) -> None:
        super().__init__(address, MockHandler)
        self.simulator = simulator
        self.clock_offset = clock_offset
        self.lock = threading.Lock()
        self.security = security or WebSecurity()

    def finish_request(self, request: Any, client_address: Any) -> None:
        """The TLS handshake, in the connection's own thread (a slow client never holds up accept)."""
        if self.security.tls is None:
            super().finish_request(request, client_address)
            return
        secured = self.security.accept(request)
        if secured is None:
            return
        try:
            super().finish_request(secured, client_address)
        finally:
            secured.close()

    def now(self) -> float:
        """The simulated wall clock: real time shifted by --clock-offset (to serve another hour of the day)."""
        return time.time() + self.clock_offset


class MockHandler(BaseHTTPRequestHandler):
    server: HostServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence per-request logging: a scrape every few seconds would flood stderr."""

    def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def parse_request(self) -> bool:
        """Every path and method behind the web configuration's users, when it lists any."""
        if not super().parse_request():
            return False
        auth = self.server.security.auth
        if auth is None or auth.check(self.headers.get("Authorization")):
            return True
        body = b"Unauthorized\n"
        # The request's body is read first (as Go's server does, up to a bound): closing with unread
        # bytes would reset the connection before the client reads the 401.
        declared = self.headers.get("Content-Length") or "0"
        length = int(declared) if declared.isdigit() else 0
        if 0 < length <= MAX_UNAUTHORIZED_BODY:
            self.rfile.read(length)
        self.close_connection = True
        self.send_response(HTTPStatus.UNAUTHORIZED)
        self.send_header("WWW-Authenticate", "Basic")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return False

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, (json.dumps(payload, sort_keys=True) + "\n").encode(), "application/json")

    def _fault_state(self) -> dict[str, Any]:
        simulator = self.server.simulator
        return {
            "exporter": simulator.exporter,
            "active": {kind: {"since": f.since, **f.params} for kind, f in sorted(simulator.faults.items())},
            "available": sorted(simulator.fault_kinds | {"down"}),
        }

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = urlsplit(self.path).path
        if path == "/metrics":
            self._metrics()
        elif path == "/-/healthy":
            self._send(HTTPStatus.OK, b"OK\n")
        elif path == "/-/fault":
            with self.server.lock:
                self._json(HTTPStatus.OK, self._fault_state())
        elif path == "/":
            self._send(HTTPStatus.OK, f"mock {self.server.simulator.exporter} exporter: /metrics\n".encode())
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n")

    do_HEAD = do_GET

    def _metrics(self) -> None:
        simulator = self.server.simulator
        with self.server.lock:
            down = simulator.faults.get("down")
            body = None if down else simulator.render(self.server.now()).encode()
        if down is None:
            self._send(HTTPStatus.OK, body or b"", CONTENT_TYPE)
        elif down.params.get("mode", "503") == "close":
            self.close_connection = True
            self.connection.close()
        else:
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"mock exporter is down (fault)\n")

    def do_POST(self) -> None:  # noqa: N802
        if urlsplit(self.path).path != "/-/fault":
            self._send(HTTPStatus.NOT_FOUND, b"not found\n")
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(request, dict) or not isinstance(request.get("kind"), str):
                raise FaultError('body must be a JSON object with a string "kind"')
            params = {k: v for k, v in request.items() if k != "kind"}
            with self.server.lock:
                self.server.simulator.add_fault(self.server.now(), request["kind"], params)
                state = self._fault_state()
        except (ValueError, FaultError) as error:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(error)})
            return
        self._json(HTTPStatus.OK, state)

    def do_DELETE(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        if parts.path != "/-/fault":
            self._send(HTTPStatus.NOT_FOUND, b"not found\n")
            return
        kind = parse_qs(parts.query).get("kind", [None])[0]
        try:
            with self.server.lock:
                self.server.simulator.clear_faults(self.server.now(), kind)
                state = self._fault_state()
        except FaultError as error:
            self._json(HTTPStatus.NOT_FOUND, {"error": str(error)})
            return
        self._json(HTTPStatus.OK, state)
