"""Loki (single binary): filesystem storage, TSDB schema, compactor-driven retention, limits."""

from __future__ import annotations

from typing import Any

from services.topology import Endpoints
from settings.model import StackSettings
from settings.types import duration_seconds

DATA_DIR = "/loki"
# First day of the v13/TSDB schema for stacks created by this project; never change it in place
# (a schema change is a new entry with a later `from`).
SCHEMA_START = "2024-04-01"


def hours(duration: str) -> str:
    return f"{int(duration_seconds(duration) // 3600)}h"


def render_loki_config(settings: StackSettings, endpoints: Endpoints, port: int) -> dict[str, Any]:
    loki = settings.loki
    limits = loki.limits
    return {
        "auth_enabled": False,
        "server": {"http_listen_port": port, "grpc_listen_port": 9095, "log_level": "info"},
        "common": {
            "path_prefix": DATA_DIR,
            "instance_addr": "127.0.0.1",
            "replication_factor": 1,
            "ring": {"kvstore": {"store": "inmemory"}},
            "storage": {
                "filesystem": {"chunks_directory": f"{DATA_DIR}/chunks", "rules_directory": f"{DATA_DIR}/rules"}
            },
        },
        "schema_config": {
            "configs": [
                {
                    "from": SCHEMA_START,
                    "store": "tsdb",
                    "object_store": "filesystem",
                    "schema": "v13",
                    "index": {"prefix": "index_", "period": "24h"},
                }
            ]
        },
        "storage_config": {
            "tsdb_shipper": {
                "active_index_directory": f"{DATA_DIR}/tsdb-index",
                "cache_location": f"{DATA_DIR}/tsdb-cache",
            }
        },
        "compactor": {
            "working_directory": f"{DATA_DIR}/compactor",
            "compaction_interval": "10m",
            "retention_enabled": True,
            "retention_delete_delay": "2h",
            "retention_delete_worker_count": 150,
            "delete_request_store": "filesystem",
        },
        "limits_config": {
            "retention_period": hours(loki.retention),
            "ingestion_rate_mb": limits.ingestion_rate_mb,
            "ingestion_burst_size_mb": limits.ingestion_burst_mb,
            "max_global_streams_per_user": limits.max_streams_per_tenant,
            "max_line_size": f"{limits.max_line_size_kb}KB",
            "max_query_series": limits.max_query_series,
            "max_query_length": hours(limits.max_query_length),
            "query_timeout": limits.query_timeout,
            "max_query_parallelism": limits.max_query_parallelism,
            "split_queries_by_interval": limits.split_queries_by_interval,
            "reject_old_samples": True,
            "reject_old_samples_max_age": "168h",
            "allow_structured_metadata": True,
            "volume_enabled": True,
        },
        "query_range": {
            "cache_results": True,
            "results_cache": {"cache": {"embedded_cache": {"enabled": True, "max_size_mb": 100}}},
        },
        "ruler": {"alertmanager_url": endpoints["alertmanager"].url, "enable_api": True},
        "analytics": {"reporting_enabled": False},
    }
