"""The log collector's service description: Promtail or Grafana Alloy, chosen by `logs.collector`.

Both run the one pipeline of `logs.pipeline`, read the same host paths (Docker socket, journal,
listed files) and ship to the same Loki, so switching collectors is a one-setting rollout.
"""

from __future__ import annotations

import posixpath

from logs.alloy import CONFIG_FILE as ALLOY_CONFIG_FILE
from logs.alloy import DATA_DIR as ALLOY_DATA_DIR
from logs.alloy import alloy_command, render_alloy_config
from logs.pipeline import DOCKER_SOCKET, JOURNAL_DIR
from logs.promtail import POSITIONS_DIR, render_promtail_config
from render.serialize import to_yaml
from services.spec import ConfigFile, HostMount, HttpHealthCheck, Resources, Security, ServiceSpec, VolumeSpec
from services.topology import CONTAINER_PORTS, Endpoints
from settings.images import image_has_wget
from settings.model import StackSettings

COLLECTORS = ("promtail", "alloy")
# The journal reader needs the host's machine id to find the host's journal files.
MACHINE_ID = "/etc/machine-id"

_ROOT_REASON = "reads container logs through the Docker socket and the host's journal, which only root may open"


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
        mounts += [HostMount(JOURNAL_DIR, JOURNAL_DIR), HostMount(MACHINE_ID, MACHINE_ID)]
    for directory in sorted({static_dir(entry.path) for entry in logs.files}):
        mounts.append(HostMount(directory, directory))
    return tuple(mounts)


def promtail_service(settings: StackSettings, endpoints: Endpoints) -> ServiceSpec:
    port = CONTAINER_PORTS["promtail"]
    config_dir = "/etc/promtail"
    return ServiceSpec(
        name="promtail",
        image=settings.promtail.image,
        command=(f"-config.file={config_dir}/promtail.yml",),
        config_dir=config_dir,
        files=(ConfigFile("promtail.yml", to_yaml(render_promtail_config(settings, endpoints, port))),),
        volumes=(VolumeSpec("positions", POSITIONS_DIR),),
        host_mounts=host_mounts(settings),
        health=HttpHealthCheck(port, "/ready"),
        resources=Resources(cpus=settings.promtail.resources.cpus, memory_mb=settings.promtail.resources.memory_mb),
        security=Security(user="0:0", exception=_ROOT_REASON),
        image_has_wget=image_has_wget("promtail", settings.promtail.image),
        depends_on=("loki",),
    )


def alloy_service(settings: StackSettings, endpoints: Endpoints) -> ServiceSpec:
    port = CONTAINER_PORTS["alloy"]
    config_dir = "/etc/alloy"
    return ServiceSpec(
        name="alloy",
        image=settings.alloy.image,
        command=alloy_command(f"{config_dir}/{ALLOY_CONFIG_FILE}", port),
        config_dir=config_dir,
        files=(ConfigFile(ALLOY_CONFIG_FILE, render_alloy_config(settings, endpoints, port)),),
        # Read positions and the write-ahead state live under the storage path.
        volumes=(VolumeSpec("data", ALLOY_DATA_DIR),),
        host_mounts=host_mounts(settings),
        health=HttpHealthCheck(port, "/-/ready"),
        resources=Resources(cpus=settings.alloy.resources.cpus, memory_mb=settings.alloy.resources.memory_mb),
        security=Security(user="0:0", exception=_ROOT_REASON),
        image_has_wget=image_has_wget("alloy", settings.alloy.image),
        depends_on=("loki",),
    )


def collector_service(settings: StackSettings, endpoints: Endpoints) -> ServiceSpec:
    if settings.logs.collector == "alloy":
        return alloy_service(settings, endpoints)
    return promtail_service(settings, endpoints)


def without_idle_collector(settings: StackSettings, endpoints: Endpoints) -> dict:
    """The endpoints minus the collector this stack does not run (so nothing scrapes it)."""
    return {name: endpoint for name, endpoint in endpoints.items() if name not in COLLECTORS or name == settings.logs.collector}
