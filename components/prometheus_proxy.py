"""The read-only proxy that publishes Prometheus on the host (render/prometheus_proxy.py)."""

from __future__ import annotations

from components.service import ServiceComponent


class PrometheusProxy(ServiceComponent):
    TYPE = "monitoring:prometheus:PrometheusProxy"
