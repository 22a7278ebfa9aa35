"""Settings of the Kubernetes platform: each bad value is one exact line naming key, value and what is allowed."""

from __future__ import annotations

import pytest

from settings import SettingsError, parse_settings
from tests.conftest import stack_raw_config

# What the Kubernetes platform needs besides the platform itself (a way to reach Grafana, a registry
# for the mock image when mocks run).
VALID = {
    "platform": "kubernetes",
    "grafana": {"url": "http://127.0.0.1:3000"},
    "exporters": {"mock_image": {"registry": "registry.example.com/monitoring"}},
}

BAD = [
    ({"kubernetes": {"namespace": "Monitoring"}},
     'monitoring:kubernetes.namespace: "Monitoring" is not a Kubernetes name (lowercase letters, digits and \'-\', at most 63)'),
    ({"kubernetes": {"version": "1.33.2"}},
     'monitoring:kubernetes.version: "1.33.2" is not a Kubernetes minor version like 1.33'),
    ({"kubernetes": {"context": "prod", "in_cluster": True}},
     'monitoring:kubernetes.context: "prod" must be unset when in_cluster is true'),
    ({"kubernetes": {"service_type": "ExternalName"}},
     "monitoring:kubernetes.service_type: \"ExternalName\" is not allowed; allowed: 'ClusterIP', 'NodePort' or 'LoadBalancer'"),
    ({"kubernetes": {"placement": {"tolerations": [{"operator": "Exists", "value": "x"}]}}},
     'monitoring:kubernetes.placement.tolerations[0].value: "x" must be unset when operator is Exists'),
    ({"kubernetes": {"ingress": {"class_name": "nginx", "host": "Grafana!", "tls_secret": "tls"}}},
     'monitoring:kubernetes.ingress.host: "Grafana!" is not a DNS name like grafana.example.com'),
    ({"kubernetes": {"storage": {"prometheus": "100GB"}}, "prometheus": {"retention_size": "200GB"}},
     'monitoring:kubernetes.storage.prometheus: "100GB" does not exceed prometheus.retention_size 200GB '
     "(the TSDB needs headroom for its WAL)"),
    ({"grafana": {}},
     "monitoring:grafana.url: null is unset and kubernetes.ingress is unset: Pulumi could not reach Grafana in "
     "the cluster to provision it"),
    ({"prometheus": {"targets_dir": "/srv/targets"}},
     'monitoring:prometheus.targets_dir: "/srv/targets" is a host directory, which a cluster does not have: '
     "list targets in exporters.<name>.targets"),
    ({"exporters": {}},
     "monitoring:exporters.mock_image.registry: null is unset while mocks run (node, cadvisor, dcgm, vllm): "
     "the cluster pulls the mock image from a registry"),
]


@pytest.mark.parametrize("override, line", BAD, ids=[line.split(":")[1] for _, line in BAD])
def test_bad_kubernetes_setting_gives_one_exact_line(override, line):
    with pytest.raises(SettingsError) as raised:
        parse_settings({**VALID, **override}, "prod")
    assert raised.value.lines == [line]


def test_the_valid_base_is_valid_and_docker_settings_do_not_break_it():
    settings = parse_settings({**VALID, "docker": {"subnet": "172.29.0.0/24"}}, "prod")
    assert settings.platform == "kubernetes" and settings.kubernetes.namespace == "monitoring"
    assert settings.kubernetes.agents_namespace == "monitoring-host"


def test_kubernetes_settings_do_not_break_docker():
    raw = {**stack_raw_config("staging"), "kubernetes": {"namespace": "obs", "storage": {"prometheus": "10GB"}}}
    assert parse_settings(raw, "staging").platform == "docker"


def test_grafana_is_reached_through_the_ingress_unless_a_url_is_set():
    ingress = {"class_name": "nginx", "host": "grafana.example.com", "tls_secret": "grafana-tls"}
    settings = parse_settings({**VALID, "grafana": {}, "kubernetes": {"ingress": ingress}}, "prod")
    assert settings.grafana_url == "https://grafana.example.com"
    assert parse_settings({**VALID, "kubernetes": {"ingress": ingress}}, "prod").grafana_url == "http://127.0.0.1:3000"
