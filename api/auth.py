"""Bearer tokens with a read or a write scope (write implies read), and a per-token rate limit."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import Request

from api.config import scope_of
from api.errors import ApiError

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="monitoring"'}


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per API token: `rate` requests a second, bursts of twice that."""

    def __init__(self, rate: float):
        self.rate, self.burst = rate, max(1.0, 2 * rate)
        self.buckets: dict[str, _Bucket] = {}

    def allow(self, key: str, now: float) -> bool:
        if self.rate <= 0:
            return True
        bucket = self.buckets.setdefault(key, _Bucket(self.burst, now))
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True


def _authorise(request: Request, needed: str) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiError(401, "unauthorized", "a bearer token is required (Authorization: Bearer <token>)", headers=CHALLENGE)
    state = request.app.state
    scope = scope_of(state.config.tokens, presented.strip())
    if scope is None:
        raise ApiError(401, "unauthorized", "the bearer token is not valid", headers=CHALLENGE)
    if needed == "write" and scope != "write":
        raise ApiError(403, "forbidden", "this token has the read scope; this request needs the write scope")
    if not state.rate_limiter.allow(presented.strip(), time.monotonic()):
        raise ApiError(429, "rate_limited", "too many requests for this token", headers={"Retry-After": "1"})
    return scope


def require_read(request: Request) -> str:
    return _authorise(request, "read")


def require_write(request: Request) -> str:
    return _authorise(request, "write")
