"""Auth (no token, wrong token, wrong scope), the one error shape, upstream failures as 502/504/503
naming the upstream and leaking nothing, and input refused before any upstream is asked."""

from __future__ import annotations

import httpx
import pytest

from api.auth import RateLimiter
from api.config import Token, TokensFileError, read_tokens, scope_of
from tests.api.fake import AUTH_READ, AUTH_WRITE, FakeUpstreams, api_client

ALERTS = "/monitoring/alerts"


@pytest.fixture
def fake():
    upstreams = FakeUpstreams()
    upstreams.on("alertmanager", "GET", "/api/v2/alerts", [])
    return upstreams


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status and body["error"]["code"] == code
    return body["error"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "},
                                     {"Authorization": "Bearer read-token-0123456789abcdeX"}])
def test_no_or_wrong_token_is_401_and_reaches_no_upstream(fake, headers):
    response = api_client(fake).get(ALERTS, headers=headers)
    _error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert fake.requests == []


def test_read_scope_cannot_write_and_write_scope_can_read(fake, tmp_path):
    client = api_client(fake, tmp_path)
    _error(client.post("/monitoring/alerts/rules", headers=AUTH_READ, json={"name": "A", "expr": "vector(1)"}), 403, "forbidden")
    assert list(tmp_path.iterdir()) == []
    assert client.get(ALERTS, headers=AUTH_WRITE).json() == {"alerts": []}
    assert client.get(ALERTS, headers=AUTH_READ).status_code == 200


def test_every_route_but_health_needs_a_token(fake):
    client = api_client(fake)
    for route in client.app.routes:
        if not getattr(route, "include_in_schema", False) or route.path == "/monitoring/healthz":
            continue
        for method in route.methods:
            path = route.path.replace("{", "").replace("}", "")
            assert client.request(method, path).status_code == 401, f"{method} {route.path} answers without a token"


def test_tokens_file(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("# ops\nread aaaaaaaaaaaaaaaa\n\nwrite bbbbbbbbbbbbbbbb\n")
    tokens = read_tokens(path)
    assert tokens == (Token("read", "aaaaaaaaaaaaaaaa"), Token("write", "bbbbbbbbbbbbbbbb"))
    assert scope_of(tokens, "bbbbbbbbbbbbbbbb") == "write" and scope_of(tokens, "aaaaaaaaaaaaaaa") is None
    path.write_text("read aaaaaaaaaaaaaaaa\nadmin cccccccccccccccc\n")
    with pytest.raises(TokensFileError) as error:
        read_tokens(path)
    # The line is named by number; the (secret) content is not echoed.
    assert ":2:" in str(error.value) and "cccc" not in str(error.value)
    path.write_text("read short\n")
    with pytest.raises(TokensFileError):
        read_tokens(path)


def test_rate_limit_per_token():
    limiter = RateLimiter(rate=1)
    assert [limiter.allow("a", 100.0) for _ in range(3)] == [True, True, False]
    assert limiter.allow("b", 100.0)
    assert limiter.allow("a", 101.0) and not limiter.allow("a", 101.0)


def test_rate_limited_request_is_429(fake):
    client = api_client(fake, rate_limit=0.001)
    assert client.get(ALERTS, headers=AUTH_READ).status_code == 200
    _error(client.get(ALERTS, headers=AUTH_READ), 429, "rate_limited")


def _raise(exception):
    def answer(request):
        raise exception("boom at /internal/secret/path", request=request)
    return answer


@pytest.mark.parametrize("answer, status, code", [
    (_raise(httpx.ConnectError), 502, "upstream_unreachable"),
    (_raise(httpx.ReadTimeout), 504, "upstream_timeout"),
    (lambda request: httpx.Response(500, text="panic: runtime error at /internal/secret/path"), 502, "upstream_error"),
    (lambda request: httpx.Response(200, text="<html>/internal/secret/path</html>"), 502, "upstream_bad_response"),
])
def test_upstream_failures_name_the_upstream_and_leak_nothing(answer, status, code):
    fake = FakeUpstreams()
    fake.on("alertmanager", "GET", "/api/v2/alerts", answer)
    response = api_client(fake).get(ALERTS, headers=AUTH_READ)
    error = _error(response, status, code)
    assert error["upstream"] == "alertmanager"
    assert "secret" not in response.text and "Traceback" not in response.text


def test_missing_upstream_is_503_with_the_reason(fake):
    client = api_client(fake, upstreams=("prometheus", "alertmanager"))
    for path in ("/monitoring/dashboards", "/monitoring/logs?query={a=\"b\"}", "/monitoring/traces",
                 "/monitoring/profiling"):
        error = _error(client.get(path, headers=AUTH_READ), 503, "upstream_not_configured")
        assert error["upstream"] in error["message"]


@pytest.mark.parametrize("path, fragment", [
    ("/monitoring/metrics/up?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z", "must be before end"),
    ("/monitoring/metrics/up?start=2025-01-01T00:00:00Z&end=2026-01-01T00:00:00Z", "31 days"),
    ("/monitoring/metrics/up?start=2026-01-01T00:00:00Z&end=2026-01-08T00:00:00Z&step=1", "points"),
    ("/monitoring/metrics/up{x}", "not a metric name"),
    ("/monitoring/metrics/up?match=bad-label=x", "label=value"),
    ("/monitoring/metrics/up?limit=0", "limit"),
    ("/monitoring/metrics?limit=100000", "limit"),
    ("/monitoring/benchmarks?window=5d", "window"),
    ("/monitoring/benchmarks?window=0s", "longer than zero"),
    ("/monitoring/traces/not-hex", "trace_id"),
    ("/monitoring/logs", "query"),
    ("/monitoring/profiling/cpu?service=a%20b", "service"),
])
def test_bad_input_is_422_before_any_upstream(fake, path, fragment):
    response = api_client(fake).get(path, headers=AUTH_READ)
    assert fragment in _error(response, 422, "invalid_request")["message"]
    assert fake.requests == []


def test_bad_bodies_are_refused(fake):
    client = api_client(fake)
    ack = "/monitoring/alerts/0123456789abcdef/ack"
    assert "expires_in_minutes" in _error(client.post(ack, headers=AUTH_WRITE, json={"author": "a", "comment": "c",
                                                                                    "expires_in_minutes": 0}), 422, "invalid_request")["message"]
    assert "body.x: Extra inputs" in _error(client.post(ack, headers=AUTH_WRITE, json={"author": "a", "comment": "c", "x": 1}), 422,
                             "invalid_request")["message"]
    big = {"title": "t", "panels": [{"x": "y" * 2_000_000}]}
    _error(client.post("/monitoring/dashboards", headers=AUTH_WRITE, json=big), 413, "too_large")
    assert fake.requests == []


def test_unknown_route_has_the_error_shape(fake):
    _error(api_client(fake).get("/monitoring/nothing", headers=AUTH_READ), 404, "not_found")
