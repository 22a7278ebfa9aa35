"""The monitoring API as a service of the stack (`api/`, settings `api`): its image, built from this
repository like the backup job's, and its description for both platforms.

User alert rules: on one Docker host the API writes them to its `user-rules` volume, which
Prometheus mounts read-only and globs (`rule_files`), and asks Prometheus to reload (its lifecycle
endpoint, on for this only; the published proxy refuses it). On a cluster Prometheus runs as
replicas on their own nodes with their own volumes, and writing a ConfigMap would give the API
write access to the namespace's objects (RBAC) that no other service of the stack has: rule CRUD
is off there (those endpoints answer 503 with the reason) and user rules go through the
program's settings instead (`alerting.rule_overrides`, new rule modules).
"""

from __future__ import annotations

import dataclasses

from render.prometheus import USER_RULES_DIR, user_rules_on
from render.tls_clients import client_secret_files, requires_auth, service_url
from render.web_config import CA_FILE, CLIENT_PASSWORD_FILE, SECRETS_DIR
from services.collector import without_idle_collector
from services.spec import HttpHealthCheck, PortSpec, Resources, SecretFile, Security, ServiceSpec, VolumeSpec
from services.topology import CONTAINER_PORTS, Endpoints
from settings.model import StackSettings
from settings.types import duration_seconds

NAME = "monitoring-api"
IMAGE_NAME = "monitoring-api"
TOKENS_SECRET = "monitoring_api_tokens"
GRAFANA_TOKEN_SECRET = "monitoring_api_grafana_token"
# The image's own directory for the user rules (owned by its user, so a fresh volume is writable).
RULES_DIR = "/var/lib/monitoring-api/rules"
RULES_VOLUME = "user-rules"
NOBODY = "65534:65534"


def _upstreams(settings: StackSettings, endpoints: Endpoints) -> dict[str, str]:
    endpoints = without_idle_collector(settings, endpoints)
    wanted = ("prometheus", "alertmanager", "grafana", "loki", "tempo", "pyroscope")
    return {name: service_url(settings, endpoints[name], name) for name in wanted if name in endpoints}


def api_command(settings: StackSettings, endpoints: Endpoints) -> tuple[str, ...]:
    """`python -m api ...` as the image runs it (its ENTRYPOINT is `python -m api`)."""
    upstreams = _upstreams(settings, endpoints)
    command = ["--listen", f"0.0.0.0:{CONTAINER_PORTS[NAME]}", "--tokens-file", f"{SECRETS_DIR}/{TOKENS_SECRET}",
               "--rate-limit", f"{settings.api.rate_limit:g}"]
    for name, url in upstreams.items():
        command += [f"--{name}", url, "--timeout", f"{name}={duration_seconds(getattr(settings.api.timeouts, name)):g}"]
    if settings.api.grafana_token and "grafana" in upstreams:
        command += ["--grafana-token-file", f"{SECRETS_DIR}/{GRAFANA_TOKEN_SECRET}"]
    if user_rules_on(settings):
        command += ["--rules-dir", RULES_DIR, "--prometheus-reload-url", f"{upstreams['prometheus']}/-/reload"]
    secrets = dict(client_secret_files(settings))
    if CA_FILE in secrets.values():
        command += ["--ca-file", f"{SECRETS_DIR}/{CA_FILE}"]
    authenticated = [name for name in upstreams if requires_auth(settings, name)]
    if authenticated:
        command += ["--client-user", settings.security.auth.client_user,
                    "--client-password-file", f"{SECRETS_DIR}/{CLIENT_PASSWORD_FILE}"]
        for name in authenticated:
            command += ["--client-auth", name]
    return tuple(command)


def api_services(settings: StackSettings, endpoints: Endpoints, image: str) -> dict[str, ServiceSpec]:
    if not settings.api.enabled:
        return {}
    port = CONTAINER_PORTS[NAME]
    health = "/monitoring/healthz"
    spec = ServiceSpec(
        name=NAME,
        image=image,
        built_image=True,
        command=api_command(settings, endpoints),
        config_dir="/etc/monitoring-api",
        secret_files=(SecretFile(TOKENS_SECRET, TOKENS_SECRET),
                      *((SecretFile(GRAFANA_TOKEN_SECRET, GRAFANA_TOKEN_SECRET),) if settings.api.grafana_token else ()),
                      *(SecretFile(key, file_name) for key, file_name in client_secret_files(settings))),
        ports=(PortSpec("http", port, settings.host_port("api")),),
        volumes=(VolumeSpec(RULES_VOLUME, RULES_DIR),) if user_rules_on(settings) else (),
        health=HttpHealthCheck(port, health),
        # python-slim has no wget: Python itself probes.
        health_command=("python", "-c",
                        f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{health}', timeout=5)"),
        image_has_wget=False,
        resources=Resources(cpus=settings.api.resources.cpus, memory_mb=settings.api.resources.memory_mb),
        security=Security(user=NOBODY),
        # Nothing first: it answers (502) until its upstreams do, and on Docker it must create the
        # user rules volume (owned by its user) before Prometheus mounts it.
    )
    return {NAME: spec}


def with_user_rules(settings: StackSettings, prometheus: ServiceSpec) -> ServiceSpec:
    """Prometheus reading the API's user rules (read-only) and reloading when the API asks: the
    lifecycle endpoint is on for this only, reached on the stack network (the published proxy refuses it)."""
    if not user_rules_on(settings):
        return prometheus
    borrowed = VolumeSpec(RULES_VOLUME, USER_RULES_DIR, borrowed_from=NAME)
    return dataclasses.replace(prometheus, volumes=(*prometheus.volumes, borrowed),
                               command=(*prometheus.command, "--web.enable-lifecycle"),
                               depends_on=(*prometheus.depends_on, NAME))


def reached_upstreams(spec: ServiceSpec) -> list[tuple[str, str]]:
    """(service, why) of each upstream the API reaches, read from its command (NetworkPolicy flows)."""
    if spec.name != NAME:
        return []
    flags = [arg.removeprefix("--") for arg in spec.command if arg.startswith("--")]
    return [(name, "the monitoring API reads (and writes) its data") for name in
            ("prometheus", "alertmanager", "grafana", "loki", "tempo", "pyroscope") if name in flags]
