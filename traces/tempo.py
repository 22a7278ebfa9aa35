"""Tempo (single binary, `target: all`): receivers for OTLP (gRPC, HTTP), Jaeger and Zipkin, local
or S3 block storage, compactor-driven retention, ingestion limits, and the metrics-generator writing
span metrics and the service graph to Prometheus (remote write, with exemplars).

Field names are those of Tempo v2.9.0 (the pinned image); tests check every rendered key against the
inventory extracted from that release (traces/upstream/tempo-v2.9.0-fields.txt).
"""

from __future__ import annotations

from typing import Any

from render.prometheus_ha import prometheus_write_urls
from services.topology import Endpoints
from render.tls_clients import remote_write_client, with_scheme
from settings.model import StackSettings
from settings.types import duration_seconds

DATA_DIR = "/var/tempo"
CONFIG_FILE = "tempo.yml"
HTTP_PORT = 3200
# Tempo's gRPC port, bound to loopback: only its own modules dial it (see _internal_grpc).
GRPC_PORT = 9095
LOOPBACK = "127.0.0.1"
# Trace receivers and their upstream default ports; the collector listens on the same ones.
RECEIVER_PORTS: dict[str, int] = {
    "otlp-grpc": 4317,
    "otlp-http": 4318,
    "jaeger-grpc": 14250,
    "jaeger-http": 14268,
    "zipkin": 9411,
}
# The environment variable Tempo expands (`-config.expand-env=true`) into the S3 secret key.
S3_SECRET_ENV = "TEMPO_S3_SECRET_ACCESS_KEY"
S3_SECRET_KEY = "tempo_s3_secret_access_key"
# Processors of the metrics-generator: RED metrics, the dependency graph, and the local blocks
# TraceQL metrics queries read.
GENERATOR_PROCESSORS = ("service-graphs", "span-metrics", "local-blocks")
# Peer attributes naming the server side of a client span to an uninstrumented service (databases).
PEER_ATTRIBUTES = ("peer.service", "db.name", "db.system")


def _listen(port: int) -> dict[str, str]:
    # Since OpenTelemetry's receivers default to localhost (Tempo 2.7+), listen on every address.
    return {"endpoint": f"0.0.0.0:{port}"}


def receivers() -> dict[str, Any]:
    return {
        "otlp": {"protocols": {"grpc": _listen(RECEIVER_PORTS["otlp-grpc"]), "http": _listen(RECEIVER_PORTS["otlp-http"])}},
        "jaeger": {
            "protocols": {
                "grpc": _listen(RECEIVER_PORTS["jaeger-grpc"]),
                "thrift_http": _listen(RECEIVER_PORTS["jaeger-http"]),
            }
        },
        "zipkin": _listen(RECEIVER_PORTS["zipkin"]),
    }


def _storage(settings: StackSettings) -> dict[str, Any]:
    s3 = settings.traces.tempo.s3
    trace: dict[str, Any] = {"wal": {"path": f"{DATA_DIR}/wal"}}
    if s3 is None:
        trace.update(backend="local", local={"path": f"{DATA_DIR}/blocks"})
    else:
        trace.update(
            backend="s3",
            s3={
                "endpoint": s3.endpoint,
                "bucket": s3.bucket,
                "region": s3.region,
                "access_key": s3.access_key_id,
                # Only the variable's name: Tempo reads the value from its environment at start.
                "secret_key": f"${{{S3_SECRET_ENV}}}",
                "forcepathstyle": s3.force_path_style,
                "insecure": s3.insecure,
            },
        )
    return {"trace": trace}


def _hours(duration: str) -> str:
    return f"{int(duration_seconds(duration) // 3600)}h"


def _internal_grpc() -> dict[str, Any]:
    """Where the single binary's modules reach each other over gRPC, all on loopback (Tempo v2.9.0):
    the distributor and querier dial the ingesters and metrics-generators at their ring addresses
    (`ingester.lifecycler.address`, `metrics_generator.ring.instance_addr`; by default the pod's
    eth0 address, dskit ring.GetInstanceAddr) on the gRPC port; the querier's frontend worker dials
    `querier.frontend_worker.frontend_address` (127.0.0.1:<grpc port> when empty in single binary,
    cmd/tempo/app/modules.go initQuerier; set here so it is written down). The distributor ring
    (global rate limits only) and the compactor ring (unsharded) are never dialed."""
    address = f"{LOOPBACK}:{GRPC_PORT}"
    return {
        "ingester": {"lifecycler": {"address": LOOPBACK}},
        "metrics_generator": {"ring": {"instance_addr": LOOPBACK}},
        "querier": {"frontend_worker": {"frontend_address": address}},
    }


def render_tempo_config(settings: StackSettings, endpoints: Endpoints) -> dict[str, Any]:
    tempo = settings.traces.tempo
    limits = tempo.limits
    internal = _internal_grpc()
    return {
        "target": "all",
        # Grafana's TraceQL streaming (search results as they come) over the HTTP port.
        "stream_over_http_enabled": True,
        "server": {"http_listen_port": HTTP_PORT, "grpc_listen_address": LOOPBACK, "grpc_listen_port": GRPC_PORT,
                   "log_level": "info"},
        "distributor": {"receivers": receivers()},
        "ingester": internal["ingester"],
        "querier": internal["querier"],
        "compactor": {"compaction": {"block_retention": _hours(tempo.retention)}},
        "metrics_generator": {
            **internal["metrics_generator"],
            "registry": {"external_labels": {"source": "tempo", "env": settings.environment}},
            "storage": {
                "path": f"{DATA_DIR}/generator/wal",
                "remote_write": [
                    # Over TLS as the stack's client user where Prometheus serves them (security.*).
                    {"url": with_scheme(settings, url, "prometheus"), "send_exemplars": True,
                     **remote_write_client(settings, "prometheus")}
                    for url in prometheus_write_urls(settings, endpoints).values()
                ],
            },
            "traces_storage": {"path": f"{DATA_DIR}/generator/traces"},
            "processor": {
                "service_graphs": {"peer_attributes": list(PEER_ATTRIBUTES)},
                # job and instance on every span metric (from service.name / service.instance.id).
                "span_metrics": {"enable_target_info": True},
            },
        },
        "storage": _storage(settings),
        "overrides": {
            "defaults": {
                "ingestion": {
                    "rate_limit_bytes": int(limits.ingestion_rate_mb * 1_000_000),
                    "burst_size_bytes": int(limits.ingestion_burst_mb * 1_000_000),
                    "max_traces_per_user": limits.max_traces_per_user,
                },
                "global": {"max_bytes_per_trace": int(limits.max_bytes_per_trace_mb * 1_000_000)},
                "metrics_generator": {"processors": list(GENERATOR_PROCESSORS)},
            }
        },
        "usage_report": {"reporting_enabled": False},
    }


def tempo_command(settings: StackSettings, config_path: str) -> tuple[str, ...]:
    command = (f"-config.file={config_path}",)
    if settings.traces.tempo.s3:
        command += ("-config.expand-env=true",)
    return command


def tempo_secret_env(settings: StackSettings) -> dict[str, str]:
    """Environment variable -> secret key (settings.secrets) that Tempo needs at start."""
    return {S3_SECRET_ENV: S3_SECRET_KEY} if settings.traces.tempo.s3 else {}
