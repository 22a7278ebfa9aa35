"""The core services: Prometheus, Alertmanager, Grafana, Loki and the log collector."""

from __future__ import annotations

from alerting.alertmanager import alertmanager_environment, alertmanager_files, alertmanager_secret_files
from logs.loki import DATA_DIR as LOKI_DATA_DIR
from logs.loki import loki_command, loki_rule_files, loki_secret_env, render_loki_config
from services.api import with_user_rules
from services.collector import collector_service, without_idle_collector
from services.gateway import gateway_service, without_host_port
from services.traces import grafana_pprof_port, signal_services, with_signals
from render.grafana import SECRETS_DIR, render_grafana_ini
from render.grafana_auth import LDAP_CONFIG, grafana_secret_files, render_ldap_toml
from render.exporters import FILE_SD_DIR
from render.prometheus import prometheus_command, render_prometheus_config
from render.remote_write import remote_write_secret_files
from render.prometheus_proxy import LISTEN_PORT as PROXY_PORT
from render.prometheus_proxy import render_prometheus_proxy_config
from render.serialize import to_ini, to_yaml
from rules import render_rule_files
from services.tls import proxy_tls, secured
from services.spec import (
    ConfigFile,
    HostMount,
    HttpHealthCheck,
    PortSpec,
    Resources,
    SecretFile,
    Security,
    ServiceSpec,
    VolumeSpec,
)
from services.topology import CONTAINER_PORTS, Endpoints, internal_endpoints
from settings.images import default_image, image_has_wget
from settings.model import StackSettings
from settings.types import Resources as ResourceSettings

# The images' own unprivileged users (uid:gid), kept explicit so a policy can check them.
NOBODY = "65534:65534"


def _resources(resources: ResourceSettings) -> Resources:
    return Resources(cpus=resources.cpus, memory_mb=resources.memory_mb)


def _published(settings: StackSettings, service: str) -> tuple[PortSpec, ...]:
    return (PortSpec("http", CONTAINER_PORTS[service], settings.host_port(service)),)


def prometheus_service(settings: StackSettings, endpoints: Endpoints) -> ServiceSpec:
    port = CONTAINER_PORTS["prometheus"]
    config_dir = "/etc/prometheus"
    rule_files = tuple(
        ConfigFile(f"rules/{name}", to_yaml(document)) for name, document in sorted(render_rule_files(settings).items())
    )
    return ServiceSpec(
        name="prometheus",
        image=settings.prometheus.image,
        command=tuple(prometheus_command(settings, f"{config_dir}/prometheus.yml", "/prometheus", port)),
        config_dir=config_dir,
        files=(ConfigFile("prometheus.yml", to_yaml(render_prometheus_config(settings, endpoints))), *rule_files),
        # The long-term store's password or token (prometheus.remote_write), when it needs one.
        secret_files=tuple(SecretFile(key, file_name) for key, file_name in remote_write_secret_files(settings)),
        # Never published itself: its remote-write receiver must be reachable from the stack network
        # only; the host port is the read-only proxy's (prometheus_proxy_service).
        ports=(PortSpec("http", port),),
        volumes=(VolumeSpec("data", "/prometheus"),),
        # The user's file_sd directory, read-only: add targets without a deployment.
        host_mounts=(HostMount(settings.prometheus.targets_dir, FILE_SD_DIR),) if settings.prometheus.targets_dir else (),
        health=HttpHealthCheck(port, "/-/ready", start_period_s=60),
        resources=_resources(settings.prometheus.resources),
        security=Security(user=NOBODY),
        image_has_wget=image_has_wget("prometheus", settings.prometheus.image),
        depends_on=("alertmanager",),
    )


def prometheus_proxy_service(settings: StackSettings, endpoints: Endpoints) -> ServiceSpec:
    """Prometheus' published side: queries and the UI pass, writes and the admin APIs are refused."""
    config_dir = "/etc/nginx"
    return ServiceSpec(
        name="prometheus-proxy",
        image=default_image("prometheus_proxy"),
        command=("nginx", "-c", f"{config_dir}/nginx.conf"),
        config_dir=config_dir,
        files=(ConfigFile("nginx.conf", render_prometheus_proxy_config(endpoints["prometheus"], tls=proxy_tls(settings))),),
        ports=(PortSpec("http", PROXY_PORT, settings.host_port("prometheus")),),
        # Through to Prometheus: healthy means a query would get an answer.
        health=HttpHealthCheck(PROXY_PORT, "/-/ready"),
        resources=Resources(cpus=0.1, memory_mb=64),
        # The nginx-unprivileged image's own user.
        security=Security(user="101:101"),
        image_has_wget=True,
        depends_on=("prometheus",),
    )


def alertmanager_service(settings: StackSettings) -> ServiceSpec:
    port = CONTAINER_PORTS["alertmanager"]
    config_dir = "/etc/alertmanager"
    return ServiceSpec(
        name="alertmanager",
        image=settings.alertmanager.image,
        command=(
            f"--config.file={config_dir}/alertmanager.yml",
            "--storage.path=/alertmanager",
            f"--data.retention={settings.alertmanager.data_retention}",
            f"--web.listen-address=:{port}",
            # A single instance: no gossip mesh to listen on.
            "--cluster.listen-address=",
        ),
        config_dir=config_dir,
        files=tuple(ConfigFile(relpath, content) for relpath, content in sorted(alertmanager_files(settings).items())),
        secret_files=tuple(SecretFile(key, file_name) for key, file_name in alertmanager_secret_files(settings)),
        env=alertmanager_environment(settings),
        ports=_published(settings, "alertmanager"),
        volumes=(VolumeSpec("data", "/alertmanager"),),
        health=HttpHealthCheck(port, "/-/ready"),
        resources=_resources(settings.alertmanager.resources),
        security=Security(user=NOBODY),
        image_has_wget=image_has_wget("alertmanager", settings.alertmanager.image),
    )


def grafana_service(settings: StackSettings) -> ServiceSpec:
    port = CONTAINER_PORTS["grafana"]
    config_dir = "/etc/grafana"
    return ServiceSpec(
        name="grafana",
        image=settings.grafana.image,
        command=(),
        config_dir=config_dir,
        files=(
            ConfigFile("grafana.ini", to_ini(render_grafana_ini(settings, port))),
            # LDAP sign-in (security.sso.ldap): Grafana reads it from [auth.ldap] config_file.
            *((ConfigFile(LDAP_CONFIG, ldap),) if (ldap := render_ldap_toml(settings)) else ()),
        ),
        secret_files=(
            SecretFile("grafana_admin_password", "grafana_admin_password"),
            *(SecretFile(key, file_name) for key, file_name in grafana_secret_files(settings)),
        ),
        env={"GF_PATHS_CONFIG": f"{config_dir}/grafana.ini"},
        ports=_published(settings, "grafana"),
        volumes=(VolumeSpec("data", "/var/lib/grafana"),),
        health=HttpHealthCheck(port, "/api/health", start_period_s=60),
        resources=_resources(settings.grafana.resources),
        # The grafana image's own user and group.
        security=Security(user="472:0"),
        image_has_wget=image_has_wget("grafana", settings.grafana.image),
        depends_on=("prometheus", "loki"),
    )


def loki_service(settings: StackSettings, endpoints: Endpoints) -> ServiceSpec:
    port = CONTAINER_PORTS["loki"]
    config_dir = "/etc/loki"
    return ServiceSpec(
        name="loki",
        image=settings.loki.image,
        command=loki_command(settings, f"{config_dir}/loki.yml"),
        config_dir=config_dir,
        files=(
            ConfigFile("loki.yml", to_yaml(render_loki_config(settings, endpoints, port))),
            *(ConfigFile(relpath, content) for relpath, content in sorted(loki_rule_files(settings).items())),
        ),
        secret_env=loki_secret_env(settings),
        ports=_published(settings, "loki"),
        volumes=(VolumeSpec("data", LOKI_DATA_DIR),),
        health=HttpHealthCheck(port, "/ready", start_period_s=60),
        resources=_resources(settings.loki.resources),
        # The loki image's own unprivileged user.
        security=Security(user="10001:10001"),
        image_has_wget=image_has_wget("loki", settings.loki.image),
    )


def core_services(settings: StackSettings, endpoints: Endpoints | None = None) -> dict[str, ServiceSpec]:
    """Every core service of a stack, keyed by name, in start order."""
    endpoints = without_idle_collector(settings, endpoints or internal_endpoints(settings))
    services = {
        "alertmanager": alertmanager_service(settings),
        # With the monitoring API's user rules where it writes them (services/api.py).
        "prometheus": with_user_rules(settings, prometheus_service(settings, endpoints)),
        # Only a published Prometheus needs its read-only front.
        **({"prometheus-proxy": prometheus_proxy_service(settings, endpoints)} if settings.host_port("prometheus") else {}),
        "loki": loki_service(settings, endpoints),
        # Tempo and Pyroscope before the collector, which sends to them.
        **signal_services(settings, endpoints),
        # With security.auth, their clients go through the gateway (render/gateway.py).
        **({"gateway": gateway} if (gateway := gateway_service(settings, endpoints)) else {}),
        settings.logs.collector: with_signals(settings, collector_service(settings, endpoints)),
        "grafana": grafana_pprof_port(settings, grafana_service(settings)),
    }
    # TLS, web configuration and authentication where security.tls / security.auth ask for them.
    return {name: secured(settings, without_host_port(settings, spec), name) for name, spec in services.items()}
