"""Tempo's and Pyroscope's rendered configurations against the fields of the pinned releases."""

from __future__ import annotations

import copy

import pytest

from profiles.pyroscope import render_pyroscope_config
from services.topology import internal_endpoints
from settings.model import StackSettings
from tests.conftest import STACKS, stack_settings
from tests.traces.fields import inventory, unknown_keys
from traces.tempo import RECEIVER_PORTS, render_tempo_config, tempo_command, tempo_secret_env

TEMPO_FIELDS = inventory("traces/upstream/tempo-v2.9.0-fields.txt")
TEMPO_RECEIVERS = inventory("traces/upstream/tempo-v2.9.0-receivers.txt")
PYROSCOPE_FIELDS = inventory("profiles/upstream/pyroscope-v1.15.0-fields.txt")
S3 = {"endpoint": "minio.internal:9000", "bucket": "tempo", "access_key_id": "tempo"}


def variants() -> dict[str, StackSettings]:
    found = {stack: stack_settings(stack) for stack in STACKS}
    found["s3"] = StackSettings(environment="s3", traces={"tempo": {"s3": S3}})
    return found


def tempo(settings: StackSettings) -> dict:
    return render_tempo_config(settings, internal_endpoints(settings))


@pytest.mark.parametrize("name", ["staging", "prod", "s3"])
def test_every_tempo_key_exists_in_tempo_2_9_0(name):
    assert unknown_keys(tempo(variants()[name]), TEMPO_FIELDS, {"distributor.receivers": TEMPO_RECEIVERS}) == []


def test_the_field_check_refuses_an_unknown_key():
    """Control: a misspelt key (block_retention as retention) and an unknown receiver are caught."""
    document = copy.deepcopy(tempo(StackSettings(environment="x")))
    document["compactor"]["compaction"]["retention"] = "336h"
    document["distributor"]["receivers"]["otlp"]["protocols"]["grpcs"] = {}
    assert sorted(unknown_keys(document, TEMPO_FIELDS, {"distributor.receivers": TEMPO_RECEIVERS})) == [
        "compactor.compaction.retention",
        "distributor.receivers.otlp.protocols.grpcs",
    ]


def test_tempo_receives_every_protocol_on_all_addresses():
    receivers = tempo(StackSettings(environment="x"))["distributor"]["receivers"]
    assert receivers["otlp"]["protocols"]["grpc"]["endpoint"] == f"0.0.0.0:{RECEIVER_PORTS['otlp-grpc']}"
    assert receivers["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
    assert receivers["jaeger"]["protocols"]["grpc"]["endpoint"] == "0.0.0.0:14250"
    assert receivers["jaeger"]["protocols"]["thrift_http"]["endpoint"] == "0.0.0.0:14268"
    assert receivers["zipkin"]["endpoint"] == "0.0.0.0:9411"


def test_tempo_retention_limits_and_storage_follow_the_settings():
    settings = StackSettings(
        environment="x",
        traces={"tempo": {"retention": "7d", "limits": {"ingestion_rate_mb": 10, "ingestion_burst_mb": 12,
                                                        "max_traces_per_user": 5000, "max_bytes_per_trace_mb": 2}}},
    )
    config = tempo(settings)
    assert config["compactor"]["compaction"]["block_retention"] == "168h"
    assert config["overrides"]["defaults"]["ingestion"] == {
        "rate_limit_bytes": 10_000_000, "burst_size_bytes": 12_000_000, "max_traces_per_user": 5000,
    }
    assert config["overrides"]["defaults"]["global"]["max_bytes_per_trace"] == 2_000_000
    assert config["storage"]["trace"]["backend"] == "local"
    s3 = tempo(variants()["s3"])["storage"]["trace"]
    assert s3["backend"] == "s3" and s3["s3"]["bucket"] == "tempo"
    # The key itself never sits in the document: Tempo expands the variable at start.
    assert s3["s3"]["secret_key"] == "${TEMPO_S3_SECRET_ACCESS_KEY}"
    assert "-config.expand-env=true" in tempo_command(variants()["s3"], "/etc/tempo/tempo.yml")
    assert tempo_secret_env(variants()["s3"]) == {"TEMPO_S3_SECRET_ACCESS_KEY": "tempo_s3_secret_access_key"}
    assert tempo_secret_env(settings) == {}


@pytest.mark.parametrize("stack", STACKS)
def test_the_generator_writes_span_metrics_and_the_service_graph_to_every_prometheus(stack):
    settings = stack_settings(stack)
    generator = tempo(settings)["metrics_generator"]
    writes = generator["storage"]["remote_write"]
    # One write per Prometheus replica (two on Kubernetes), each with exemplars.
    assert len(writes) == (2 if settings.platform == "kubernetes" else 1)
    assert all(w["send_exemplars"] is True and w["url"].endswith("/api/v1/write") for w in writes)
    assert tempo(settings)["overrides"]["defaults"]["metrics_generator"]["processors"] == [
        "service-graphs", "span-metrics", "local-blocks",
    ]
    assert generator["registry"]["external_labels"]["env"] == settings.environment


@pytest.mark.parametrize("name", ["staging", "prod", "s3"])
def test_tempo_grpc_listens_and_is_dialed_only_on_loopback(name):
    """Tempo's gRPC carries only its own modules' calls (Tempo v2.9.0, single binary): the listener
    is bound to 127.0.0.1, and every address the in-process clients dial is loopback - the
    ingesters' and metrics-generators' ring addresses (by default the pod's eth0 address, dskit
    ring.GetInstanceAddr; ListenPort = the gRPC port, cmd/tempo/app/modules.go) and the querier's
    frontend worker address (cmd/tempo/app/modules.go initQuerier). The keys are in the inventory
    (test_every_tempo_key_exists_in_tempo_2_9_0).

    Mutations checked: `grpc_listen_address` removed; `ingester.lifecycler.address` removed (the
    distributor would dial the pod IP, where nothing listens); `metrics_generator.ring.instance_addr`
    removed."""
    config = tempo(variants()[name])
    assert config["server"]["grpc_listen_address"] == "127.0.0.1"
    assert config["ingester"]["lifecycler"]["address"] == "127.0.0.1"
    assert config["metrics_generator"]["ring"]["instance_addr"] == "127.0.0.1"
    assert config["querier"]["frontend_worker"]["frontend_address"] == f"127.0.0.1:{config['server']['grpc_listen_port']}"
    # The receivers stay on every address: they are what applications and the collector reach.
    assert all(r["endpoint"].startswith("0.0.0.0:") for r in (
        config["distributor"]["receivers"]["otlp"]["protocols"]["grpc"], config["distributor"]["receivers"]["zipkin"]))


@pytest.mark.parametrize("stack", STACKS)
def test_pyroscope_grpc_listens_only_on_loopback(stack):
    """Pyroscope v1.15.0's modules talk Connect over the HTTP port (every ring's ListenPort is
    -server.http-listen-port, the frontend advertises it too): its gRPC listener serves no
    internal client and is bound to 127.0.0.1; the HTTP port stays on every address.

    Mutation checked: `grpc_listen_address` removed."""
    server = render_pyroscope_config(stack_settings(stack))["server"]
    assert server["grpc_listen_address"] == "127.0.0.1"
    assert "http_listen_address" not in server


@pytest.mark.parametrize("stack", STACKS)
def test_every_pyroscope_key_exists_in_pyroscope_1_15_0(stack):
    assert unknown_keys(render_pyroscope_config(stack_settings(stack)), PYROSCOPE_FIELDS) == []


def test_pyroscope_field_check_refuses_an_unknown_key():
    document = copy.deepcopy(render_pyroscope_config(StackSettings(environment="x")))
    document["limits"]["retention_period"] = "336h"
    assert unknown_keys(document, PYROSCOPE_FIELDS) == ["limits.retention_period"]


def test_pyroscope_retention_and_limits_follow_the_settings():
    config = render_pyroscope_config(
        StackSettings(environment="x", profiles={"pyroscope": {"retention": "30d", "limits": {"ingestion_rate_mb": 2, "ingestion_burst_mb": 3}}})
    )
    assert config["limits"]["compactor_blocks_retention_period"] == "720h"
    assert config["limits"]["ingestion_rate_mb"] == 2 and config["limits"]["ingestion_burst_size_mb"] == 3
    # The collector scrapes Pyroscope's own profiles; a self-push would count them twice.
    assert config["self_profiling"]["disable_push"] is True


def test_prometheus_scrapes_both_and_keeps_exemplars_only_while_tempo_runs():
    from render.prometheus import prometheus_command, render_prometheus_config
    from services.collector import without_idle_collector

    def jobs(settings):
        endpoints = without_idle_collector(settings, internal_endpoints(settings))
        return {job["job_name"]: job for job in render_prometheus_config(settings, endpoints)["scrape_configs"]}

    on = StackSettings(environment="x")
    assert jobs(on)["tempo"]["static_configs"][0]["targets"] == ["tempo:3200"]
    assert jobs(on)["pyroscope"]["static_configs"][0]["labels"]["service"] == "pyroscope"
    assert "--enable-feature=exemplar-storage" in prometheus_command(on, "p.yml", "/d", 9090)
    off = StackSettings(environment="x", traces={"enabled": False}, profiles={"enabled": False})
    assert {"tempo", "pyroscope"}.isdisjoint(jobs(off))
    assert "--enable-feature=exemplar-storage" not in prometheus_command(off, "p.yml", "/d", 9090)
