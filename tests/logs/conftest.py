"""Fixtures of the log pipeline tests: both stacks' settings, with and without S3 and Alloy."""

from __future__ import annotations

import pytest

from render.gateway import gateway_endpoints
from services.topology import Endpoint
from settings import StackSettings, parse_settings
from tests.conftest import STACKS, stack_raw_config

# Planted as the S3 secret in tests: it must never appear in a rendered document.
SENTINEL_SECRET = "sentinel-secret-9f4c2e71b0"

S3 = {"endpoint": "minio.internal:9000", "bucket": "loki-chunks", "region": "eu-west-1", "access_key_id": "loki-writer"}
FILES = [{"path": "/var/log/nginx/*.log", "labels": {"service": "nginx"}}, {"path": "/var/log/syslog"}]


def settings_for(stack: str, *, platform: str | None = None, **logs: object) -> StackSettings:
    """The stack's settings with these log settings (and, if given, on this platform instead)."""
    raw = stack_raw_config(stack)
    raw["logs"] = {**raw.get("logs", {}), **logs}
    if platform:
        raw["platform"] = platform
    return parse_settings(raw, stack)


@pytest.fixture(params=STACKS)
def stack(request) -> str:
    return request.param


@pytest.fixture(params=["promtail", "alloy"])
def collector(request) -> str:
    return request.param


@pytest.fixture
def endpoints() -> dict[str, Endpoint]:
    return {
        "loki": Endpoint("loki", 3100),
        "alertmanager": Endpoint("alertmanager", 9093),
        "prometheus": Endpoint("prometheus", 9090),
        # The gateway's listeners, where the collector pushes when security.auth gates Loki.
        **gateway_endpoints(),
    }
