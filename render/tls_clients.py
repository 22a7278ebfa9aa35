"""The client side of TLS and authentication: which of the stack's services serve HTTPS, the names
their certificates carry on each platform, and what each client in the stack is given to reach them
(Prometheus' scrape, alerting and remote-write HTTP client configuration, URLs with their scheme).

Clients verify every certificate against the stack's CA by the service's own name (`server_name`),
whatever address they dial: a pod IP found by Kubernetes discovery, the Docker network gateway of
the host-network node exporter, or 127.0.0.1 in the tests.
"""

from __future__ import annotations

from typing import Any

from render.kubernetes_sd import namespace_of
from render.web_config import CA_FILE, CLIENT_PASSWORD_FILE, SECRETS_DIR, auth_on, reads_web_config, tls_on
from services.high_availability import peer_service
from services.topology import EXPORTER_ALIASES, Endpoint
from settings.model import StackSettings

# Stack services that serve HTTPS when TLS is on, besides the exporter-toolkit ones: Grafana
# (grafana.ini `protocol = https`), Loki (its server's `http_tls_config`) and the nginx proxy
# publishing Prometheus (render/prometheus_proxy.py), the monitoring API (uvicorn's
# ssl_certfile/ssl_keyfile, services/api.py), and the gateway in front of Loki, Tempo and Pyroscope
# (render/gateway.py; it exists only with security.auth on), and the collector Grafana Alloy (its
# `http` block: UI, /metrics, /-/ready and pprof on its one port; logs/alloy.py `http_block`).
OWN_TLS_SERVICES = ("grafana", "loki", "prometheus-proxy", "monitoring-api", "gateway", "alloy")

# Exporters serving TLS and one basic-auth user through flags of their own (no web configuration
# file): redis_exporter v1.88.0 (`--tls-server-cert-file`, `--basic-auth-username`, ...; services/exporters.py).
FLAG_TLS_EXPORTERS = ("redis",)


def service_name(key: str) -> str:
    """The stack service behind a key: exporters by their service name (`node` -> `node-exporter`)."""
    if key == "node":
        return "node-exporter"
    return EXPORTER_ALIASES.get(key, key)


def serves_tls(settings: StackSettings, key: str) -> bool:
    return tls_on(settings) and (reads_web_config(key) or key in OWN_TLS_SERVICES or key in FLAG_TLS_EXPORTERS)


# Services outside exporter-toolkit whose every path asks for the client user (security.auth):
# redis_exporter (above) and Alloy (`http { auth { basic ... } }`, logs/alloy.py `http_block`).
# Their health checks send the header from its file like the web-config servers' (services/tls.py).
CLIENT_USER_SERVICES = (*FLAG_TLS_EXPORTERS, "alloy")


def requires_auth(settings: StackSettings, key: str) -> bool:
    """Basic authentication: every exporter-toolkit service, Grafana's /metrics, redis_exporter and Alloy."""
    return auth_on(settings) and (reads_web_config(key) or key == "grafana" or key in CLIENT_USER_SERVICES)


def scheme(settings: StackSettings, key: str) -> str:
    return "https" if serves_tls(settings, key) else "http"


def service_url(settings: StackSettings, endpoint: Endpoint, key: str) -> str:
    return f"{scheme(settings, key)}://{endpoint.address}"


def server_name(settings: StackSettings, key: str) -> str:
    """The name a client checks the service's certificate for: the service's short name, which its
    certificate carries on every platform (so prometheus.yml stays the same on both but for discovery)."""
    return service_name(key)


def certificate_names(settings: StackSettings, service: str) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) of a service's certificate: every name it is reached by on its
    platform - the Docker network alias (and the gateway address of host-network agents), or the
    Kubernetes Service's names and each StatefulSet pod's stable peer name -, the host address a
    Docker host publishes it on, and `security.tls.extra_dns_names`. Health checks dial loopback
    without checking names, so loopback is named only where users reach a published port."""
    dns = [service]
    ips: list[str] = []
    if settings.platform == "docker" and _published_on_host(settings, service):
        bind = str(settings.exposure.bind_address)
        dns.append("localhost")
        ips += ["127.0.0.1"] + ([bind] if bind not in ("0.0.0.0", "127.0.0.1") else [])
    if settings.platform == "kubernetes":
        namespace = namespace_of(settings, service)
        for suffix in ("", ".cluster.local"):
            dns += [f"{service}.{namespace}.svc{suffix}", f"*.{peer_service(service)}.{namespace}.svc{suffix}"]
        dns.append(f"{service}.{namespace}")
    elif service == "node-exporter":
        ips.append(settings.docker.gateway)
    if service == "grafana" and settings.platform == "kubernetes":
        # Pulumi reaches Grafana at grafana.url: the ingress host, or a `kubectl port-forward` on loopback.
        dns += [settings.kubernetes.ingress.host] if settings.kubernetes.ingress else []
        dns.append("localhost")
        ips.append("127.0.0.1")
    if service == "monitoring-api" and settings.platform == "kubernetes":
        # Users reach the API through `kubectl port-forward svc/monitoring-api` on loopback.
        dns.append("localhost")
        ips.append("127.0.0.1")
    dns += [name for name in settings.security.tls.extra_dns_names if name not in dns]
    return dns, ips


def _published_on_host(settings: StackSettings, service: str) -> bool:
    # Prometheus is published through its proxy (services/core.py), never itself.
    if service == "prometheus-proxy":
        return settings.host_port("prometheus") is not None
    # With security.auth, Loki's host port is the gateway's (render/gateway.py).
    if service == "gateway":
        return auth_on(settings) and settings.host_port("loki") is not None
    if service == "loki" and auth_on(settings):
        return False
    if service == "monitoring-api":
        return settings.host_port("api") is not None
    return service != "prometheus" and service in ("grafana", "loki", "alertmanager") and settings.host_port(service) is not None


def prometheus_client(settings: StackSettings, key: str, secrets_dir: str = SECRETS_DIR) -> dict[str, Any]:
    """The fields a Prometheus scrape job, alertmanager or remote_write entry needs to reach `key`:
    scheme, the CA and the expected name, and the client user's credentials (read from a file)."""
    if not serves_tls(settings, key):
        return {}
    client: dict[str, Any] = {
        "scheme": "https",
        "tls_config": {"ca_file": f"{secrets_dir}/{CA_FILE}", "server_name": server_name(settings, key)},
    }
    if requires_auth(settings, key):
        client["basic_auth"] = {
            "username": settings.security.auth.client_user,
            "password_file": f"{secrets_dir}/{CLIENT_PASSWORD_FILE}",
        }
    return client


def remote_write_client(settings: StackSettings, key: str, secrets_dir: str = SECRETS_DIR) -> dict[str, Any]:
    """A remote-write client's fields (no `scheme`: the URL carries it)."""
    return {name: value for name, value in prometheus_client(settings, key, secrets_dir).items() if name != "scheme"}


def client_secret_files(settings: StackSettings) -> list[tuple[str, str]]:
    """(secret key, file name) every client in the stack needs: the CA, and the client password."""
    files: list[tuple[str, str]] = []
    if tls_on(settings):
        files.append((CA_SECRET, CA_FILE))
    if auth_on(settings):
        files.append(("web_client_password", CLIENT_PASSWORD_FILE))
    return files


# Keys of the secrets the program derives itself (components/certificates.py), next to the
# configured ones in the mapping every platform delivers secret files from.
CA_SECRET = "tls.ca.crt"


def cert_secret(service: str) -> str:
    return f"tls.{service}.crt"


def key_secret(service: str) -> str:
    return f"tls.{service}.key"


def web_config_secret(service: str) -> str:
    return f"web-config.{service}"


HEALTH_AUTHORIZATION_SECRET = "health-authorization"


def basic_auth_hash_secret(service: str) -> str:
    """The client user's bcrypt hash, for a server that takes one hash and no file (redis_exporter)."""
    return f"basic-auth-hash.{service}"


def with_scheme(settings: StackSettings, url: str, key: str) -> str:
    """`url` (rendered `http://...` by the topology) with the scheme `key` serves."""
    return scheme(settings, key) + "://" + url.split("://", 1)[1]
