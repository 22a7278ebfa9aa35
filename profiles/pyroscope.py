"""Pyroscope (single binary, `target: all`): blocks on the service's volume (a filesystem bucket),
retention enforced by the compactor, ingestion and query limits, and no self-push (the collector
scrapes Pyroscope's own pprof endpoints like every other Go service of the stack).

Field names are those of Pyroscope v1.15.0 (the pinned image); tests check every rendered key
against the inventory extracted from that release (profiles/upstream/pyroscope-v1.15.0-fields.txt).
"""

from __future__ import annotations

from typing import Any

from settings.model import StackSettings
from settings.types import duration_seconds

CONFIG_FILE = "pyroscope.yml"
HTTP_PORT = 4040
# dskit's gRPC listener, bound to loopback: in Pyroscope v1 (1.15.0, the `v2` architecture off) no
# client dials it. The modules talk Connect over the HTTP port: every ring's ListenPort is
# -server.http-listen-port (pkg/pyroscope/modules.go: scheduler, compactor, distributor, ingester,
# store-gateway rings) and the query-frontend advertises -server.http-listen-port to the scheduler
# and queriers (pkg/frontend/frontend.go `instance_port`); the gRPC server carries only the gRPC
# health service (pkg/pyroscope/modules.go initServer).
GRPC_PORT = 9095
LOOPBACK = "127.0.0.1"
DATA_DIR = "/data"


def _hours(duration: str) -> str:
    return f"{int(duration_seconds(duration) // 3600)}h"


def render_pyroscope_config(settings: StackSettings) -> dict[str, Any]:
    pyroscope = settings.profiles.pyroscope
    limits = pyroscope.limits
    return {
        "target": "all",
        "server": {"http_listen_port": HTTP_PORT, "grpc_listen_address": LOOPBACK, "grpc_listen_port": GRPC_PORT,
                   "log_level": "info"},
        # Head blocks on the volume; flushed blocks in a filesystem bucket on the same volume.
        "pyroscopedb": {"data_path": f"{DATA_DIR}/head"},
        "storage": {"backend": "filesystem", "filesystem": {"dir": f"{DATA_DIR}/blocks"}},
        "compactor": {"data_dir": f"{DATA_DIR}/compactor"},
        "limits": {
            "ingestion_rate_mb": limits.ingestion_rate_mb,
            "ingestion_burst_size_mb": limits.ingestion_burst_mb,
            "max_label_names_per_series": limits.max_label_names_per_series,
            "max_query_lookback": limits.max_query_lookback,
            "compactor_blocks_retention_period": _hours(pyroscope.retention),
        },
        # Its own profiles come through the collector's scrape (profiles/alloy.py), not a push to itself.
        "self_profiling": {"disable_push": True},
        "analytics": {"reporting_enabled": False},
    }


def pyroscope_command(config_path: str) -> tuple[str, ...]:
    return (f"-config.file={config_path}",)
