"""The authenticating gateway in front of Loki, Tempo and Pyroscope (security.auth).

Prometheus, Alertmanager and the exporters check basic-auth users themselves (`--web.config.file`);
Loki, Tempo and Pyroscope have no users of their own. So, as Loki's own Helm chart does with its
`loki-gateway`, an nginx gateway stands in front of them when `security.auth.enabled`: one TLS
listener per service on the service's own port, basic authentication against a bcrypt htpasswd
file per service (the stack's client user, and the users whose `services` name it), and the request
passed to the service. Every client of the stack - Grafana's datasources, the collector's pushes,
the monitoring API, blackbox's probes - goes through it; on a cluster the services' NetworkPolicies
admit only the gateway and Prometheus (their /metrics) and the collector (profile scrapes).

Loki serves TLS itself, so the gateway checks its certificate against the stack's CA; Tempo and
Pyroscope serve plain HTTP on the pod network behind their policies (their HTTP ports also carry
their own modules' internal calls, which a server certificate alone would break).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from render.tls_clients import server_name, serves_tls
from render.web_config import CA_FILE, CLIENT_PASSWORD_FILE, SECRETS_DIR, auth_on, bcrypt_hash, web_users
from services.topology import CONTAINER_PORTS, Endpoint, Endpoints
from settings.model import StackSettings

GATEWAY = "gateway"
# The services the gateway fronts, in the order of their listeners.
GATED = ("loki", "tempo", "pyroscope")
# What a health check asks the gateway itself (behind the same authentication as everything else).
HEALTH_PATH = "/gateway/healthy"
# Docker's embedded DNS (see render/prometheus_proxy.py); None on a cluster, whose Service names are stable.
DOCKER_DNS = "127.0.0.11"
# Loki pushes and Pyroscope profiles arrive in one request each; Loki's own gRPC limit is 100 MB.
MAX_BODY = "64m"
# Long LogQL/TraceQL queries (the services' own query timeouts stay the real limit).
READ_TIMEOUT_S = 300


def runs(settings: StackSettings, service: str) -> bool:
    return {"loki": True, "tempo": settings.runs_traces, "pyroscope": settings.runs_profiles}[service]


def gated(settings: StackSettings, service: str) -> bool:
    """Whether clients reach `service` through the gateway (auth needs TLS: settings/security.py)."""
    return auth_on(settings) and service in GATED and runs(settings, service)


def gated_services(settings: StackSettings) -> list[str]:
    return [service for service in GATED if gated(settings, service)]


def endpoint_key(service: str) -> str:
    """The key of the gateway's listener for `service` in an `Endpoints` mapping."""
    return f"{GATEWAY}-{service}"


def gateway_endpoints(host: str = GATEWAY) -> dict[str, Endpoint]:
    """The gateway's listeners on the stack network: each on its service's own port."""
    return {endpoint_key(service): Endpoint(host, CONTAINER_PORTS[service]) for service in GATED}


def client_endpoint(settings: StackSettings, endpoints: Endpoints, service: str) -> Endpoint:
    """Where a client of the stack reaches `service`: the gateway's listener when it is gated."""
    return endpoints[endpoint_key(service)] if gated(settings, service) else endpoints[service]


def client_url(settings: StackSettings, endpoints: Endpoints, service: str) -> str:
    """The base URL a client of the stack uses for `service`, with the scheme it is served with."""
    scheme = "https" if gated(settings, service) or serves_tls(settings, service) else "http"
    return f"{scheme}://{client_endpoint(settings, endpoints, service).address}"


def client_tls(settings: StackSettings, service: str, secrets_dir: str = SECRETS_DIR) -> dict[str, str]:
    """`tls_config` (ca_file, server_name) towards `service` or its gateway; empty over plain HTTP."""
    if gated(settings, service):
        return {"ca_file": f"{secrets_dir}/{CA_FILE}", "server_name": server_name(settings, GATEWAY)}
    if serves_tls(settings, service):
        return {"ca_file": f"{secrets_dir}/{CA_FILE}", "server_name": server_name(settings, service)}
    return {}


def client_basic_auth(settings: StackSettings, service: str, secrets_dir: str = SECRETS_DIR) -> dict[str, str]:
    """`basic_auth` (username, password_file) of the stack's client user towards a gated service."""
    if not gated(settings, service):
        return {}
    return {"username": settings.security.auth.client_user, "password_file": f"{secrets_dir}/{CLIENT_PASSWORD_FILE}"}


def published_as(settings: StackSettings, name: str) -> str | None:
    """The `exposure.publish` entry a service of the stack is published for: the gateway carries
    Loki's when it gates Loki, and a gated service is never published itself."""
    if name == GATEWAY:
        return "loki" if gated(settings, "loki") else None
    return None if gated(settings, name) else name


def htpasswd_secret(service: str) -> str:
    """The derived secret holding `service`'s htpasswd file (components/certificates.py)."""
    return f"htpasswd.{service}"


def htpasswd_file(service: str) -> str:
    return f"htpasswd-{service}"


def render_htpasswd(settings: StackSettings, service: str, passwords: Mapping[str, str]) -> str:
    """`user:bcrypt` lines of the users allowed on `service` (nginx checks `$2b$` hashes with crypt(3)).
    The same derived-salt hashes as the web configurations: the file changes only with a password."""
    users = web_users(settings, service)
    if missing := [user for user in users if user not in passwords]:
        raise ValueError(f"no password for web user(s) {', '.join(missing)} of {service}: see web_user_passwords")
    return "".join(f"{user}:{bcrypt_hash(user, passwords[user])}\n" for user in users)


@dataclass(frozen=True)
class Route:
    """One listener: `service` on `listen_port`, passed to `upstream` - over TLS, checking the
    certificate for `upstream_tls_name`, when that is set."""

    service: str
    listen_port: int
    upstream: Endpoint
    upstream_tls_name: str | None


@dataclass(frozen=True)
class GatewayFiles:
    """The gateway's certificate and key, the CA it checks TLS upstreams with, and the directory of
    the htpasswd files (`htpasswd-<service>`)."""

    cert_file: str
    key_file: str
    ca_file: str
    htpasswd_dir: str


def routes(settings: StackSettings, endpoints: Endpoints, listen: Endpoints | None = None) -> list[Route]:
    """The gated services' routes; `listen` maps `endpoint_key(service)` to where the gateway listens
    (its port), the deployed gateway's own listeners by default."""
    listen = listen or gateway_endpoints()
    return [
        Route(service, listen[endpoint_key(service)].port, endpoints[service],
              # Loki serves the stack's certificate itself (logs/loki.py).
              upstream_tls_name=server_name(settings, service) if serves_tls(settings, service) else None)
        for service in gated_services(settings)
    ]


def _server(route: Route, files: GatewayFiles, resolver: str | None) -> str:
    url = f"{'https' if route.upstream_tls_name else 'http'}://{route.upstream.address}"
    # With a resolver, a variable makes nginx resolve the name per request (a replaced container);
    # without one (a cluster's stable Service names) it resolves once at start.
    upstream = f"        set $upstream {url};\n" if resolver else ""
    if route.upstream_tls_name:
        upstream += f"""        proxy_ssl_trusted_certificate {files.ca_file};
        proxy_ssl_verify on;
        proxy_ssl_server_name on;
        proxy_ssl_name {route.upstream_tls_name};
"""
    return f"""    # {route.service}
    server {{
        listen {route.listen_port} ssl;
        ssl_certificate {files.cert_file};
        ssl_certificate_key {files.key_file};
        ssl_protocols TLSv1.2 TLSv1.3;
        auth_basic "{route.service}";
        auth_basic_user_file {files.htpasswd_dir}/{htpasswd_file(route.service)};
        client_max_body_size {MAX_BODY};
{upstream}
        # A content handler, so authentication applies (a `return` would answer before it):
        # healthy means TLS, the htpasswd file and nginx itself work.
        location = {HEALTH_PATH} {{
            empty_gif;
        }}

        location / {{
            # The caller's credentials stop here: the service never sees them.
            proxy_set_header Authorization "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # WebSockets (Loki's live tail) upgrade; pushes and streams pass unbuffered.
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_read_timeout {READ_TIMEOUT_S}s;
            proxy_send_timeout {READ_TIMEOUT_S}s;
            proxy_pass {"$upstream" if resolver else url};
        }}
    }}
"""


def render_gateway_config(
    route_list: Sequence[Route],
    files: GatewayFiles,
    resolver: str | None = DOCKER_DNS,
    runtime_dir: str = "/tmp",
) -> str:
    """The whole nginx.conf; `runtime_dir` holds the pid and temp files (writable by nginx's user)."""
    if not route_list:
        raise ValueError("the gateway fronts no service: security.auth is off")
    temp_paths = "\n".join(
        f"    {kind}_temp_path {runtime_dir}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    resolver_line = f"    resolver {resolver} valid=10s ipv6=off;\n" if resolver else ""
    servers = "\n".join(_server(route, files, resolver) for route in route_list)
    return f"""# Generated by the monitoring stack (render/gateway.py): TLS and basic auth in front of {", ".join(r.service for r in route_list)}.
daemon off;
worker_processes 1;
pid {runtime_dir}/nginx.pid;
error_log stderr warn;

events {{
    worker_connections 1024;
}}

http {{
    server_tokens off;
    access_log /dev/stdout;
{temp_paths}
{resolver_line}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        "" "";
    }}

{servers}}}
"""
