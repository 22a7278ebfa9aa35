"""Exporter services: the real exporters a stack runs itself, and the mocks that stand in for them."""

from __future__ import annotations

import dataclasses
import zlib

from exporters.catalog import EXPORTERS
from exporters.contracts import CONTRACTS
from render.exporters import deployed_exporters, mocked_exporters, render_blackbox_config
from render.serialize import to_yaml
from render.tls_clients import basic_auth_hash_secret, requires_auth, serves_tls
from render.web_config import CERT_FILE, KEY_FILE, SECRETS_DIR
from services.exceptions import CADVISOR_PRIVILEGED, DCGM_GPUS, NODE_EXPORTER_HOST
from services.spec import ConfigFile, HostMount, HttpHealthCheck, Resources, SecretFile, Security, ServiceSpec, VolumeSpec
from services.tls import python_probe_command, secured
from services.topology import EXPORTER_ALIASES
from settings.images import image_has_wget
from settings.model import StackSettings

NOBODY = "65534:65534"
SMALL = Resources(cpus=0.25, memory_mb=128)
MOCK_IMAGE_NAME = "monitoring-mock-exporter"
# Whether each real exporter's image ships busybox wget (the others get the probe kit).
IMAGES_WITH_WGET = {"node", "cadvisor", "postgres", "blackbox", "pushgateway"}


def _image(settings: StackSettings, exporter: str) -> str:
    return getattr(settings.exporters, exporter).image or EXPORTERS[exporter].image


def _has_wget(settings: StackSettings, exporter: str) -> bool:
    return exporter in IMAGES_WITH_WGET and getattr(settings.exporters, exporter).image is None


def node_exporter(settings: StackSettings) -> ServiceSpec:
    port, gateway = EXPORTERS["node"].port, settings.docker.gateway
    return ServiceSpec(
        name="node-exporter",
        image=_image(settings, "node"),
        command=(
            "--path.rootfs=/host",
            # Only on the stack network's gateway: reachable by Prometheus, not from the LAN.
            f"--web.listen-address={gateway}:{port}",
            "--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run|var/lib/docker/.+)($|/)",
        ),
        config_dir="/etc/node-exporter",
        host_mounts=(HostMount("/", "/host", propagation="rslave"),),
        health=HttpHealthCheck(port, "/metrics", host=gateway),
        resources=SMALL,
        security=Security(
            user=NOBODY,
            host_pid=True,
            host_network=True,
            exception=NODE_EXPORTER_HOST,
        ),
        image_has_wget=_has_wget(settings, "node"),
    )


def cadvisor(settings: StackSettings) -> ServiceSpec:
    port = EXPORTERS["cadvisor"].port
    return ServiceSpec(
        name=EXPORTER_ALIASES["cadvisor"],
        image=_image(settings, "cadvisor"),
        command=(
            "--docker_only=true",
            "--housekeeping_interval=15s",
            # Container labels would become one series label each: unbounded cardinality.
            "--store_container_labels=false",
            "--disable_metrics=percpu,sched,tcp,udp,advtcp,process,hugetlb,referenced_memory,cpu_topology,resctrl,memory_numa",
        ),
        config_dir="/etc/cadvisor",
        host_mounts=(
            HostMount("/", "/rootfs"),
            HostMount("/var/run", "/var/run"),
            HostMount("/sys", "/sys"),
            HostMount("/var/lib/docker", "/var/lib/docker"),
            HostMount("/dev/disk", "/dev/disk"),
        ),
        health=HttpHealthCheck(port, "/healthz"),
        resources=Resources(cpus=0.5, memory_mb=256),
        security=Security(
            user="0:0",
            privileged=True,
            # Privileged holds every capability, so none is dropped: dropping would be void.
            drop_capabilities=(),
            devices=("/dev/kmsg",),
            exception=CADVISOR_PRIVILEGED,
        ),
        image_has_wget=_has_wget(settings, "cadvisor"),
    )


def dcgm_counters_csv() -> str:
    """The fields dcgm-exporter collects: exactly the families of our contract (its default file
    leaves the ECC counters commented out)."""
    lines = ["# DCGM field, Prometheus type, help (generated from exporters/contracts/dcgm.yaml)"]
    for family in CONTRACTS["dcgm"].families:
        lines.append(f"{family.name}, {family.type}, {family.help.replace(',', ';')}")
    return "\n".join(lines) + "\n"


def dcgm_exporter(settings: StackSettings) -> ServiceSpec:
    port = EXPORTERS["dcgm"].port
    config_dir = "/etc/dcgm-exporter"
    return ServiceSpec(
        name=EXPORTER_ALIASES["dcgm"],
        image=_image(settings, "dcgm"),
        command=("-f", f"{config_dir}/counters.csv", "-a", f":{port}"),
        config_dir=config_dir,
        files=(ConfigFile("counters.csv", dcgm_counters_csv()),),
        health=HttpHealthCheck(port, "/metrics", start_period_s=60),
        resources=Resources(cpus=0.5, memory_mb=512),
        security=Security(
            user="0:0",
            gpus="all",
            add_capabilities=("SYS_ADMIN",),
            exception=DCGM_GPUS,
        ),
        image_has_wget=_has_wget(settings, "dcgm"),
    )


def postgres_exporter(settings: StackSettings) -> ServiceSpec:
    postgres = settings.exporters.postgres
    port = EXPORTERS["postgres"].port
    return ServiceSpec(
        name=EXPORTER_ALIASES["postgres"],
        image=_image(settings, "postgres"),
        command=(f"--web.listen-address=:{port}",),
        config_dir="/etc/postgres-exporter",
        env={
            "DATA_SOURCE_URI": f"{postgres.address}/{postgres.database}?sslmode={postgres.sslmode}",
            "DATA_SOURCE_USER": postgres.user,
            "DATA_SOURCE_PASS_FILE": "/run/secrets/postgres_exporter_password",
        },
        secret_files=(SecretFile("postgres_exporter_password", "postgres_exporter_password"),),
        health=HttpHealthCheck(port, "/"),
        resources=SMALL,
        security=Security(user=NOBODY),
        image_has_wget=_has_wget(settings, "postgres"),
    )


def redis_exporter_web_security(settings: StackSettings) -> tuple[tuple[str, ...], dict[str, str]]:
    """(flags, secret environment) of redis_exporter's own TLS and basic auth (v1.88.0, main.go:
    `--tls-server-cert-file`/`--tls-server-key-file`/`--tls-server-min-version`, one user with
    `--basic-auth-username` and `--basic-auth-hash-password`, a bcrypt hash). The hash has no file
    option: it comes from the environment (REDIS_EXPORTER_BASIC_AUTH_HASH_PASSWORD) as a secret,
    never on the command line. The certificate, key and health-check files come from `secured`."""
    flags: tuple[str, ...] = ()
    env: dict[str, str] = {}
    if serves_tls(settings, "redis"):
        flags += (f"--tls-server-cert-file={SECRETS_DIR}/{CERT_FILE}", f"--tls-server-key-file={SECRETS_DIR}/{KEY_FILE}",
                  "--tls-server-min-version=TLS1.2")
    if requires_auth(settings, "redis"):
        flags += (f"--basic-auth-username={settings.security.auth.client_user}",)
        env["REDIS_EXPORTER_BASIC_AUTH_HASH_PASSWORD"] = basic_auth_hash_secret(EXPORTER_ALIASES["redis"])
    return flags, env


def redis_exporter(settings: StackSettings) -> ServiceSpec:
    redis = settings.exporters.redis
    port = EXPORTERS["redis"].port
    web_flags, web_env = redis_exporter_web_security(settings)
    return ServiceSpec(
        name=EXPORTER_ALIASES["redis"],
        image=_image(settings, "redis"),
        command=(f"--web.listen-address=:{port}", *web_flags),
        config_dir="/etc/redis-exporter",
        env={"REDIS_ADDR": f"redis://{redis.address}"},
        # redis_exporter reads its password from the environment only.
        secret_env={**({"REDIS_PASSWORD": "redis_exporter_password"} if redis.password else {}), **web_env},
        health=HttpHealthCheck(port, "/health"),
        resources=SMALL,
        security=Security(user=NOBODY),
        image_has_wget=_has_wget(settings, "redis"),
    )


def blackbox_exporter(settings: StackSettings) -> ServiceSpec:
    port = EXPORTERS["blackbox"].port
    config_dir = "/etc/blackbox_exporter"
    return ServiceSpec(
        name=EXPORTER_ALIASES["blackbox"],
        image=_image(settings, "blackbox"),
        command=(f"--config.file={config_dir}/blackbox.yml", f"--web.listen-address=:{port}"),
        config_dir=config_dir,
        files=(ConfigFile("blackbox.yml", to_yaml(render_blackbox_config(settings))),),
        health=HttpHealthCheck(port, "/-/healthy"),
        resources=SMALL,
        security=Security(user=NOBODY),
        image_has_wget=_has_wget(settings, "blackbox"),
    )


def pushgateway(settings: StackSettings) -> ServiceSpec:
    port = EXPORTERS["pushgateway"].port
    return ServiceSpec(
        name=EXPORTER_ALIASES["pushgateway"],
        image=_image(settings, "pushgateway"),
        command=(
            f"--web.listen-address=:{port}",
            # Pushed groups survive restarts; /pushgateway is the image's own nobody-owned directory, so
            # the fresh named volume mounted there inherits that ownership.
            "--persistence.file=/pushgateway/pushgateway.db",
            "--persistence.interval=5m",
        ),
        config_dir="/etc/pushgateway",
        volumes=(VolumeSpec("data", "/pushgateway"),),
        health=HttpHealthCheck(port, "/-/healthy"),
        resources=SMALL,
        security=Security(user=NOBODY),
        image_has_wget=_has_wget(settings, "pushgateway"),
    )


def mock_seed(exporter: str, environment: str) -> int:
    """Stable per exporter and stack, so restarts replay the same synthetic history."""
    return zlib.crc32(f"{environment}/{exporter}".encode()) % 1_000_000


def mock_exporter(settings: StackSettings, exporter: str, image: str) -> ServiceSpec:
    port = EXPORTERS[exporter].port
    return ServiceSpec(
        name=f"mock-{exporter}",
        image=image,
        built_image=True,
        command=("--exporter", exporter, "--listen", f"0.0.0.0:{port}", "--seed", str(mock_seed(exporter, settings.environment))),
        config_dir="/etc/mock-exporter",
        health=HttpHealthCheck(port, "/-/healthy"),
        # The mock image is python-slim: no wget, but Python itself can probe.
        health_command=(
            "python",
            "-c",
            f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/-/healthy', timeout=5)",
        ),
        resources=SMALL,
        security=Security(user=NOBODY),
        image_has_wget=False,
    )


REAL_EXPORTERS = {
    "node": node_exporter,
    "cadvisor": cadvisor,
    "dcgm": dcgm_exporter,
    "postgres": postgres_exporter,
    "redis": redis_exporter,
    "blackbox": blackbox_exporter,
    "pushgateway": pushgateway,
}


def exporter_services(settings: StackSettings, mock_image: str) -> dict[str, ServiceSpec]:
    """The exporter containers of a stack per the rollout modes, keyed by exporter (`mock-<x>` for mocks)."""
    services = {name: REAL_EXPORTERS[name](settings) for name in deployed_exporters(settings)}
    services.update({f"mock-{name}": mock_exporter(settings, name, mock_image) for name in mocked_exporters(settings)})
    # With security.tls / security.auth every one serves TLS and basic auth (the exporter-toolkit
    # ones, dcgm-exporter and the mocks from a web configuration file, redis_exporter from flags)
    # but cAdvisor, which has no such option: see the README's Operations.
    secured_services = {name: secured(settings, spec, name) for name, spec in services.items()}
    # The mocks' python probe follows their health check (HTTPS, the Authorization header's file).
    return {
        name: dataclasses.replace(spec, health_command=python_probe_command(spec.health)) if spec.built_image else spec
        for name, spec in secured_services.items()
    }
