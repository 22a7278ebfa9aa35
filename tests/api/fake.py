"""A fake set of upstreams for the API's in-process tests: an httpx transport answering from a
table of (upstream, method, path) -> response, recording every request it gets."""

from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import urlsplit

import httpx
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiConfig, Token

READ = "read-token-0123456789abcdef"
WRITE = "write-token-0123456789abcdef"
AUTH_READ = {"Authorization": f"Bearer {READ}"}
AUTH_WRITE = {"Authorization": f"Bearer {WRITE}"}
HOSTS = {"prometheus": "prometheus.test", "alertmanager": "alertmanager.test", "grafana": "grafana.test",
         "loki": "loki.test", "tempo": "tempo.test", "pyroscope": "pyroscope.test"}
Answer = Any | Callable[[httpx.Request], httpx.Response]


class FakeUpstreams:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str, str], Answer] = {}
        self.requests: list[httpx.Request] = []

    def on(self, upstream: str, method: str, path: str, answer: Answer) -> None:
        self.routes[(HOSTS[upstream], method, path)] = answer

    def prometheus_vector(self, expr_part: str, results: list[dict]) -> None:
        """Instant queries whose expression contains `expr_part` answer `results` (the first match wins)."""
        self.vectors = getattr(self, "vectors", []) + [(expr_part, results)]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = urlsplit(str(request.url))
        if url.hostname == HOSTS["prometheus"] and url.path == "/api/v1/query":
            expr = request.url.params["query"]
            for part, results in getattr(self, "vectors", []):
                if part in expr:
                    return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": results}})
            return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": []}})
        answer = self.routes.get((url.hostname, request.method, url.path))
        if answer is None:
            return httpx.Response(404, text="404 page not found")
        if callable(answer):
            return answer(request)
        return httpx.Response(200, content=json.dumps(answer), headers={"content-type": "application/json"})

    def paths(self, upstream: str) -> list[str]:
        return [r.url.path for r in self.requests if r.url.host == HOSTS[upstream]]


def api_client(fake: FakeUpstreams, tmp_path=None, upstreams: tuple[str, ...] = tuple(HOSTS), **config: Any) -> TestClient:
    settings = ApiConfig(upstreams={name: f"http://{HOSTS[name]}" for name in upstreams},
                         tokens=(Token("read", READ), Token("write", WRITE)),
                         rules_dir=tmp_path, **config)
    return TestClient(create_app(settings, transport=httpx.MockTransport(fake.handle)), raise_server_exceptions=False)


def sample(labels: dict[str, str], value: float | str) -> dict:
    return {"metric": labels, "value": [1700000000.0, str(value)]}
