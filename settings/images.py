"""The one image catalog: every container image the stack runs, pinned to a released version.

A stack may override an image per service (`monitoring:<service>.image`), but the override must be
pinned too (see `settings.types.ImageRef`). Versions checked against the upstream release pages.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogImage:
    image: str
    # How a Docker health check can reach the service from inside its own container: the image ships
    # busybox `wget` on PATH, or it ships no HTTP client (distroless/scratch images), in which case the
    # Docker platform mounts a read-only probe kit (a static busybox) into it.
    has_wget: bool


IMAGES: dict[str, CatalogImage] = {
    "prometheus": CatalogImage("prom/prometheus:v3.5.0", has_wget=True),
    "alertmanager": CatalogImage("prom/alertmanager:v0.28.1", has_wget=True),
    # Grafana 11.6 matches the pinned grafana-foundation-sdk schema (requirements.txt).
    "grafana": CatalogImage("grafana/grafana:11.6.3", has_wget=True),
    # Loki and Promtail images are distroless / debian-slim without an HTTP client.
    "loki": CatalogImage("grafana/loki:3.5.3", has_wget=False),
    "promtail": CatalogImage("grafana/promtail:3.5.3", has_wget=False),
    # Promtail's successor. v1.11 is the first to take over Promtail's positions for labelled file
    # targets and the journal (see logs.alloy). Its Ubuntu image ships no HTTP client: the probe kit is used.
    "alloy": CatalogImage("grafana/alloy:v1.11.3", has_wget=False),
    # Traces and profiles (settings/traces.py). Both images are distroless (busybox only in
    # Tempo's debug base, off PATH): the probe kit is used. Config fields checked against these
    # versions' sources (traces/upstream, profiles/upstream).
    "tempo": CatalogImage("grafana/tempo:2.9.0", has_wget=False),
    "pyroscope": CatalogImage("grafana/pyroscope:1.15.0", has_wget=False),
    # The read-only proxy publishing Prometheus (render/prometheus_proxy.py): nginx as uid 101 on
    # port 8080, alpine with busybox wget.
    "prometheus_proxy": CatalogImage("nginxinc/nginx-unprivileged:1.28.0-alpine", has_wget=True),
    # The gateway in front of Loki, Tempo and Pyroscope (render/gateway.py): the same nginx, whose
    # musl crypt(3) checks the htpasswd files' bcrypt hashes.
    "gateway": CatalogImage("nginxinc/nginx-unprivileged:1.28.0-alpine", has_wget=True),
    # Static busybox copied into the probe-kit volume for images without an HTTP client.
    "probe_kit": CatalogImage("busybox:1.37.0-musl", has_wget=True),
}


def default_image(service: str) -> str:
    return IMAGES[service].image


def image_has_wget(service: str, image: str) -> bool:
    """An overridden image is assumed to lack wget unless it is the catalog's own image."""
    entry = IMAGES.get(service)
    return bool(entry and entry.has_wget and entry.image.split(":")[0] == image.split(":")[0])
