"""Where each service of the stack listens, as seen by the other services.

Renderers take these endpoints instead of hard-coding addresses, so the same renderer produces the
deployed documents (service names on the stack's internal network) and the documents the end-to-end
tests run with real binaries on 127.0.0.1 and free ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from settings.model import StackSettings


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"


# Ports the services listen on inside their containers (their upstream defaults).
CONTAINER_PORTS: dict[str, int] = {
    "prometheus": 9090,
    "alertmanager": 9093,
    "grafana": 3000,
    "loki": 3100,
    "promtail": 9080,
    "alloy": 12345,
    "tempo": 3200,
    "pyroscope": 4040,
    # The monitoring API (api/), when api.enabled.
    "monitoring-api": 8080,
}

# Where each core service answers "ready" (blackbox probes and health checks).
HEALTH_PATHS: dict[str, str] = {
    "grafana": "/api/health",
    "prometheus": "/-/ready",
    "loki": "/ready",
    "alertmanager": "/-/ready",
    "tempo": "/ready",
    "pyroscope": "/ready",
}

# Network alias of each deployed real exporter; the node exporter runs in the host's network
# namespace and is reached at the stack network's gateway address instead.
EXPORTER_ALIASES: dict[str, str] = {
    "cadvisor": "cadvisor",
    "dcgm": "dcgm-exporter",
    "postgres": "postgres-exporter",
    "redis": "redis-exporter",
    "blackbox": "blackbox-exporter",
    "pushgateway": "pushgateway",
}

Endpoints = Mapping[str, Endpoint]


def internal_endpoints(settings: "StackSettings | None" = None) -> dict[str, Endpoint]:
    """Each service by its network alias on the stack's internal network.

    With settings, also every exporter (`<exporter>` for the real one, `mock-<exporter>` for its mock;
    mocks listen on the real exporter's port).
    """
    endpoints = {name: Endpoint(name, port) for name, port in CONTAINER_PORTS.items()}
    from render.gateway import gateway_endpoints

    # The gateway's listeners in front of Loki, Tempo and Pyroscope (used only with security.auth).
    endpoints.update(gateway_endpoints())
    if settings is not None:
        from exporters.catalog import EXPORTERS

        for name, spec in EXPORTERS.items():
            if spec.has_mock:
                endpoints[f"mock-{name}"] = Endpoint(f"mock-{name}", spec.port)
            if name == "node":
                endpoints[name] = Endpoint(settings.docker.gateway, spec.port)
            elif name in EXPORTER_ALIASES:
                endpoints[name] = Endpoint(EXPORTER_ALIASES[name], spec.port)
    return endpoints


def local_endpoints(ports: Mapping[str, int]) -> dict[str, Endpoint]:
    """Endpoints of processes a test runs on 127.0.0.1 (name -> port)."""
    return {name: Endpoint("127.0.0.1", port) for name, port in ports.items()}
