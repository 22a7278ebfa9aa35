"""The log collector's service description: Grafana Alloy (the default) or Promtail, by `logs.collector`.

Both run the one pipeline of `logs.pipeline`, read the same host paths (Docker socket, journal,
listed files) and ship to the same Loki, so switching collectors is a one-setting rollout. Their
state volumes outlive the switch: Alloy reads Promtail's positions file (mounted read-only from
Promtail's volume) to carry on where Promtail stopped.

Both run as root with every capability dropped. Root owns everything they read on a Debian host —
the Docker socket (root:docker 0660), the journal files (root:systemd-journal 0640) and Promtail's
positions file (0600, written by root) — so no host-specific group id is needed, and without
CAP_DAC_OVERRIDE root reads nothing it does not own. Alloy's image user (473) could read the socket
and the journal only with the host's docker and systemd-journal gids added, and never the positions
file; the image itself runs as root (its Dockerfile calls non-root "experimental"). Access to the
Docker socket is host-root-equivalent whichever uid holds it.
"""

from __future__ import annotations

import posixpath

from logs.alloy import CONFIG_FILE as ALLOY_CONFIG_FILE
from logs.alloy import STORAGE_DIR as ALLOY_STORAGE_DIR
from logs.alloy import alloy_command, collector_secret_env, render_alloy_config
from logs.pipeline import DOCKER_SOCKET
from logs.promtail import POSITIONS_DIR, render_promtail_config
from render.serialize import to_yaml
from render.gateway import GATED, endpoint_key, gated, runs
from services.exceptions import LOG_COLLECTOR_ROOT
from services.spec import ConfigFile, HostMount, HttpHealthCheck, Resources, Security, ServiceSpec, VolumeSpec
from services.topology import CONTAINER_PORTS, Endpoints
from settings.images import image_has_wget
from settings.model import StackSettings

COLLECTORS = ("alloy", "promtail")
# The journal reader needs the host's machine id to find the host's journal files.
MACHINE_ID = "/etc/machine-id"
# Promtail's positions volume, by its logical name: Alloy borrows it to take over Promtail's positions.
PROMTAIL_POSITIONS = "positions"

COLLECTOR_SECURITY = Security(user="0:0", exception=LOG_COLLECTOR_ROOT)


def static_dir(glob: str) -> str:
    """The directory part of a glob before its first wildcard: what must be mounted to tail it."""
    parts = []
    for part in glob.split("/"):
        if any(char in part for char in "*?[{"):
            break
        parts.append(part)
    else:
        parts = parts[:-1]  # a plain file: mount its directory
    return posixpath.join("/", *parts) if len(parts) > 1 else "/"


def host_mounts(settings: StackSettings) -> tuple[HostMount, ...]:
    """Host paths the collector reads, mounted read-only at the same path."""
    logs = settings.logs
    mounts: list[HostMount] = []
    if logs.containers:
        mounts.append(HostMount(settings.docker.socket_path, DOCKER_SOCKET))
    if logs.journal:
        mounts += [HostMount(logs.journal_path, logs.journal_path), HostMount(MACHINE_ID, MACHINE_ID)]
    for directory in sorted({static_dir(entry.path) for entry in logs.files}):
        mounts.append(HostMount(directory, directory))
    return tuple(mounts)


def _collector(settings: StackSettings, name: str, command: tuple[str, ...], config_dir: str, config: ConfigFile,
               volumes: tuple[VolumeSpec, ...], ready_path: str, secret_env: dict[str, str] | None = None) -> ServiceSpec:
    """What both collectors share: the host paths they read, how they run, and Loki first."""
    own = getattr(settings, name)  # settings.alloy / settings.promtail: image and resources
    return ServiceSpec(
        name=name,
        image=own.image,
        command=command,
        config_dir=config_dir,
        files=(config,),
        secret_env=secret_env or {},
        volumes=volumes,
        host_mounts=host_mounts(settings),
        health=HttpHealthCheck(CONTAINER_PORTS[name], ready_path),
        resources=Resources(cpus=own.resources.cpus, memory_mb=own.resources.memory_mb),
        security=COLLECTOR_SECURITY,
        image_has_wget=image_has_wget(name, own.image),
        # Through the gateway when security.auth gates Loki (render/gateway.py).
        depends_on=("loki", "gateway") if gated(settings, "loki") else ("loki",),
    )


def promtail_service(settings: StackSettings, endpoints: Endpoints) -> ServiceSpec:
    config_dir = "/etc/promtail"
    config = render_promtail_config(settings, endpoints, CONTAINER_PORTS["promtail"])
    return _collector(
        settings,
        "promtail",
        command=(f"-config.file={config_dir}/promtail.yml",),
        config_dir=config_dir,
        config=ConfigFile("promtail.yml", to_yaml(config)),
        # Kept when the stack moves to Alloy, which reads it once to take over the positions.
        volumes=(VolumeSpec(PROMTAIL_POSITIONS, POSITIONS_DIR, outlives_service=True),),
        ready_path="/ready",
    )


def alloy_service(settings: StackSettings, endpoints: Endpoints) -> ServiceSpec:
    port = CONTAINER_PORTS["alloy"]
    config_dir = "/etc/alloy"
    return _collector(
        settings,
        "alloy",
        command=alloy_command(f"{config_dir}/{ALLOY_CONFIG_FILE}", port),
        config_dir=config_dir,
        config=ConfigFile(ALLOY_CONFIG_FILE, render_alloy_config(settings, endpoints, port)),
        volumes=(
            # Positions and component state; kept on a switch back to Promtail, so a later return resumes.
            VolumeSpec("state", ALLOY_STORAGE_DIR, outlives_service=True),
            VolumeSpec(PROMTAIL_POSITIONS, POSITIONS_DIR, borrowed_from="promtail"),
        ),
        ready_path="/-/ready",
        # The password Alloy's own server checks (security.auth; logs/alloy.py `http_block`).
        secret_env=collector_secret_env(settings),
    )


def collector_service(settings: StackSettings, endpoints: Endpoints) -> ServiceSpec:
    if settings.logs.collector == "alloy":
        return alloy_service(settings, endpoints)
    return promtail_service(settings, endpoints)


def without_idle_collector(settings: StackSettings, endpoints: Endpoints) -> dict:
    """The endpoints minus the collector this stack does not run, Tempo or Pyroscope when their
    signal is off, and the monitoring API when it is off (so nothing scrapes or sends to them)."""
    idle = {name for name in COLLECTORS if name != settings.logs.collector}
    idle |= {name for name in ("tempo", "pyroscope") if not runs(settings, name)}
    # The monitoring API when it is off (settings api.enabled).
    idle |= set() if settings.api.enabled else {"monitoring-api"}
    # The gateway's listeners of the services it does not front (render/gateway.py).
    idle |= {endpoint_key(name) for name in GATED if not gated(settings, name)}
    return {name: endpoint for name, endpoint in endpoints.items() if name not in idle}
