"""Where each service of the stack listens, as seen by the other services.

Renderers take these endpoints instead of hard-coding addresses, so the same renderer produces the
deployed documents (service names on the stack's internal network) and the documents the end-to-end
tests run with real binaries on 127.0.0.1 and free ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


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
}

Endpoints = Mapping[str, Endpoint]


def internal_endpoints() -> dict[str, Endpoint]:
    """Each service by its network alias on the stack's internal network."""
    return {name: Endpoint(name, port) for name, port in CONTAINER_PORTS.items()}
