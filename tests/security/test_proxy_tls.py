"""The published side of Prometheus with TLS and authentication on: real nginx with the rendered
proxy configuration (its own certificate; Prometheus' checked against the CA by name) in front of a
real Prometheus with the rendered web configuration. Callers authenticate to Prometheus through the
proxy; the proxy still refuses writes."""

from __future__ import annotations

import base64
import shutil
import ssl
import urllib.error
import urllib.request

import pytest
import yaml

from render.prometheus_proxy import ProxyTls, render_prometheus_proxy_config
from render.tls_clients import certificate_names
from render.web_config import CA_FILE, CERT_FILE, KEY_FILE, WEB_CONFIG_FILE, render_web_config
from services.tls import PROXY, proxy_tls
from services.topology import Endpoint
from settings import parse_settings
from tests.e2e.procs import PROMETHEUS_BINARY, Processes, free_port, wait_until
from tests.security.certs import LocalCa

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.e2e

SETTINGS = parse_settings({"security": {"tls": {"mode": "generated"}, "auth": {"enabled": True}}}, "proxy-tls")
PASSWORD = "client-secret-for-tests"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"monitoring:{PASSWORD}".encode()).decode()}


def status(url: str, context: ssl.SSLContext | None, headers: dict[str, str] | None = None, method: str = "GET") -> int:
    request = urllib.request.Request(url, headers=headers or {}, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("proxy-tls")
    ca = LocalCa.create()
    prometheus_secrets, proxy_secrets = workdir / "prometheus", workdir / "proxy"
    ca.write_service(prometheus_secrets, "prometheus", *certificate_names(SETTINGS, "prometheus"))
    ca.write_service(proxy_secrets, PROXY, *certificate_names(SETTINGS, PROXY))
    (proxy_secrets / CA_FILE).write_bytes(ca.pem)
    (workdir / "ca.crt").write_bytes(ca.pem)
    web = render_web_config(SETTINGS, "prometheus", {"monitoring": PASSWORD}, secrets_dir=str(prometheus_secrets))
    (prometheus_secrets / WEB_CONFIG_FILE).write_text(yaml.safe_dump(web))
    (workdir / "prometheus.yml").write_text(yaml.safe_dump({"global": {"scrape_interval": "1s"}}))
    rendered = proxy_tls(SETTINGS)
    # The rendered TLS settings with this test's files in place of /run/secrets.
    local = ProxyTls(str(proxy_secrets / CERT_FILE), str(proxy_secrets / KEY_FILE), str(proxy_secrets / CA_FILE),
                     rendered.upstream_name)
    prometheus_port, proxy_port = free_port(), free_port()
    (workdir / "nginx.conf").write_text(
        render_prometheus_proxy_config(Endpoint("127.0.0.1", prometheus_port), proxy_port, None, str(workdir), tls=local)
    )
    context = ssl.create_default_context(cafile=str(workdir / "ca.crt"))
    with Processes() as processes:
        processes.start([PROMETHEUS_BINARY, f"--config.file={workdir / 'prometheus.yml'}",
                         f"--storage.tsdb.path={workdir / 'data'}", f"--web.listen-address=127.0.0.1:{prometheus_port}",
                         f"--web.config.file={prometheus_secrets / WEB_CONFIG_FILE}", "--web.enable-remote-write-receiver"],
                        workdir / "prometheus.log")
        processes.start([NGINX, "-c", str(workdir / "nginx.conf"), "-p", str(workdir)], workdir / "nginx.log")
        url = f"https://127.0.0.1:{proxy_port}"
        wait_until(lambda: status(f"{url}/-/ready", context, AUTH) == 200, 30, "Prometheus ready through the TLS proxy")
        yield url, context, proxy_port, rendered


def test_the_rendered_proxy_checks_prometheus_by_its_certificates_name(proxy):
    *_, rendered = proxy
    assert rendered.upstream_name == "prometheus" and rendered.ca_file == "/run/secrets/ca.crt"


def test_callers_authenticate_to_prometheus_through_the_proxy(proxy):
    url, context, *_ = proxy
    assert status(f"{url}/api/v1/query?query=1", context, AUTH) == 200
    assert status(f"{url}/api/v1/query?query=1", context) == 401
    assert status(f"{url}/api/v1/query?query=1", context, {"Authorization": "Basic bW9uaXRvcmluZzp3cm9uZw=="}) == 401


def test_the_proxy_serves_only_tls_with_a_certificate_from_the_ca(proxy):
    url, context, port, _ = proxy
    assert status(f"http://127.0.0.1:{port}/-/ready", None, AUTH) == 400
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        status(f"{url}/-/ready", ssl.create_default_context(), AUTH)


def test_writes_are_still_refused_with_valid_credentials(proxy):
    url, context, *_ = proxy
    assert status(f"{url}/api/v1/write", context, AUTH, method="POST") == 403
