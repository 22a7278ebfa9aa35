"""A service described once, platform-neutrally; `platforms.*` turn it into resources."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PortSpec:
    name: str
    container_port: int
    # Host port to publish on (Docker) / expose (Kubernetes); None keeps it internal.
    published: int | None = None


@dataclass(frozen=True)
class ConfigFile:
    """A rendered document delivered into the container under the service's config directory."""

    relpath: str  # e.g. "prometheus.yml" or "rules/node.yml"
    content: str


@dataclass(frozen=True)
class SecretFile:
    """A secret (by its settings key) delivered as a file under /run/secrets, readable only by the service user."""

    secret_key: str
    file_name: str


@dataclass(frozen=True)
class VolumeSpec:
    name: str  # logical name, e.g. "data"
    mount_path: str
    stateful: bool = True  # holds data that must survive re-creation (protected in prod)


@dataclass(frozen=True)
class HostMount:
    """A path of the host mounted into the container (always read-only here)."""

    host_path: str
    mount_path: str
    # "rslave" lets mounts made on the host later (new disks) show up inside, as node_exporter documents.
    propagation: str | None = None


@dataclass(frozen=True)
class HttpHealthCheck:
    port: int
    path: str
    # Address the probe uses from inside the container (a host-network service may listen elsewhere).
    host: str = "127.0.0.1"
    interval_s: int = 15
    timeout_s: int = 5
    retries: int = 5
    start_period_s: int = 30


@dataclass(frozen=True)
class Resources:
    cpus: float
    memory_mb: int


@dataclass(frozen=True)
class Security:
    user: str | None  # uid[:gid]; None keeps the image's own user
    drop_capabilities: tuple[str, ...] = ("ALL",)
    add_capabilities: tuple[str, ...] = ()
    no_new_privileges: bool = True
    # Host namespaces and device access, each a documented exception (see `exception`).
    host_pid: bool = False
    host_network: bool = False
    privileged: bool = False
    devices: tuple[str, ...] = ()
    gpus: str | None = None
    # Why this service needs more than the defaults (shown in docs and checked by policy).
    exception: str | None = None


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    image: str
    command: tuple[str, ...]
    config_dir: str
    health: HttpHealthCheck
    resources: Resources
    security: Security
    image_has_wget: bool
    ports: tuple[PortSpec, ...] = ()
    files: tuple[ConfigFile, ...] = ()
    secret_files: tuple[SecretFile, ...] = ()
    volumes: tuple[VolumeSpec, ...] = ()
    host_mounts: tuple[HostMount, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    # Environment variables whose value is a secret (variable -> secret key), for tools without *_file options.
    secret_env: dict[str, str] = field(default_factory=dict)
    # A health probe command for images whose only HTTP client is not wget (e.g. python).
    health_command: tuple[str, ...] | None = None
    # Built from this repository (the mock exporters) instead of pulled from a registry.
    built_image: bool = False
    # Services that must be healthy before this one starts.
    depends_on: tuple[str, ...] = ()

    def file(self, relpath: str) -> ConfigFile:
        return next(f for f in self.files if f.relpath == relpath)
