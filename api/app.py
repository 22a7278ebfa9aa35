"""The FastAPI application: routers, the one error shape, self-metrics, health, OpenAPI."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
import httpx
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from api import errors
from api.auth import RateLimiter
from api.config import UPSTREAMS, ApiConfig
from api.models import Health
from api.routes import alerts, dashboards, logs, profiling, prometheus, traces
from api.rules_check import RuleChecker
from api.rules_store import RulesStore
from api.upstream import Upstreams

OPENAPI_PATH = "/monitoring/openapi.json"
# Bodies larger than this are refused before they are read (the largest, a dashboard, stays well under).
MAX_BODY_BYTES = 1 << 20
# Latency buckets for answers meant to come within 100 ms, with room to see a slow upstream.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class SelfMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.duration = Histogram("monitoring_api_request_duration_seconds", "Time to answer a request.",
                                  ("route", "method", "code"), buckets=BUCKETS, registry=self.registry)
        self.upstream_errors = Counter("monitoring_api_upstream_errors_total", "Upstream failures by upstream and kind.",
                                       ("upstream", "code"), registry=self.registry)


def rules_store(config: ApiConfig):
    """The user rules: a ConfigMap on a cluster, a directory Prometheus globs on one Docker host."""
    if config.rules_configmap:
        from api.kube_rules import SERVICE_ACCOUNT, ConfigMapRulesStore

        namespace, _, name = config.rules_configmap.partition("/")
        return ConfigMapRulesStore(namespace, name, config.kubernetes_api,
                                   token_file=config.kubernetes_token_file or SERVICE_ACCOUNT / "token",
                                   ca_file=config.kubernetes_ca_file or SERVICE_ACCOUNT / "ca.crt",
                                   propagation_seconds=config.rules_propagation_seconds)
    return RulesStore(config.rules_dir)


def create_app(config: ApiConfig, transport: httpx.AsyncBaseTransport | None = None,
               grafana_token: str | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await app.state.upstreams.close()
        await app.state.rules.close()

    app = FastAPI(title="Monitoring API", version="1.0.0", openapi_url=OPENAPI_PATH, docs_url=None, redoc_url=None,
                  lifespan=lifespan,
                  description="One authenticated API over the stack's Prometheus, Alertmanager, Grafana, Loki, Tempo "
                              "and Pyroscope. Bearer tokens: read scope for GET, write scope for changes.")
    app.state.config = config
    app.state.upstreams = Upstreams(config, transport)
    app.state.rules = rules_store(config)
    app.state.checker = RuleChecker(config.promtool, config.promtool_timeout)
    app.state.rate_limiter = RateLimiter(config.rate_limit)
    app.state.grafana_token = grafana_token
    app.state.metrics = metrics = SelfMetrics()
    errors.install(app)
    for module in (prometheus, alerts, dashboards, logs, traces, profiling):
        app.include_router(module.router)

    @app.middleware("http")
    async def measure(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return errors.respond(errors.ErrorDetail(status=413, code="too_large",
                                                     message=f"request body over {MAX_BODY_BYTES} bytes"))
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        # The route template, never the raw path: ids would make a series per alert or trace.
        template = getattr(route, "path", "unmatched")
        metrics.duration.labels(template, request.method, str(response.status_code)).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(errors.ApiError)
    async def counted(request: Request, exc: errors.ApiError):
        if exc.detail.upstream:
            metrics.upstream_errors.labels(exc.detail.upstream, str(exc.detail.status)).inc()
        return errors.respond(exc.detail, exc.headers)

    @app.get("/monitoring/healthz", response_model=Health, tags=["health"], summary="Liveness; no token needed")
    async def healthz() -> Health:
        return Health(status="ok", upstreams={name: bool(config.upstreams.get(name)) for name in UPSTREAMS})

    @app.get("/metrics", include_in_schema=False)
    async def self_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def openapi_json() -> str:
    """The OpenAPI document as the preview writes it (generated from the code; no upstream needed)."""
    import json

    return json.dumps(create_app(ApiConfig(upstreams={}, tokens=())).openapi(), indent=2, sort_keys=True) + "\n"
