"""The one client every upstream is reached through: a shared connection pool, a timeout per
upstream, and failures mapped to the API's errors (504 on timeout, 502 otherwise, 503 when the
upstream is not configured). An upstream's 4xx on a request we validated is still its failure
(502), except 404, which is the caller's "no such thing"."""

from __future__ import annotations

from typing import Any

import ssl

import httpx

from api.config import ApiConfig
from api.errors import ApiError, unavailable


class Upstreams:
    def __init__(self, config: ApiConfig, transport: httpx.AsyncBaseTransport | None = None):
        self.config = config
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(config.ca_file)) if config.ca_file else True
        self.client = httpx.AsyncClient(transport=transport, verify=verify, limits=httpx.Limits(max_connections=200))
        self.auth = httpx.BasicAuth(config.client_user, config.client_password or "") if config.client_user else None

    async def close(self) -> None:
        await self.client.aclose()

    def url(self, upstream: str) -> str:
        base = self.config.upstreams.get(upstream)
        if not base:
            raise unavailable(upstream)
        return base.rstrip("/")

    async def request(self, upstream: str, method: str, path: str, *, params: Any = None, json: Any = None,
                      data: Any = None, not_found: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        url = f"{self.url(upstream)}{path}"
        try:
            auth = self.auth if upstream in self.config.client_auth_upstreams else None
            response = await self.client.request(method, url, params=params, json=json, data=data, headers=headers,
                                                 auth=auth or httpx.USE_CLIENT_DEFAULT, timeout=self.config.timeout(upstream))
        except httpx.TimeoutException:
            raise ApiError(504, "upstream_timeout", f"{upstream} did not answer within {self.config.timeout(upstream):g}s", upstream)
        except httpx.HTTPError:
            raise ApiError(502, "upstream_unreachable", f"{upstream} could not be reached", upstream)
        if response.status_code == 404 and not_found:
            raise ApiError(404, "not_found", not_found)
        if response.status_code >= 400:
            raise ApiError(502, "upstream_error", f"{upstream} answered HTTP {response.status_code}", upstream)
        return response

    async def json(self, upstream: str, path: str, method: str = "GET", **kwargs: Any) -> Any:
        response = await self.request(upstream, method, path, **kwargs)
        try:
            return response.json() if response.content else None
        except ValueError:
            raise ApiError(502, "upstream_bad_response", f"{upstream} answered something other than JSON", upstream)

    async def prometheus(self, path: str, params: Any) -> Any:
        """The `data` of a Prometheus API answer (`{"status": "success", "data": ...}`)."""
        body = await self.json("prometheus", path, params=params)
        if not isinstance(body, dict) or body.get("status") != "success":
            raise ApiError(502, "upstream_bad_response", "prometheus answered without success", "prometheus")
        return body["data"]

    async def query(self, expr: str, time: float | None = None) -> list[dict[str, Any]]:
        """An instant vector: `[{"metric": {...}, "value": [t, "v"]}, ...]`."""
        params = {"query": expr, **({"time": time} if time is not None else {})}
        data = await self.prometheus("/api/v1/query", params)
        return data["result"] if data.get("resultType") == "vector" else []
