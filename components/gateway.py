"""The gateway in front of Loki, Tempo and Pyroscope: TLS and basic auth (render/gateway.py)."""

from __future__ import annotations

from components.service import ServiceComponent


class Gateway(ServiceComponent):
    TYPE = "monitoring:security:Gateway"
