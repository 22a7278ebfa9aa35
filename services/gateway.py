"""The gateway in front of Loki, Tempo and Pyroscope (render/gateway.py) as a service of the stack,
and the gated services' descriptions without a host port of their own (the gateway publishes it)."""

from __future__ import annotations

import dataclasses

from render.gateway import (
    DOCKER_DNS,
    GATEWAY,
    HEALTH_PATH,
    GatewayFiles,
    gated,
    gated_services,
    htpasswd_file,
    htpasswd_secret,
    render_gateway_config,
    routes,
)
from render.web_config import CA_FILE, CERT_FILE, KEY_FILE, SECRETS_DIR
from services.spec import ConfigFile, HttpHealthCheck, PortSpec, Resources, SecretFile, Security, ServiceSpec
from services.topology import CONTAINER_PORTS, Endpoints
from settings.images import default_image
from settings.model import StackSettings

CONFIG_DIR = "/etc/nginx"
# The nginx-unprivileged image's own user, as for the Prometheus proxy.
NGINX_USER = "101:101"


def gateway_service(settings: StackSettings, endpoints: Endpoints) -> ServiceSpec | None:
    """The gateway, when security.auth gates at least one service; None otherwise."""
    services = gated_services(settings)
    if not services:
        return None
    files = GatewayFiles(
        cert_file=f"{SECRETS_DIR}/{CERT_FILE}",
        key_file=f"{SECRETS_DIR}/{KEY_FILE}",
        ca_file=f"{SECRETS_DIR}/{CA_FILE}",
        htpasswd_dir=SECRETS_DIR,
    )
    resolver = DOCKER_DNS if settings.platform == "docker" else None
    first = CONTAINER_PORTS[services[0]]
    return ServiceSpec(
        name=GATEWAY,
        image=default_image("gateway"),
        command=("nginx", "-c", f"{CONFIG_DIR}/nginx.conf"),
        config_dir=CONFIG_DIR,
        files=(ConfigFile("nginx.conf", render_gateway_config(routes(settings, endpoints), files, resolver)),),
        secret_files=tuple(SecretFile(htpasswd_secret(service), htpasswd_file(service)) for service in services),
        # Each service's port, so a client changes only the host it dials; Loki's host port moves here.
        ports=tuple(
            PortSpec(service, CONTAINER_PORTS[service], settings.host_port("loki") if service == "loki" else None)
            for service in services
        ),
        # The gateway itself (TLS, the htpasswd file, nginx): not its upstreams, which have their own.
        health=HttpHealthCheck(first, HEALTH_PATH),
        resources=Resources(cpus=0.25, memory_mb=128),
        security=Security(user=NGINX_USER),
        image_has_wget=True,
        depends_on=tuple(services),
    )


def without_host_port(settings: StackSettings, spec: ServiceSpec) -> ServiceSpec:
    """A gated service keeps its ports internal: only the gateway publishes."""
    if not gated(settings, spec.name):
        return spec
    return dataclasses.replace(spec, ports=tuple(dataclasses.replace(port, published=None) for port in spec.ports))
