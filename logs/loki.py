"""Loki (single binary): TSDB schema v13, filesystem or S3 storage, compactor-driven retention with
per-stream overrides, ingestion and query limits, results cache, and the ruler evaluating the log
alerts (`logs.rules`) against the stack's Alertmanager and writing log-derived series to Prometheus.
"""

from __future__ import annotations

from typing import Any

from logs.rules import render_log_rule_file
from render.prometheus_ha import alertmanager_addresses, prometheus_write_urls
from render.serialize import to_yaml
from render.tls_clients import remote_write_client, requires_auth, scheme, server_name, serves_tls, with_scheme
from render.web_config import CA_FILE, CERT_FILE, KEY_FILE, SECRETS_DIR
from services.topology import Endpoints
from settings.model import StackSettings
from settings.types import duration_seconds

DATA_DIR = "/loki"
CONFIG_DIR = "/etc/loki"
# Loki's gRPC port (its default), bound to loopback: nothing outside the pod dials it.
GRPC_PORT = 9095
LOOPBACK = "127.0.0.1"
# The ruler's local storage: <dir>/<tenant>/<file>.yml. Without auth Loki's single tenant is "fake".
RULES_DIR = "rules"
TENANT = "fake"
# First day of the v13/TSDB schema for stacks created by this project; never change it in place
# (a schema or storage change is a new entry with a later `from`).
SCHEMA_START = "2024-04-01"
# The environment variable Loki expands (`-config.expand-env=true`) into the S3 secret key.
S3_SECRET_ENV = "LOKI_S3_SECRET_ACCESS_KEY"
S3_SECRET_KEY = "loki_s3_secret_access_key"
# The client user's password, expanded into ruler.alertmanager_client (no *_file option there).
CLIENT_PASSWORD_ENV = "WEB_CLIENT_PASSWORD"


def hours(duration: str) -> str:
    return f"{int(duration_seconds(duration) // 3600)}h"


def _object_store(settings: StackSettings) -> str:
    return "s3" if settings.logs.s3 else "filesystem"


def storage(settings: StackSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    """(common.storage, storage_config) for the stack's object store."""
    index = {"active_index_directory": f"{DATA_DIR}/tsdb-index", "cache_location": f"{DATA_DIR}/tsdb-cache"}
    s3 = settings.logs.s3
    if s3 is None:
        return {"filesystem": {"chunks_directory": f"{DATA_DIR}/chunks"}}, {"tsdb_shipper": index}
    bucket = {
        "endpoint": s3.endpoint,
        "bucketnames": s3.bucket,
        "region": s3.region,
        "access_key_id": s3.access_key_id,
        # Only the variable's name: Loki reads the value from its environment at start.
        "secret_access_key": f"${{{S3_SECRET_ENV}}}",
        "s3forcepathstyle": s3.force_path_style,
        "insecure": s3.insecure,
    }
    return {"s3": bucket}, {"tsdb_shipper": index, "aws": bucket}


def retention_streams(settings: StackSettings) -> list[dict[str, Any]]:
    return [
        {"selector": override.selector, "priority": override.priority, "period": hours(override.period)}
        for override in settings.logs.retention_overrides
    ]


def render_loki_config(settings: StackSettings, endpoints: Endpoints, port: int) -> dict[str, Any]:
    loki = settings.loki
    limits = loki.limits
    common_storage, storage_config = storage(settings)
    ruler: dict[str, Any] = {
        # Every Alertmanager peer (comma-separated): the mesh deduplicates what the ruler sends each.
        "alertmanager_url": ",".join(
            f"{scheme(settings, 'alertmanager')}://{address}" for address in alertmanager_addresses(settings, endpoints)
        ),
        "enable_api": True,
        "evaluation_interval": "1m",
        "storage": {"type": "local", "local": {"directory": f"{CONFIG_DIR}/{RULES_DIR}"}},
        "rule_path": f"{DATA_DIR}/ruler-scratch",
        "ring": {"kvstore": {"store": "inmemory"}},
        "wal": {"dir": f"{DATA_DIR}/ruler-wal"},
    }
    if "prometheus" in endpoints:
        # Log-derived recording rules become Prometheus series (Prometheus must accept remote write).
        ruler["remote_write"] = {
            "enabled": True,
            "clients": {
                name: {"url": with_scheme(settings, url, "prometheus"), **remote_write_client(settings, "prometheus")}
                for name, url in prometheus_write_urls(settings, endpoints).items()
            },
        }
    if serves_tls(settings, "alertmanager"):
        ruler["alertmanager_client"] = loki_alertmanager_client(settings)
    return {
        "auth_enabled": False,
        # gRPC only between Loki's own modules, on loopback: common.instance_addr puts 127.0.0.1 in every
        # ring (ingester, ruler, compactor, scheduler, index gateway) and as the v2 frontend's address;
        # the single binary's frontend worker and compactor client dial server.grpc_listen_address
        # (pkg/loki/config_wrapper.go, pkg/querier/worker_service.go, pkg/loki/modules.go at v3.5.3).
        "server": {"http_listen_port": port, "grpc_listen_address": LOOPBACK, "grpc_listen_port": GRPC_PORT,
                   "log_level": "info", **loki_server_tls(settings)},
        "common": {
            "path_prefix": DATA_DIR,
            "instance_addr": LOOPBACK,
            "replication_factor": 1,
            "ring": {"kvstore": {"store": "inmemory"}},
            "storage": common_storage,
        },
        "schema_config": {
            "configs": [
                {
                    "from": SCHEMA_START,
                    "store": "tsdb",
                    "object_store": _object_store(settings),
                    "schema": "v13",
                    "index": {"prefix": "index_", "period": "24h"},
                }
            ]
        },
        "storage_config": storage_config,
        "compactor": {
            "working_directory": f"{DATA_DIR}/compactor",
            "compaction_interval": "10m",
            "retention_enabled": True,
            "retention_delete_delay": "2h",
            "retention_delete_worker_count": 150,
            "delete_request_store": _object_store(settings),
        },
        "limits_config": {
            "retention_period": hours(loki.retention),
            "retention_stream": retention_streams(settings),
            "ingestion_rate_mb": limits.ingestion_rate_mb,
            "ingestion_burst_size_mb": limits.ingestion_burst_mb,
            "per_stream_rate_limit": f"{limits.per_stream_rate_limit_mb:g}MB",
            "per_stream_rate_limit_burst": f"{limits.per_stream_rate_limit_burst_mb:g}MB",
            "max_global_streams_per_user": limits.max_streams_per_tenant,
            "max_line_size": f"{limits.max_line_size_kb}KB",
            "max_line_size_truncate": True,
            "max_query_series": limits.max_query_series,
            "max_query_length": hours(limits.max_query_length),
            "max_entries_limit_per_query": limits.max_entries_per_query,
            "query_timeout": limits.query_timeout,
            "max_query_parallelism": limits.max_query_parallelism,
            "split_queries_by_interval": limits.split_queries_by_interval,
            "reject_old_samples": True,
            "reject_old_samples_max_age": "168h",
            "allow_structured_metadata": True,
            "volume_enabled": True,
        },
        "query_range": {
            "align_queries_with_step": True,
            "cache_results": True,
            "results_cache": {"cache": {"embedded_cache": {"enabled": True, "max_size_mb": limits.results_cache_mb}}},
        },
        "ruler": ruler,
        "analytics": {"reporting_enabled": False},
    }


def loki_server_tls(settings: StackSettings, secrets_dir: str = SECRETS_DIR) -> dict[str, Any]:
    """Loki's HTTP listener over TLS (server.http_tls_config, Loki 3.5) with the stack's certificate.
    Loki has no basic-auth users of its own: see the README's Operations section."""
    if not serves_tls(settings, "loki"):
        return {}
    return {"http_tls_config": {"cert_file": f"{secrets_dir}/{CERT_FILE}", "key_file": f"{secrets_dir}/{KEY_FILE}"}}


def loki_alertmanager_client(settings: StackSettings, secrets_dir: str = SECRETS_DIR) -> dict[str, Any]:
    """ruler.alertmanager_client (Loki 3.5): the CA, the expected name, and the client user. Its
    password has no file option: Loki expands it from the environment (`-config.expand-env`)."""
    client: dict[str, Any] = {
        "tls_ca_path": f"{secrets_dir}/{CA_FILE}",
        "tls_server_name": server_name(settings, "alertmanager"),
    }
    if requires_auth(settings, "alertmanager"):
        client["basic_auth_username"] = settings.security.auth.client_user
        client["basic_auth_password"] = f"${{{CLIENT_PASSWORD_ENV}}}"
    return client


def loki_command(settings: StackSettings, config_path: str) -> tuple[str, ...]:
    command = (f"-config.file={config_path}",)
    if settings.logs.s3 or settings.security.auth.enabled:
        # Expands ${VAR} in the config from the environment: the S3 secret key never sits in the file.
        command += ("-config.expand-env=true",)
    return command


def loki_secret_env(settings: StackSettings) -> dict[str, str]:
    """Environment variable -> secret key (settings.secrets) that Loki needs at start."""
    variables = {S3_SECRET_ENV: S3_SECRET_KEY} if settings.logs.s3 else {}
    if settings.security.auth.enabled:
        variables[CLIENT_PASSWORD_ENV] = "web_client_password"
    return variables


def loki_rule_files(settings: StackSettings) -> dict[str, str]:
    """Ruler rule files, relative to Loki's config directory."""
    return {f"{RULES_DIR}/{TENANT}/logs.yml": to_yaml(render_log_rule_file(settings))}
