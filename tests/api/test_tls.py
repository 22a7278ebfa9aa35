"""The monitoring API serving HTTPS when `security.tls` is on: `python -m api` started with a
certificate from a test CA (tests/security/certs.py, the names the program gives the API) refuses
plain HTTP and TLS below 1.2, and answers over HTTPS verified against the CA by its name; the
service description delivers its certificate and key, probes over HTTPS, Prometheus scrapes it with
the CA and its name, and its certificate covers how it is reached.

Mutations checked (each fails a test here): `--tls-cert-file`/`--tls-key-file` not passed to uvicorn
(plain HTTP answers), the minimum TLS version lowered (`minimum_version` set below 1.2: the
context check; deleting the explicit line does not fail, since Python 3.10+ server contexts default to
TLS 1.2 too - the test pins the outcome, whichever sets it; a live TLS 1.1 handshake must fail as well), `monitoring-api` taken out of `OWN_TLS_SERVICES` (no
certificate, http scrape, http health check), `_published_on_host` not naming the API (no
127.0.0.1/localhost in its certificate), the health command left on http, the API's specs left out
of StackCredentials (no certificate resource in the prod preview).
"""

from __future__ import annotations

import ssl
import subprocess
import sys

import httpx
import pytest
import yaml

from render.tls_clients import CA_SECRET, cert_secret, certificate_names, key_secret
from services.api import NAME, api_services
from services.cluster import for_platform
from services.core import core_services
from services.topology import internal_endpoints
from settings import parse_settings
from tests.api.support import READ_TOKEN
from tests.e2e.procs import free_port, wait_until
from tests.kubernetes.k8s_render import raw_on_platform
from tests.security.certs import LocalCa

IMAGE = "monitoring-api:test"
TLS = {"tls": {"mode": "generated"}}


def _settings(platform: str, publish: bool = True):
    raw = {"api": {"enabled": True}, "security": TLS}
    if publish:
        raw["exposure"] = {"publish": ["grafana", "prometheus", "loki", "alertmanager", "api"]}
    return parse_settings(raw_on_platform(raw, platform), "staging")


def test_the_service_serves_its_own_certificate_and_is_scraped_over_https():
    settings = _settings("docker")
    spec = api_services(settings, internal_endpoints(settings), IMAGE)[NAME]
    command = " ".join(spec.command)
    assert "--tls-cert-file /run/secrets/tls.crt --tls-key-file /run/secrets/tls.key" in command
    files = {f.secret_key: f.file_name for f in spec.secret_files}
    assert files[cert_secret(NAME)] == "tls.crt" and files[key_secret(NAME)] == "tls.key" and files[CA_SECRET] == "ca.crt"
    assert spec.health.scheme == "https" and spec.health.url.startswith("https://")
    probe = " ".join(spec.health_command)
    assert "https://127.0.0.1:8080/monitoring/healthz" in probe and "cafile='/run/secrets/ca.crt'" in probe
    prometheus = yaml.safe_load(core_services(settings)["prometheus"].file("prometheus.yml").content)
    job = next(job for job in prometheus["scrape_configs"] if job["job_name"] == NAME)
    assert job["scheme"] == "https"
    assert job["tls_config"] == {"ca_file": "/run/secrets/ca.crt", "server_name": NAME}
    assert "basic_auth" not in job  # the API's /metrics is unauthenticated
    # Off: plain HTTP, no certificate.
    off = parse_settings(raw_on_platform({"api": {"enabled": True}}, "docker"), "staging")
    plain = api_services(off, internal_endpoints(off), IMAGE)[NAME]
    assert "--tls-cert-file" not in plain.command and plain.health.scheme == "http"
    assert "http://127.0.0.1:8080" in " ".join(plain.health_command)


def test_certificate_names_cover_how_it_is_reached():
    dns, ips = certificate_names(_settings("docker"), NAME)
    assert {NAME, "localhost"} <= set(dns) and "127.0.0.1" in ips
    assert certificate_names(_settings("docker", publish=False), NAME) == ([NAME], [])
    dns, ips = certificate_names(_settings("kubernetes"), NAME)
    assert {NAME, f"{NAME}.monitoring.svc", f"{NAME}.monitoring.svc.cluster.local", "localhost"} <= set(dns)
    assert "127.0.0.1" in ips  # kubectl port-forward
    k8s = _settings("kubernetes")
    spec = for_platform(k8s, api_services(k8s, internal_endpoints(k8s), IMAGE))[NAME]
    assert spec.health.scheme == "https"  # an HTTPS httpGet probe on a cluster


def test_prod_preview_issues_the_api_certificate(previews):
    preview = previews["prod"]
    names = {r["name"] for r in preview.resources if r["type"].startswith("tls:")}
    assert any(name.startswith(f"{NAME}-key-") for name in names), sorted(names)
    assert any(name.startswith(f"{NAME}-cert-") or name.startswith(f"{NAME}-csr-") for name in names), sorted(names)
    # The stack output: the cluster-internal address, over HTTPS.
    assert preview.outputs["monitoring_api_url"].startswith(f"https://{NAME}."), preview.outputs["monitoring_api_url"]


@pytest.fixture(scope="module")
def tls_api(processes, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("api-tls")
    ca = LocalCa.create()
    (workdir / "ca.crt").write_bytes(ca.pem)
    dns, ips = certificate_names(_settings("docker"), NAME)
    ca.write_service(workdir / "server", NAME, dns, ips)
    tokens = workdir / "tokens"
    tokens.write_text(f"read {READ_TOKEN}\n")
    port = free_port()
    processes.start([sys.executable, "-m", "api", "--listen", f"127.0.0.1:{port}", "--tokens-file", str(tokens),
                     "--prometheus", "http://127.0.0.1:9", "--alertmanager", "http://127.0.0.1:9",
                     "--tls-cert-file", str(workdir / "server" / "tls.crt"),
                     "--tls-key-file", str(workdir / "server" / "tls.key")], workdir / "api.log")
    url = f"https://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/monitoring/healthz", verify=str(workdir / "ca.crt"), timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, 30, "monitoring API ready over HTTPS")
    return url, port, workdir


def test_python_m_api_serves_https_only_verified_against_the_ca(tls_api):
    url, port, workdir = tls_api
    verified = httpx.get(f"{url}/monitoring/healthz", verify=str(workdir / "ca.crt"), timeout=5)
    assert verified.status_code == 200 and verified.json()["status"] == "ok"
    # The certificate carries the name clients check (server_name) too: verify it by that name.
    context = ssl.create_default_context(cafile=str(workdir / "ca.crt"))
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=NAME) as wrapped:
            assert wrapped.version() in ("TLSv1.2", "TLSv1.3")
    # Plain HTTP on the same port: no HTTP answer.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/monitoring/healthz", timeout=5)
    # Another authority's client refuses it.
    other = LocalCa.create("another CA")
    (workdir / "other.crt").write_bytes(other.pem)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/monitoring/healthz", verify=str(workdir / "other.crt"), timeout=5)
    # Authenticated endpoints still need their token over HTTPS.
    assert httpx.get(f"{url}/monitoring/alerts", verify=str(workdir / "ca.crt"), timeout=5).status_code == 401


def test_tls_below_1_2_is_refused(tls_api):
    from api.__main__ import server_config
    from api.app import create_app
    from api.config import ApiConfig

    _, port, workdir = tls_api
    config = server_config(create_app(ApiConfig(upstreams={}, tokens=())), "127.0.0.1", 0,
                           workdir / "server" / "tls.crt", workdir / "server" / "tls.key")
    assert config.ssl.minimum_version == ssl.TLSVersion.TLSv1_2
    assert server_config(create_app(ApiConfig(upstreams={}, tokens=())), "127.0.0.1", 0).ssl is None
    # Live: a TLS 1.1 handshake fails, a TLS 1.2 one succeeds.
    probe = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_1"], input=b"",
                           capture_output=True, timeout=20)
    assert probe.returncode != 0, probe.stdout.decode()[-500:]
    modern = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2"], input=b"",
                            capture_output=True, timeout=20)
    assert modern.returncode == 0 and b"TLSv1.2" in modern.stdout, modern.stderr.decode()[-500:]
