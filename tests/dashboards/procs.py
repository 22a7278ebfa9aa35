"""The live dashboard checks' settings and stack; the processes come from tests/e2e/procs.py."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any, Mapping

from rules.common import stack_services
from settings.model import StackSettings
from tests.e2e.procs import MOCKED, LocalStack, Processes, http_json, start_local_stack

__all__ = ["Processes", "instant_query", "live_settings", "start_stack"]


def start_stack(settings: StackSettings, workdir: Path, processes: Processes,
                hosts: int | Mapping[str, int] | None = None, webhook_url: str | None = None,
                clock_offsets: Mapping[str, float] | None = None) -> LocalStack:
    """Mocks, Alertmanager and Prometheus with the rendered config and every rule of the stack."""
    return start_local_stack(processes, settings, workdir, webhook_url=webhook_url, hosts=hosts or 1,
                             services=stack_services(settings), clock_offsets=clock_offsets)


def instant_query(prometheus_url: str, expr: str, timeout: float = 10) -> dict[str, Any]:
    return http_json(f"{prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}", timeout=timeout)


def live_settings(base: dict[str, Any], interval: str = "2s") -> dict[str, Any]:
    """Stack settings for a fast live run: every interval `interval`, only the mocked exporters on."""
    raw = json.loads(json.dumps(base))
    raw["prometheus"] = {**raw.get("prometheus", {}), "scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": "1s"}
    exporters = dict(raw.get("exporters", {}))
    for name in MOCKED:
        exporters[name] = {**exporters.get(name, {}), "mode": "mock", "scrape_interval": interval}
    for name in ("postgres", "redis", "blackbox", "pushgateway"):
        exporters[name] = {**exporters.get(name, {}), "mode": "off"}
    raw["exporters"] = exporters
    # The SLO's long windows (1d, 3d, 30d) are evaluated on their own, slower interval.
    raw["alerting"] = {**raw.get("alerting", {}), "slo_long_interval": interval}
    # So are the capacity peaks and trends (5 m by default).
    raw["capacity"] = {**raw.get("capacity", {}), "evaluation_interval": interval}
    return raw
