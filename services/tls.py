"""TLS and authentication added to the services' descriptions (security.tls, security.auth).

A service that serves TLS gets its certificate and key (and, for exporter-toolkit servers, its web
configuration) as secret files and the flag that reads them; a client gets the CA and the client
user's password; health checks probe over HTTPS with the Authorization header read from a file at
run time. The files' contents are secrets the program derives (components/certificates.py).
"""

from __future__ import annotations

import dataclasses

from render.tls_clients import (
    HEALTH_AUTHORIZATION_SECRET,
    cert_secret,
    client_secret_files,
    key_secret,
    requires_auth,
    server_name,
    serves_tls,
    web_config_secret,
)
from render.prometheus_proxy import ProxyTls
from render.web_config import (
    CA_FILE,
    CERT_FILE,
    HEALTH_AUTHORIZATION_FILE,
    KEY_FILE,
    SECRETS_DIR,
    WEB_CONFIG_FILE,
    auth_on,
    serves_web_config,
    web_config_flag,
)
from services.spec import HttpHealthCheck, SecretFile, ServiceSpec
from settings.model import StackSettings

# Stack services (by ServiceSpec name) that call other services of the stack.
CLIENTS = ("prometheus", "prometheus-proxy", "grafana", "loki", "alloy", "promtail", "blackbox-exporter", "tempo", "gateway")
PROXY = "prometheus-proxy"
# The gateway in front of Loki, Tempo and Pyroscope checks its callers' credentials itself (render/gateway.py).
GATEWAY = "gateway"


def proxy_tls(settings: StackSettings) -> ProxyTls | None:
    """The read-only proxy's TLS (its own certificate, Prometheus checked by name), when TLS is on."""
    if not serves_tls(settings, PROXY):
        return None
    return ProxyTls(
        cert_file=f"{SECRETS_DIR}/{CERT_FILE}",
        key_file=f"{SECRETS_DIR}/{KEY_FILE}",
        ca_file=f"{SECRETS_DIR}/{CA_FILE}",
        upstream_name=server_name(settings, "prometheus"),
    )


def _added(spec: ServiceSpec, files: list[SecretFile]) -> tuple[SecretFile, ...]:
    present = {f.file_name for f in spec.secret_files}
    return spec.secret_files + tuple(f for f in files if f.file_name not in present)


def secured(settings: StackSettings, spec: ServiceSpec, key: str) -> ServiceSpec:
    """`spec` serving TLS (and basic auth) as the settings say; `key` is its name in the settings
    (`prometheus`, `node`, ...). Unchanged with TLS off."""
    files: list[SecretFile] = []
    command = spec.command
    health = spec.health
    if serves_tls(settings, key):
        files += [SecretFile(cert_secret(spec.name), CERT_FILE), SecretFile(key_secret(spec.name), KEY_FILE)]
        health = dataclasses.replace(health, scheme="https")
    if serves_web_config(settings, key):
        files.append(SecretFile(web_config_secret(spec.name), WEB_CONFIG_FILE))
        command = command + web_config_flag(settings, key)
    # The proxy in front of Prometheus passes its probe's credentials through to Prometheus.
    if requires_auth(settings, key) and key != "grafana" or (key in (PROXY, GATEWAY) and auth_on(settings)):
        files.append(SecretFile(HEALTH_AUTHORIZATION_SECRET, HEALTH_AUTHORIZATION_FILE))
        health = dataclasses.replace(health, authorization_file=f"{SECRETS_DIR}/{HEALTH_AUTHORIZATION_FILE}")
    if spec.name in CLIENTS:
        files += [SecretFile(secret_key, file_name) for secret_key, file_name in client_secret_files(settings)]
    if not files:
        return spec
    return dataclasses.replace(spec, command=command, health=health, secret_files=_added(spec, files))


def python_probe_command(health: HttpHealthCheck) -> tuple[str, ...]:
    """The health probe of a python image (no wget): urllib, over HTTPS without checking the
    certificate (it dials its own loopback, as the wget probe does) and with the Authorization
    header read from its secret file when the probe runs - no credential in the definition."""
    url = f"{health.scheme}://127.0.0.1:{health.port}{health.path}"
    if health.scheme == "http" and health.authorization_file is None:
        return ("python", "-c", f"import urllib.request; urllib.request.urlopen('{url}', timeout={health.timeout_s})")
    lines = ["import ssl, urllib.request"]
    headers = "{}"
    if health.authorization_file:
        lines.append(f"auth = open('{health.authorization_file}').read().strip()")
        headers = "{'Authorization': auth}"
    context = ""
    if health.scheme == "https":
        lines.append("context = ssl.create_default_context(); context.check_hostname = False; "
                     "context.verify_mode = ssl.CERT_NONE")
        context = ", context=context"
    lines.append(f"urllib.request.urlopen(urllib.request.Request('{url}', headers={headers}), "
                 f"timeout={health.timeout_s}{context})")
    return ("python", "-c", "; ".join(lines))


def probe_shell_command(health: HttpHealthCheck, wget: str = "wget") -> str | None:
    """The health probe as one shell command when it needs HTTPS or credentials; None for plain HTTP.

    busybox wget (the images' own, or the probe kit's) does not verify certificates; the probe dials
    the service's own loopback, so there is nothing to verify. The Authorization header is read
    from its secret file when the probe runs: no credential in the container's or pod's definition."""
    if health.scheme == "http" and health.authorization_file is None:
        return None
    header = f' --header "Authorization: $(cat {health.authorization_file})"' if health.authorization_file else ""
    no_check = " --no-check-certificate" if health.scheme == "https" else ""
    return f"{wget} -q -O /dev/null -T {health.timeout_s}{no_check}{header} {health.url}"
