"""Loki's rendered configuration for both stacks: schema, storage, retention, limits, cache, ruler."""

from __future__ import annotations

import yaml

from logs.loki import (
    S3_SECRET_ENV,
    loki_command,
    loki_rule_files,
    loki_secret_env,
    render_loki_config,
)
from settings.secrets import needed_secrets
from tests.logs.conftest import S3, settings_for


def test_sections_schema_and_compactor(stack, endpoints):
    settings = settings_for(stack)
    config = render_loki_config(settings, endpoints, 3100)
    for section in ("server", "common", "schema_config", "storage_config", "compactor", "limits_config", "query_range", "ruler"):
        assert section in config, section
    (period,) = config["schema_config"]["configs"]
    assert (period["store"], period["schema"], period["index"]["period"]) == ("tsdb", "v13", "24h")
    assert config["compactor"]["retention_enabled"] is True
    assert config["compactor"]["delete_request_store"] == period["object_store"] == "filesystem"
    assert config["server"]["http_listen_port"] == 3100


def test_retention_thirty_days_with_stream_overrides(stack, endpoints):
    limits = render_loki_config(settings_for(stack), endpoints, 3100)["limits_config"]
    assert limits["retention_period"] == "720h"
    assert limits["retention_stream"] == [{"selector": '{level="debug"}', "priority": 1, "period": "168h"}]
    custom = settings_for(stack, retention_overrides=[{"selector": '{service="audit"}', "period": "90d", "priority": 5}])
    assert render_loki_config(custom, endpoints, 3100)["limits_config"]["retention_stream"] == [
        {"selector": '{service="audit"}', "priority": 5, "period": "2160h"}
    ]


def test_ingestion_and_query_limits_follow_the_settings(stack, endpoints):
    settings = settings_for(stack)
    limits = render_loki_config(settings, endpoints, 3100)["limits_config"]
    expected = settings.loki.limits
    assert limits["ingestion_rate_mb"] == expected.ingestion_rate_mb
    assert limits["ingestion_burst_size_mb"] == expected.ingestion_burst_mb
    assert limits["max_global_streams_per_user"] == expected.max_streams_per_tenant
    assert limits["max_line_size"] == f"{expected.max_line_size_kb}KB"
    assert limits["per_stream_rate_limit"] == f"{expected.per_stream_rate_limit_mb:g}MB"
    assert limits["max_query_series"] == expected.max_query_series
    assert limits["query_timeout"] == expected.query_timeout
    assert limits["max_query_parallelism"] == expected.max_query_parallelism
    assert limits["split_queries_by_interval"] == expected.split_queries_by_interval
    assert limits["allow_structured_metadata"] is True
    if stack == "prod":
        assert limits["ingestion_rate_mb"] == 16 and limits["max_global_streams_per_user"] == 20000


def test_results_cache(endpoints):
    query_range = render_loki_config(settings_for("staging"), endpoints, 3100)["query_range"]
    assert query_range["cache_results"] is True
    assert query_range["results_cache"]["cache"]["embedded_cache"] == {"enabled": True, "max_size_mb": 100}


def test_ruler_alerts_to_the_stack_alertmanager_from_local_rule_files(endpoints):
    settings = settings_for("staging")
    ruler = render_loki_config(settings, endpoints, 3100)["ruler"]
    assert ruler["alertmanager_url"] == "http://alertmanager:9093"
    assert ruler["storage"] == {"type": "local", "local": {"directory": "/etc/loki/rules"}}
    assert ruler["remote_write"]["clients"]["prometheus"]["url"] == "http://prometheus:9090/api/v1/write"
    files = loki_rule_files(settings)
    # Local ruler storage reads <directory>/<tenant>/*.yml; the single tenant without auth is "fake".
    assert list(files) == ["rules/fake/logs.yml"]
    assert yaml.safe_load(files["rules/fake/logs.yml"])["groups"]


def test_filesystem_storage_without_s3(endpoints):
    settings = settings_for("staging")
    config = render_loki_config(settings, endpoints, 3100)
    assert "filesystem" in config["common"]["storage"] and "aws" not in config["storage_config"]
    assert loki_secret_env(settings) == {}
    assert "-config.expand-env=true" not in loki_command(settings, "/etc/loki/loki.yml")
    assert "loki_s3_secret_access_key" not in [spec.key for spec in needed_secrets(settings)]


def test_s3_storage_names_the_secret_only_by_variable(stack, endpoints):
    settings = settings_for(stack, s3=S3)
    config = render_loki_config(settings, endpoints, 3100)
    (period,) = config["schema_config"]["configs"]
    assert period["object_store"] == config["compactor"]["delete_request_store"] == "s3"
    bucket = config["storage_config"]["aws"]
    assert bucket == config["common"]["storage"]["s3"]
    assert (bucket["endpoint"], bucket["bucketnames"], bucket["region"], bucket["access_key_id"]) == (
        "minio.internal:9000",
        "loki-chunks",
        "eu-west-1",
        "loki-writer",
    )
    assert bucket["secret_access_key"] == "${" + S3_SECRET_ENV + "}"
    assert loki_command(settings, "/etc/loki/loki.yml") == ("-config.file=/etc/loki/loki.yml", "-config.expand-env=true")
    # With security.auth (prod) the ruler's Alertmanager password comes the same way.
    auth = {"WEB_CLIENT_PASSWORD": "web_client_password"} if settings.security.auth.enabled else {}
    assert loki_secret_env(settings) == {S3_SECRET_ENV: "loki_s3_secret_access_key", **auth}
    assert "loki_s3_secret_access_key" in [spec.key for spec in needed_secrets(settings)]


def _values_of(document, suffixes: tuple[str, ...], path: str = "") -> dict[str, object]:
    """Every value in `document` whose dotted key ends with one of `suffixes`."""
    found = {}
    if isinstance(document, dict):
        for key, value in document.items():
            dotted = f"{path}.{key}" if path else key
            if key.endswith(suffixes):
                found[dotted] = value
            found.update(_values_of(value, suffixes, dotted))
    return found


def test_grpc_listens_and_is_dialed_only_on_loopback(stack, endpoints):
    """Loki's gRPC (single binary) carries only its modules' own calls: the listener is bound to
    127.0.0.1 (dskit `server.grpc_listen_address`), every ring and the v2 frontend advertise
    `common.instance_addr` 127.0.0.1 (pkg/loki/config_wrapper.go v3.5.3), the frontend worker and the
    compactor client dial the listen address (pkg/querier/worker_service.go, pkg/loki/modules.go
    compactorAddress), and nothing overrides an address with another one.

    Mutations checked: `grpc_listen_address` removed; `common.instance_addr` removed."""
    config = render_loki_config(settings_for(stack), endpoints, 3100)
    assert config["server"]["grpc_listen_address"] == "127.0.0.1"
    assert config["server"]["grpc_listen_port"] == 9095
    assert config["common"]["instance_addr"] == "127.0.0.1"
    addresses = _values_of(config, ("instance_addr", "grpc_listen_address", "frontend_address", "scheduler_address",
                                    "compactor_grpc_address", "advertise_addr"))
    assert set(addresses.values()) == {"127.0.0.1"}, addresses
