"""One error shape everywhere: `{"error": {"status", "code", "message", "upstream"?}}`. Upstream
failures name the upstream and what kind of failure, never its body or a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("api")


class ErrorDetail(BaseModel):
    status: int
    code: str
    message: str
    upstream: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, upstream: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.detail = ErrorDetail(status=status, code=code, message=message, upstream=upstream)
        self.headers = headers


def unavailable(upstream: str) -> ApiError:
    return ApiError(503, "upstream_not_configured", f"{upstream} is not configured for this API (--{upstream} URL)", upstream)


def respond(detail: ErrorDetail, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorBody(error=detail).model_dump(exclude_none=True), detail.status, headers=headers)


_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          413: "too_large", 415: "unsupported_media_type", 429: "rate_limited"}


async def _json_syntax(request: Request, error: dict) -> str:
    """A body that is not JSON: the line and column at fault (FastAPI names a character offset)."""
    offset = error["loc"][-1] if isinstance(error["loc"][-1], int) else 0
    before = (await request.body()).decode("utf-8", "replace")[:offset]
    line, column = before.count("\n") + 1, offset - before.rfind("\n")
    return f"body: line {line} column {column}: {(error.get('ctx') or {}).get('error', 'invalid JSON')}"


def install(app: FastAPI) -> None:
    """Validation, routing and unexpected errors in the one shape (api.app handles ApiError itself, counting upstream failures)."""
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            if error["type"] == "json_invalid":
                problems.append(await _json_syntax(request, error))
                continue
            where = ".".join(str(part) for part in error["loc"])
            problems.append(f"{where}: {error['msg']}")
        return respond(ErrorDetail(status=422, code="invalid_request", message="; ".join(problems)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return respond(ErrorDetail(status=exc.status_code, code=_CODES.get(exc.status_code, "error"), message=str(exc.detail)))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return respond(ErrorDetail(status=500, code="internal_error", message="internal error (logged)"))
