"""The prod stack as `pulumi preview` would declare it (offline, the mock engine): the CA and every
TLS service's key and certificate from the Pulumi TLS provider, delivered only through Secrets, and
the cluster objects that follow from TLS (exec probes reading the header file, the ingress speaking
HTTPS to Grafana)."""

from __future__ import annotations

import json

from tests.kubernetes.platform_support import manifests, of_kind

NAMESPACE = "monitoring"
TLS_SERVICES = {"prometheus", "alertmanager", "grafana", "loki", "pushgateway", "blackbox-exporter", "node-exporter"}


def test_the_program_generates_a_ca_and_a_certificate_per_tls_service(previews):
    resources = previews["prod"].resources
    names = {(r["type"].split(":")[-1], r["name"]) for r in resources if r["type"].startswith("tls:")}
    assert ("SelfSignedCert", "ca-1") in names and ("PrivateKey", "ca-key-1") in names
    for service in TLS_SERVICES:
        assert {("PrivateKey", f"{service}-key-1"), ("CertRequest", f"{service}-csr-1"),
                ("LocallySignedCert", f"{service}-cert-1")} <= names, service
    csr = next(r for r in resources if r["name"] == "alertmanager-csr-1")
    assert f"*.alertmanager-peers.{NAMESPACE}.svc" in csr["inputs"]["dnsNames"]
    cert = next(r for r in resources if r["name"] == "prometheus-cert-1")
    assert cert["inputs"]["caPrivateKeyPem"] == "[secret]" and cert["inputs"]["earlyRenewalHours"] == 30 * 24


def test_keys_and_web_configs_reach_pods_only_through_their_secret(previews):
    documents = manifests(previews["prod"])
    secret = of_kind(documents, "Secret")[f"{NAMESPACE}/prometheus-secrets"]
    assert {"tls.prometheus.crt", "tls.prometheus.key", "web-config.prometheus", "health-authorization", "tls.ca.crt",
            "web_client_password"} <= set(secret["stringData"])
    assert set(secret["stringData"].values()) == {"[secret]"}
    for config_map in of_kind(documents, "ConfigMap").values():
        assert "PRIVATE KEY" not in json.dumps(config_map) and "basic_auth_users" not in json.dumps(config_map)


def test_probes_and_the_ingress_follow_tls(previews):
    documents = manifests(previews["prod"])
    prometheus = of_kind(documents, "StatefulSet")[f"{NAMESPACE}/prometheus"]
    [container] = prometheus["spec"]["template"]["spec"]["containers"]
    command = container["livenessProbe"]["exec"]["command"]
    assert command[:2] == ["sh", "-c"] and "https://127.0.0.1:9090/-/ready" in command[2]
    ingress = of_kind(documents, "Ingress")[f"{NAMESPACE}/grafana"]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "HTTPS"


def test_a_docker_stack_with_tls_serves_https_and_keeps_every_credential_secret(tmp_path):
    from tests.kubernetes.platform_support import preview_with

    preview = preview_with(tmp_path, "staging", {"monitoring:security": {
        "tls": {"mode": "generated"}, "auth": {"enabled": True, "users": [{"name": "alice", "services": ["prometheus"]}]}}})
    assert preview.outputs["grafana_url"].startswith("https://") and preview.outputs["prometheus_url"].startswith("https://")
    containers = {r["name"]: r for r in preview.resources if r["type"] == "docker:index/container:Container"}
    uploads = {u["file"]: u["content"] for u in containers["prometheus"]["inputs"]["uploads"]}
    for name in ("tls.crt", "tls.key", "web-config.yml", "ca.crt", "web_client_password", "health_authorization"):
        assert uploads[f"/run/secrets/{name}"] == "[secret]", name
    assert "/run/secrets/health_authorization" in containers["prometheus"]["inputs"]["healthcheck"]["tests"][-1]
    # The placeholders the preview stands in for the passwords appear nowhere in plain text.
    text = json.dumps(preview.resources)
    assert "placeholder-web_client_password" not in text and "placeholder-alice" not in text


def test_alertmanager_gossips_over_mutual_tls_with_a_client_auth_certificate(previews):
    """The prod preview: Alertmanager's certificate alone is also valid for client authentication
    (its peers dial each other with it), its pods get cluster-tls.yml from their ConfigMap and the CA
    from their Secret, and its arguments read the file.

    Mutations checked: `client_auth` not added to Alertmanager's allowed uses (components/certificates.py);
    the CA secret file not added to Alertmanager (services/cluster.py); the mesh keeping UDP under TLS."""
    resources = previews["prod"].resources
    uses = {r["name"].removesuffix("-cert-1"): r["inputs"]["allowedUses"]
            for r in resources if r["type"] == "tls:index/locallySignedCert:LocallySignedCert"}
    assert "client_auth" in uses["alertmanager"] and "server_auth" in uses["alertmanager"]
    assert [service for service, allowed in uses.items() if "client_auth" in allowed] == ["alertmanager"]
    documents = manifests(previews["prod"])
    secret = of_kind(documents, "Secret")[f"{NAMESPACE}/alertmanager-secrets"]
    assert {"tls.alertmanager.crt", "tls.alertmanager.key", "tls.ca.crt"} <= set(secret["stringData"])
    config_map = json.dumps(of_kind(documents, "ConfigMap"))
    assert "cluster-tls.yml" in config_map and "RequireAndVerifyClientCert" in config_map
    container = of_kind(documents, "StatefulSet")[f"{NAMESPACE}/alertmanager"]["spec"]["template"]["spec"]["containers"][0]
    assert "--cluster.tls-config=/etc/alertmanager/cluster-tls.yml" in container["args"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/etc/alertmanager/cluster-tls.yml", "/run/secrets"} <= mounts, mounts
    volumes = of_kind(documents, "StatefulSet")[f"{NAMESPACE}/alertmanager"]["spec"]["template"]["spec"]["volumes"]
    items = {(i["key"], i["path"]) for v in volumes if "secret" in v for i in v["secret"]["items"]}
    assert {("tls.alertmanager.crt", "tls.crt"), ("tls.alertmanager.key", "tls.key"), ("tls.ca.crt", "ca.crt")} <= items
    # The mesh is TCP only: Service and NetworkPolicy name no UDP 9094.
    peers = of_kind(documents, "Service")[f"{NAMESPACE}/alertmanager-peers"]["spec"]["ports"]
    policy = of_kind(documents, "NetworkPolicy")[f"{NAMESPACE}/alertmanager"]["spec"]
    gossip = [p for rule in policy["ingress"] + policy["egress"] for p in rule.get("ports", []) if p.get("port") == 9094]
    assert {(p["port"], p["protocol"]) for p in peers if p["port"] == 9094} == {(9094, "TCP")}
    assert gossip and {p["protocol"] for p in gossip} == {"TCP"}
