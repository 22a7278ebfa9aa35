"""prometheus.yml for replicated Prometheus on Kubernetes, and none of it on Docker."""

from __future__ import annotations

import pytest

from render.prometheus import prometheus_command, render_prometheus_config
from services.cluster import for_platform
from services.core import core_services
from services.high_availability import ALERTMANAGER_PEERS
from services.topology import internal_endpoints
from tests.kubernetes.k8s_render import raw_on_platform, stack_on_platform
from settings import parse_settings
from tests.conftest import stack_raw_config


def config(settings) -> dict:
    return render_prometheus_config(settings, internal_endpoints(settings))


def test_replicas_label_themselves_and_alert_without_it_to_every_peer():
    settings = stack_on_platform("prod", "kubernetes")
    rendered = config(settings)
    assert rendered["global"]["external_labels"]["replica"] == "${POD_NAME}"
    assert rendered["alerting"]["alert_relabel_configs"] == [{"action": "labeldrop", "regex": "replica"}]
    namespace = settings.kubernetes.namespace
    assert rendered["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        f"alertmanager-{i}.alertmanager-peers.{namespace}.svc:9093" for i in range(ALERTMANAGER_PEERS)
    ]
    # The platform sets POD_NAME from the pod's name: the variable the label reads.
    assert for_platform(settings, core_services(settings))["prometheus"].identity_env == {"POD_NAME": "name"}


def test_docker_keeps_one_alertmanager_and_no_replica_label():
    settings = stack_on_platform("staging", "docker")
    rendered = config(settings)
    assert "replica" not in rendered["global"]["external_labels"]
    assert "alert_relabel_configs" not in rendered["alerting"]
    assert rendered["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    # (exemplar-storage is on for Tempo's span metrics on every platform: tests/traces.)
    assert not [a for a in prometheus_command(settings, "p.yml", "/d", 9090) if a.startswith("--enable-feature=expand")]


@pytest.mark.parametrize(("image", "flagged"), [("prom/prometheus:v3.5.0", False), ("prom/prometheus:v2.55.1", True)])
def test_a_2x_image_gets_the_flag_that_expands_the_replica_label(image, flagged):
    raw = raw_on_platform(stack_raw_config("prod"), "kubernetes")
    raw["prometheus"] = {**raw["prometheus"], "image": image}
    command = prometheus_command(parse_settings(raw, "prod"), "p.yml", "/d", 9090)
    assert ("--enable-feature=expand-external-labels" in command) is flagged


def test_lokis_ruler_alerts_every_peer_and_writes_to_every_replica():
    """Mutations caught: the ruler sending log alerts to one Alertmanager (lost while that peer is
    down) or writing its recordings through the Service (one replica gets them, the other has gaps)."""
    from logs.loki import render_loki_config

    settings = stack_on_platform("prod", "kubernetes")
    ruler = render_loki_config(settings, internal_endpoints(settings), 3100)["ruler"]
    namespace = settings.kubernetes.namespace
    assert ruler["alertmanager_url"].split(",") == [
        # https: prod serves TLS (security.tls).
        f"https://alertmanager-{i}.alertmanager-peers.{namespace}.svc:9093" for i in range(ALERTMANAGER_PEERS)
    ]
    assert sorted(client["url"] for client in ruler["remote_write"]["clients"].values()) == [
        f"https://prometheus-{i}.prometheus-peers.{namespace}.svc:9090/api/v1/write" for i in range(2)
    ]
    docker = stack_on_platform("staging", "docker")
    ruler = render_loki_config(docker, internal_endpoints(docker), 3100)["ruler"]
    assert ruler["alertmanager_url"] == "http://alertmanager:9093"
    assert ruler["remote_write"]["clients"] == {"prometheus": {"url": "http://prometheus:9090/api/v1/write"}}
