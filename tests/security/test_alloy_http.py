"""Alloy's own server (port 12345: UI, /metrics, /-/ready, pprof) behind TLS and the client user.

What v1.11.3 accepts and does is read from its source (logs/upstream/alloy-v1.11.3-http-block.md):
`http { tls {...} auth { basic {...} filter {...} } }`, TLS on the whole port, every path behind
`basic` unless a filter exempts it, `password` a `secret` that `sys.env(...)` may fill. These tests
check the rendering (pure functions), every client of that server, and the prod and Docker previews.
"""

from __future__ import annotations

import json

from logs.alloy import render_alloy_config
from logs.alloy_syntax import Block, Call, parse
from platforms.docker import health_test
from platforms.kubernetes_objects import probes
from render.prometheus import render_prometheus_config
from render.tls_clients import certificate_names
from services.core import core_services
from services.topology import CONTAINER_PORTS, internal_endpoints
from tests.kubernetes.platform_support import manifests, of_kind, preview_with
from tests.security.test_render import ON, cluster_settings, settings
from tests.traces.test_collector_signals import INVENTORY, unknown

PORT = CONTAINER_PORTS["alloy"]
TLS_ONLY = {"tls": ON["tls"]}
# The `http` block's keys as v1.11.3's Go structs tag them (internal/service/http/http.go:64-67,
# auth.go:15-28, tls.go:17-54; see logs/upstream/alloy-v1.11.3-http-block.md): the vendored
# inventory, extracted from the docs, must say the same.
SOURCE_HTTP_KEYS = {
    "": [],
    "auth": [],
    "auth/basic": ["password", "username"],
    "auth/filter": ["authenticate_matching_paths", "paths"],
    "tls": ["cert_file", "cert_pem", "cipher_suites", "client_auth_type", "client_ca_file", "client_ca_pem",
            "curve_preferences", "key_file", "key_pem", "max_version", "min_version"],
    "tls/windows_certificate_filter": [],
    "tls/windows_certificate_filter/client": ["issuer_common_names", "subject_regex", "template_id"],
    "tls/windows_certificate_filter/server": ["issuer_common_names", "refresh_interval", "store", "system_store",
                                              "template_id"],
}


def config_blocks(value) -> list[Block]:
    return parse(render_alloy_config(value, internal_endpoints(value), PORT))


def http_blocks(value) -> list[Block]:
    """The top-level `http` blocks (the trace receivers' nested `http` blocks are other listeners)."""
    return [block for block in config_blocks(value) if block.name == "http"]


def _names(block: Block) -> set[str]:
    """The names of every block nested in `block`."""
    return {name for inner in block.blocks for name in {inner.name} | _names(inner)}


def child(block: Block, name: str) -> Block:
    [found] = block.children(name)
    return found


# --- the rendering ----------------------------------------------------------------------------


def test_alloys_server_serves_tls_and_asks_every_path_for_the_client_user_only_when_security_says_so():
    """Off: no `http` block (Alloy's plain default). TLS: the collector's certificate, TLS 1.2 or
    later, no `auth`. TLS and auth: `auth > basic` with the client user, the password from the
    environment, and a filter that authenticates every path (an empty `filter {}` would authenticate
    none: Alloy defaults `authenticate_matching_paths` only inside a written block).

    Mutations checked: `http_block` returning nothing (TLS case fails); `auth` rendered without
    `requires_auth` (TLS-only case fails); the `filter` block dropped or left with `paths = []`;
    `authenticate_matching_paths = false`; `min_version` dropped; a literal password."""
    assert http_blocks(settings()) == []
    assert http_blocks(settings({"tls": {"mode": "off"}})) == []

    [server] = http_blocks(settings(TLS_ONLY))
    assert [b.name for b in server.blocks] == ["tls"] and server.attributes == {}
    assert child(server, "tls").attributes == {
        "cert_file": "/run/secrets/tls.crt", "key_file": "/run/secrets/tls.key", "min_version": "TLS12"}

    for value in (settings(ON), cluster_settings()):
        [server] = http_blocks(value)
        assert [b.name for b in server.blocks] == ["tls", "auth"]
        auth = child(server, "auth")
        assert child(auth, "basic").attributes == {
            "username": "monitoring", "password": Call("sys.env", ("WEB_CLIENT_PASSWORD",))}
        assert child(auth, "filter").attributes == {"paths": ["/"], "authenticate_matching_paths": True}


def test_the_http_block_uses_only_keys_alloy_1_11_3_has_and_the_inventory_says_what_its_source_does():
    """The vendored inventory's `http` entry is the source's struct tags, and the inventory check
    walks the rendered `http` block like any component (tests/traces/test_collector_signals.py).

    Mutations checked: the `http` entry removed from the inventory (the block is then unknown); a
    key renamed in the rendering (`min_version` -> `tls_min_version`) or a file option Alloy lacks
    (`password_file`) is caught; an inventory entry differing from the source fails the first assert."""
    assert INVENTORY["http"] == SOURCE_HTTP_KEYS
    for value in (settings(TLS_ONLY), settings(ON), cluster_settings()):
        assert unknown(http_blocks(value)) == []
    [server] = http_blocks(settings(ON))
    child(server, "tls").attributes["tls_min_version"] = "TLS12"
    child(child(server, "auth"), "basic").attributes["password_file"] = "/run/secrets/web_client_password"
    server.blocks.append(Block("cors"))
    assert unknown([server]) == ["http: tls.tls_min_version", "http: auth/basic.password_file", "http: block cors"]


def test_the_password_is_never_in_the_config_only_the_variable_the_secret_sets():
    """config.alloy names the variable; the service sets exactly that variable from the
    `web_client_password` secret, and only with auth on.

    Mutations checked: `secret_env` not passed to the Alloy spec; a different variable name in the
    config than in the spec; the variable set with TLS alone."""
    value = settings(ON)
    spec = core_services(value)["alloy"]
    [config] = [f.content for f in spec.files if f.relpath == "config.alloy"]
    assert spec.secret_env == {"WEB_CLIENT_PASSWORD": "web_client_password"}
    assert 'password = sys.env("WEB_CLIENT_PASSWORD")' in config
    assert "WEB_CLIENT_PASSWORD" not in spec.env
    tls_only = core_services(settings(TLS_ONLY))["alloy"]
    assert tls_only.secret_env == {} and "sys.env(\"WEB_CLIENT_PASSWORD\")" not in tls_only.files[0].content


# --- its clients --------------------------------------------------------------------------------


def test_prometheus_and_the_collectors_self_profiling_reach_it_with_the_ca_its_name_and_the_client_user():
    """Prometheus' `alloy` job and the collector's scrape of its own pprof (127.0.0.1, checked for
    the name `alloy`), on Docker and on a cluster; with TLS alone, no credential. The trace
    receivers stay plain (applications send there).

    Mutations checked: "alloy" out of OWN_TLS_SERVICES (the job and the profile scrape stay http);
    "alloy" out of CLIENT_USER_SERVICES (no `basic_auth`, and no `auth` block either)."""
    client = {"scheme": "https", "tls_config": {"ca_file": "/run/secrets/ca.crt", "server_name": "alloy"},
              "basic_auth": {"username": "monitoring", "password_file": "/run/secrets/web_client_password"}}
    for value, label in ((settings(ON), "stack_alloy"), (cluster_settings(), "self")):
        jobs = {job["job_name"]: job for job in render_prometheus_config(value, internal_endpoints(value))["scrape_configs"]}
        assert {key: jobs["alloy"].get(key) for key in client} == client
        scrapes = {b.label: b for b in config_blocks(value) if b.name == "pyroscope.scrape"}
        scrape = scrapes[label]
        assert scrape.attributes["targets"] == [{"__address__": f"127.0.0.1:{PORT}", "service_name": "alloy"}]
        assert scrape.attributes["scheme"] == "https"
        assert {b.name: b.attributes for b in scrape.blocks if b.name != "profiling_config"} == {
            "tls_config": client["tls_config"], "basic_auth": client["basic_auth"]}
        receivers = [b for b in config_blocks(value) if b.name.startswith("otelcol.receiver.")]
        assert receivers and not any(_names(receiver) & {"tls", "auth"} for receiver in receivers)
    tls_only = settings(TLS_ONLY)
    jobs = {job["job_name"]: job for job in render_prometheus_config(tls_only, internal_endpoints(tls_only))["scrape_configs"]}
    assert jobs["alloy"]["scheme"] == "https" and "basic_auth" not in jobs["alloy"]


def test_its_health_checks_follow_tls_and_send_the_header_from_its_file():
    """Docker: the probe kit's busybox wget over HTTPS, the Authorization header read from the secret
    file when the probe runs. Kubernetes: the image has no HTTP client, so behind auth the probe is a
    TCP probe (as for dcgm-exporter and redis_exporter; v1.11.3 opens the port only after its first
    load, and /-/ready is 200 from then on, so it tells as much); with TLS alone an HTTPS httpGet.

    Mutations checked: "alloy" out of CLIENT_USER_SERVICES (no header: /-/ready would answer 401);
    "alloy" out of OWN_TLS_SERVICES (http probe against a TLS port)."""
    spec = core_services(settings(ON))["alloy"]
    assert spec.health.scheme == "https" and spec.health.authorization_file == "/run/secrets/health_authorization"
    docker = health_test(spec)
    assert docker[:3] == ["CMD", "/opt/probe-kit/busybox", "sh"]
    assert f"https://127.0.0.1:{PORT}/-/ready" in docker[-1] and "$(cat /run/secrets/health_authorization)" in docker[-1]
    assert probes(spec)["readinessProbe"]["tcpSocket"] == {"port": PORT}
    tls_only = core_services(settings(TLS_ONLY))["alloy"]
    assert tls_only.health.authorization_file is None
    assert probes(tls_only)["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": PORT, "scheme": "HTTPS"}
    assert "--no-check-certificate" in health_test(tls_only)[-1] and "Authorization" not in health_test(tls_only)[-1]


def test_alloy_gets_its_certificate_key_and_header_as_secret_files_with_its_names_on_each_platform():
    """Mutations checked: "alloy" out of OWN_TLS_SERVICES (no certificate files); the DaemonSet's
    namespace missing from its certificate's names."""
    files = {(f.secret_key, f.file_name) for f in core_services(settings(ON))["alloy"].secret_files}
    assert {("tls.alloy.crt", "tls.crt"), ("tls.alloy.key", "tls.key"), ("health-authorization", "health_authorization"),
            ("tls.ca.crt", "ca.crt"), ("web_client_password", "web_client_password")} <= files
    assert certificate_names(settings(ON), "alloy") == (["alloy"], [])
    cluster = cluster_settings()
    dns, _ = certificate_names(cluster, "alloy")
    assert {"alloy", f"alloy.{cluster.kubernetes.agents_namespace}.svc"} <= set(dns)


# --- previews -----------------------------------------------------------------------------------


def test_the_prod_preview_certifies_alloy_and_hands_it_the_password_only_through_its_secret(previews):
    """The prod preview (Kubernetes, TLS generated, auth on): Alloy's certificate from the stack's CA,
    its Secret in the agents' namespace, the password as an environment variable from that Secret
    only, config.alloy naming the variable, Prometheus' job over HTTPS with the CA, the name and the
    client user, and the probes on its port.

    Mutations checked: "alloy" out of OWN_TLS_SERVICES (no certificate, http job); `secret_env` not
    set (no env var: Alloy would check an empty password); "alloy" out of CLIENT_USER_SERVICES."""
    preview = previews["prod"]
    namespace = "monitoring-host"
    csr = next(r for r in preview.resources if r["name"] == "alloy-csr-1")
    assert {"alloy", f"alloy.{namespace}.svc"} <= set(csr["inputs"]["dnsNames"])
    assert any(r["name"] == "alloy-cert-1" for r in preview.resources)
    documents = manifests(preview)
    secret = of_kind(documents, "Secret")[f"{namespace}/alloy-secrets"]
    assert {"tls.alloy.crt", "tls.alloy.key", "web_client_password", "health-authorization"} <= set(secret["stringData"])
    assert set(secret["stringData"].values()) == {"[secret]"}
    daemonset = of_kind(documents, "DaemonSet")[f"{namespace}/alloy"]
    [container] = daemonset["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item for item in container["env"]}
    assert env["WEB_CLIENT_PASSWORD"] == {"name": "WEB_CLIENT_PASSWORD", "valueFrom": {
        "secretKeyRef": {"name": "alloy-secrets", "key": "web_client_password"}}}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["tcpSocket"] == {"port": PORT}, probe
    config = of_kind(documents, "ConfigMap")[f"{namespace}/alloy-config"]["data"]["config.alloy"]
    assert 'password = sys.env("WEB_CLIENT_PASSWORD")' in config and 'cert_file = "/run/secrets/tls.crt"' in config
    prometheus = of_kind(documents, "ConfigMap")["monitoring/prometheus-config"]["data"]["prometheus.yml"]
    import yaml

    [job] = [j for j in yaml.safe_load(prometheus)["scrape_configs"] if j["job_name"] == "alloy"]
    assert job["scheme"] == "https" and job["tls_config"] == {"ca_file": "/run/secrets/ca.crt", "server_name": "alloy"}
    assert job["basic_auth"] == {"username": "monitoring", "password_file": "/run/secrets/web_client_password"}
    text = json.dumps(documents) + json.dumps(preview.resources)
    assert "placeholder-web_client_password" not in text


def test_a_docker_preview_with_tls_and_auth_uploads_alloys_files_and_probes_with_the_header(tmp_path):
    """Docker: the certificate, key and header file uploaded as secrets, the password variable a
    secret input, the health check reading the header over HTTPS, and no password in config.alloy.

    Mutations checked: "alloy" out of OWN_TLS_SERVICES or CLIENT_USER_SERVICES; `secret_env` dropped
    (envs no longer secret)."""
    preview = preview_with(tmp_path, "staging", {"monitoring:security": ON})
    alloy = next(r for r in preview.resources if r["type"] == "docker:index/container:Container" and r["name"] == "alloy")
    uploads = {u["file"]: u["content"] for u in alloy["inputs"]["uploads"]}
    for name in ("tls.crt", "tls.key", "health_authorization", "ca.crt", "web_client_password"):
        assert uploads[f"/run/secrets/{name}"] == "[secret]", name
    assert 'password = sys.env("WEB_CLIENT_PASSWORD")' in uploads["/etc/alloy/config.alloy"]
    assert alloy["inputs"]["envs"] == ["[secret]"]
    test = alloy["inputs"]["healthcheck"]["tests"][-1]
    assert f"https://127.0.0.1:{PORT}/-/ready" in test and "$(cat /run/secrets/health_authorization)" in test
    assert "placeholder-web_client_password" not in json.dumps(preview.resources)
