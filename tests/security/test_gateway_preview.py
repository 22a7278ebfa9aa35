"""The gateway in front of Loki, Tempo and Pyroscope as the prod preview declares it, and as a Docker
stack with authentication declares it: every client of the three goes through it with the stack's
CA and the client user, the three admit nothing else on a cluster, and Loki's host port is the
gateway's on Docker.

Mutations checked (each fails a test here): a datasource URL left on the service itself; Alloy's
push without `basic_auth`; the API's `--client-auth` missing for Loki; a NetworkPolicy flow from
Grafana straight to Tempo; the gateway's htpasswd secrets not derived; Loki still publishing its
own port on Docker; the gateway declared with auth off.
"""

from __future__ import annotations

import json

import pytest

from render.gateway import GATED
from tests.kubernetes.platform_support import manifests, of_kind, preview_with

NAMESPACE = "monitoring"
PROD_GATED = ("loki", "tempo", "pyroscope")


def _resources(preview, type_suffix: str) -> dict[str, dict]:
    return {r["name"]: r for r in preview.resources if r["type"].endswith(type_suffix)}


def test_every_gated_service_of_prod_runs_behind_the_gateway(previews):
    documents = manifests(previews["prod"])
    assert set(PROD_GATED) == set(GATED)
    deployment = of_kind(documents, "Deployment")[f"{NAMESPACE}/gateway"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("nginxinc/nginx-unprivileged:")
    service = of_kind(documents, "Service")[f"{NAMESPACE}/gateway"]
    assert sorted(port["port"] for port in service["spec"]["ports"]) == [3100, 3200, 4040]
    secret = of_kind(documents, "Secret")[f"{NAMESPACE}/gateway-secrets"]
    assert {"tls.gateway.crt", "tls.gateway.key", "tls.ca.crt", "health-authorization",
            *(f"htpasswd.{name}" for name in PROD_GATED)} <= set(secret["stringData"])
    config = of_kind(documents, "ConfigMap")[f"{NAMESPACE}/gateway-config"]["data"]["nginx.conf"]
    for name, port in (("loki", 3100), ("tempo", 3200), ("pyroscope", 4040)):
        assert f"listen {port} ssl;" in config and f"auth_basic_user_file /run/secrets/htpasswd-{name};" in config
    assert "proxy_pass https://loki:3100;" in config and "proxy_ssl_verify on;" in config
    # The probe authenticates (the header from its secret file), so a broken htpasswd file shows.
    probe = container["livenessProbe"]["exec"]["command"][2]
    assert "/run/secrets/health_authorization" in probe and "https://127.0.0.1:3100/gateway/healthy" in probe


def test_grafana_reaches_the_three_through_the_gateway_with_credentials(previews):
    datasources = _resources(previews["prod"], "dataSource:DataSource")
    for name, port in (("loki", 3100), ("tempo", 3200), ("pyroscope", 4040)):
        inputs = datasources[name]["inputs"]
        assert inputs["url"] == f"https://gateway.{NAMESPACE}.svc:{port}", name
        assert inputs["basicAuthEnabled"] is True and inputs["basicAuthUsername"] == "monitoring"
        assert json.loads(inputs["jsonDataEncoded"])["serverName"] == "gateway"
    assert json.loads(datasources["tempo"]["inputs"]["jsonDataEncoded"])["streamingEnabled"] == {"search": False}


def test_the_collector_and_the_api_push_and_read_through_the_gateway(previews):
    documents = manifests(previews["prod"])
    alloy = of_kind(documents, "ConfigMap")["monitoring-host/alloy-config"]["data"]["config.alloy"]
    for url in ('"https://gateway:3100/loki/api/v1/push"', '"https://gateway:4040"'):
        block = alloy[alloy.index(url):alloy.index(url) + 400]
        assert 'server_name = "gateway"' in block and 'password_file = "/run/secrets/web_client_password"' in block
    # The agents' namespace reaches the gateway by its short name, as the rendered config says.
    assert of_kind(documents, "Service")["monitoring-host/gateway"]["spec"]["type"] == "ExternalName"
    api = of_kind(documents, "Deployment")[f"{NAMESPACE}/monitoring-api"]
    args = api["spec"]["template"]["spec"]["containers"][0]["args"]
    for name, port in (("loki", 3100), ("tempo", 3200), ("pyroscope", 4040)):
        assert args[args.index(f"--{name}") + 1] == f"https://gateway:{port}"
        assert ["--client-auth", name] in [args[i:i + 2] for i in range(len(args) - 1)]


def _ingress_sources(policy: dict) -> set[tuple[str, int]]:
    return {(peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name", "*"), port["port"])
            for rule in policy["spec"]["ingress"] for peer in rule.get("from", [{}]) for port in rule["ports"]}


def test_on_a_cluster_the_three_admit_only_the_gateway_prometheus_and_the_collector(previews):
    policies = of_kind(manifests(previews["prod"]), "NetworkPolicy")
    assert _ingress_sources(policies[f"{NAMESPACE}/loki"]) == {("gateway", 3100), ("prometheus", 3100), ("alloy", 3100)}
    assert _ingress_sources(policies[f"{NAMESPACE}/tempo"]) == {("gateway", 3200), ("prometheus", 3200),
                                                                ("alloy", 3200), ("alloy", 4317)}
    assert _ingress_sources(policies[f"{NAMESPACE}/pyroscope"]) == {("gateway", 4040), ("prometheus", 4040),
                                                                    ("alloy", 4040)}
    gateway = _ingress_sources(policies[f"{NAMESPACE}/gateway"])
    assert {("grafana", 3100), ("grafana", 3200), ("grafana", 4040), ("alloy", 3100), ("alloy", 4040),
            ("monitoring-api", 3100)} <= gateway
    # Applications push profiles with an SDK: through the gateway, with credentials.
    assert ("*", 4040) in gateway


@pytest.fixture(scope="module")
def docker_with_auth(tmp_path_factory):
    return preview_with(tmp_path_factory.mktemp("gateway-docker"), "staging", {"monitoring:security": {
        "tls": {"mode": "generated"}, "auth": {"enabled": True, "users": [{"name": "alice", "services": ["loki"]}]}}})


def test_on_docker_lokis_host_port_is_the_gateways(docker_with_auth):
    containers = _resources(docker_with_auth, "container:Container")
    assert not containers["loki"]["inputs"].get("ports")
    [published] = [port for port in containers["gateway"]["inputs"]["ports"] if port.get("external")]
    assert published["internal"] == 3100 and published["ip"] == "127.0.0.1"
    assert docker_with_auth.outputs["loki_url"] == f"https://127.0.0.1:{published['external']}"
    uploads = {u["file"]: u["content"] for u in containers["gateway"]["inputs"]["uploads"]}
    assert uploads["/run/secrets/htpasswd-loki"] == "[secret]"


def test_without_authentication_there_is_no_gateway(previews):
    assert "gateway" not in _resources(previews["staging"], "container:Container")
    datasources = _resources(previews["staging"], "dataSource:DataSource")
    assert datasources["loki"]["inputs"]["url"].startswith("http://loki:")
