"""The monitoring API as a service of the stack (`api/`, settings `api`): its image, built from this
repository like the backup job's, and its description for both platforms.

User alert rules: on one Docker host the API writes them to its `user-rules` volume, which
Prometheus mounts read-only and globs (`rule_files`), and asks Prometheus to reload (its lifecycle
endpoint, on for this only; the published proxy refuses it). On a cluster Prometheus runs as
replicas on their own nodes with their own volumes: the API keeps the rules in one ConfigMap
(`monitoring-user-rules`, api/kube_rules.py) through the Kubernetes API, with a Role allowing get,
update and patch on that one object only (`ApiWrite`); the platform creates it empty and never
overwrites its data; both replicas mount it read-only as their user rules directory and reload by
themselves when a rule file changes (`auto-reload-config`). A change is answered 202 with how long
until both evaluate it: kubelet's refresh of a mounted ConfigMap (KUBELET_SYNC_SECONDS), then the
auto-reload interval, then an evaluation interval.
"""

from __future__ import annotations

import dataclasses

from render.gateway import client_url, gated
from render.kubernetes_sd import namespace_of
from render.prometheus import AUTO_RELOAD_INTERVAL, USER_RULES_DIR, auto_reload_flags, user_rules_on
from render.tls_clients import client_secret_files, requires_auth, service_url, serves_tls
from render.web_config import CA_FILE, CERT_FILE, CLIENT_PASSWORD_FILE, KEY_FILE, SECRETS_DIR
from services.collector import without_idle_collector
from services.spec import ApiWrite, HttpHealthCheck, PortSpec, Resources, SecretFile, Security, ServiceSpec, VolumeSpec
from services.tls import secured
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
# On a cluster: the ConfigMap holding the user rules (api/kube_rules.py), and the longest kubelet
# takes to refresh a mounted ConfigMap (its sync period, 1m by default, plus its cache's TTL).
USER_RULES_CONFIG_MAP = "monitoring-user-rules"
KUBELET_SYNC_SECONDS = 120


def _on_cluster(settings: StackSettings) -> bool:
    return settings.platform == "kubernetes"


def propagation_seconds(settings: StackSettings) -> int:
    """How long until both Prometheus replicas evaluate a change to the user rules ConfigMap."""
    return (KUBELET_SYNC_SECONDS + int(duration_seconds(AUTO_RELOAD_INTERVAL))
            + int(duration_seconds(settings.prometheus.evaluation_interval)))


def _upstreams(settings: StackSettings, endpoints: Endpoints) -> dict[str, str]:
    endpoints = without_idle_collector(settings, endpoints)
    wanted = ("prometheus", "alertmanager", "grafana", "loki", "tempo", "pyroscope")
    # Loki, Tempo and Pyroscope through the gateway when security.auth gates them (render/gateway.py).
    return {name: client_url(settings, endpoints, name) for name in wanted if name in endpoints}


def api_command(settings: StackSettings, endpoints: Endpoints) -> tuple[str, ...]:
    """`python -m api ...` as the image runs it (its ENTRYPOINT is `python -m api`)."""
    upstreams = _upstreams(settings, endpoints)
    command = ["--listen", f"0.0.0.0:{CONTAINER_PORTS[NAME]}", "--tokens-file", f"{SECRETS_DIR}/{TOKENS_SECRET}",
               "--rate-limit", f"{settings.api.rate_limit:g}"]
    for name, url in upstreams.items():
        command += [f"--{name}", url, "--timeout", f"{name}={duration_seconds(getattr(settings.api.timeouts, name)):g}"]
    if settings.api.grafana_token and "grafana" in upstreams:
        command += ["--grafana-token-file", f"{SECRETS_DIR}/{GRAFANA_TOKEN_SECRET}"]
    if user_rules_on(settings) and _on_cluster(settings):
        command += ["--rules-configmap", f"{namespace_of(settings, NAME)}/{USER_RULES_CONFIG_MAP}",
                    "--rules-propagation-seconds", str(propagation_seconds(settings))]
    elif user_rules_on(settings):
        command += ["--rules-dir", RULES_DIR, "--prometheus-reload-url", f"{upstreams['prometheus']}/-/reload"]
    secrets = dict(client_secret_files(settings))
    if CA_FILE in secrets.values():
        command += ["--ca-file", f"{SECRETS_DIR}/{CA_FILE}"]
    authenticated = [name for name in upstreams if requires_auth(settings, name) or gated(settings, name)]
    if authenticated:
        command += ["--client-user", settings.security.auth.client_user,
                    "--client-password-file", f"{SECRETS_DIR}/{CLIENT_PASSWORD_FILE}"]
        for name in authenticated:
            command += ["--client-auth", name]
    if serves_tls(settings, NAME):
        # Its own certificate and key (services/tls.py `secured` delivers them), TLS 1.2 or later.
        command += ["--tls-cert-file", f"{SECRETS_DIR}/{CERT_FILE}", "--tls-key-file", f"{SECRETS_DIR}/{KEY_FILE}"]
    return tuple(command)


def health_command(settings: StackSettings, port: int, path: str) -> tuple[str, ...]:
    """python-slim has no wget: Python itself probes. Over HTTPS it checks the chain against the
    stack's CA but not the name (it dials its own loopback, which the certificate need not name)."""
    if not serves_tls(settings, NAME):
        return ("python", "-c", f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=5)")
    return ("python", "-c",
            "import ssl, urllib.request; "
            f"c = ssl.create_default_context(cafile='{SECRETS_DIR}/{CA_FILE}'); c.check_hostname = False; "
            f"urllib.request.urlopen('https://127.0.0.1:{port}{path}', timeout=5, context=c)")


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
        volumes=(VolumeSpec(RULES_VOLUME, RULES_DIR),) if user_rules_on(settings) and not _on_cluster(settings) else (),
        # On a cluster: the one object it may write (get, update, patch by name).
        api_writes=(ApiWrite("configmaps", USER_RULES_CONFIG_MAP),) if user_rules_on(settings) and _on_cluster(settings) else (),
        health=HttpHealthCheck(port, health),
        health_command=health_command(settings, port, health),
        image_has_wget=False,
        resources=Resources(cpus=settings.api.resources.cpus, memory_mb=settings.api.resources.memory_mb),
        security=Security(user=NOBODY),
        # Nothing first: it answers (502) until its upstreams do, and on Docker it must create the
        # user rules volume (owned by its user) before Prometheus mounts it.
    )
    # HTTPS with its own certificate when security.tls is on (the health check's scheme with it).
    return {NAME: secured(settings, spec, NAME)}


def with_user_rules(settings: StackSettings, prometheus: ServiceSpec) -> ServiceSpec:
    """Prometheus reading the API's user rules (read-only). On one Docker host it reloads when the API
    asks: the lifecycle endpoint is on for this only, reached on the stack network (the published
    proxy refuses it). On a cluster it mounts the API's ConfigMap and reloads by itself."""
    if not user_rules_on(settings):
        return prometheus
    if _on_cluster(settings):
        # The API's ConfigMap, read-only; each replica reloads by itself when its content changes.
        mounted = VolumeSpec(RULES_VOLUME, USER_RULES_DIR, stateful=False, config_map=USER_RULES_CONFIG_MAP)
        return dataclasses.replace(prometheus, volumes=(*prometheus.volumes, mounted),
                                   command=(*prometheus.command, *auto_reload_flags()),
                                   depends_on=(*prometheus.depends_on, NAME))
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
