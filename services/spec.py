"""A service described once, platform-neutrally; `platforms.*` turn it into resources."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PortSpec:
    name: str
    container_port: int
    # Host port to publish on (Docker) / expose (Kubernetes); None keeps it internal.
    published: int | None = None
    protocol: str = "TCP"


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
    # Left on the host when the service leaves the stack, for its successor to read (not protected,
    # so that removing the service, e.g. switching log collectors, is never refused).
    outlives_service: bool = False
    # Another service's volume (`<service>`'s volume of this name), mounted read-only and never
    # created or deleted by this service.
    borrowed_from: str | None = None
    # Mounted writable instead (the backup job removes the Prometheus snapshots it asked for).
    borrowed_writable: bool = False
    # Which replica's volume, when each replica of the owner keeps its own (a cluster's StatefulSet);
    # a borrower of a volume that attaches to one node at a time runs on that replica's node.
    borrowed_replica: int | None = None
    # Kubernetes: the ConfigMap of this name (one another service keeps, see `ApiWrite`), mounted
    # read-only as a directory instead of a volume of this service's own.
    config_map: str | None = None


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
    # "https" when the service serves TLS (the probe does not verify the certificate: it dials itself).
    scheme: str = "http"
    # A file holding the Authorization header's value, read by the probe at run time, so no
    # credential sits in a container's or pod's definition (security.auth).
    authorization_file: str | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{self.path}"


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

    def __post_init__(self) -> None:
        # Privileged grants every capability: a drop list beside it would be void and misleading.
        if self.privileged and (self.drop_capabilities or self.add_capabilities):
            raise ValueError("a privileged service has every capability: declare no capability drops or adds")
        if self.privileged and not (self.exception and "privileged" in self.exception):
            raise ValueError("a privileged service must say in its exception that it runs privileged")


@dataclass(frozen=True)
class PeerMesh:
    """Replicas that find each other by stable name and gossip on these ports (Alertmanager's cluster)."""

    ports: tuple[PortSpec, ...]


@dataclass(frozen=True)
class ApiRead:
    """Read-only access to cluster objects the service discovers (get, list, watch); ignored on Docker."""

    resources: tuple[str, ...]
    api_group: str = ""
    # Subresources read with a plain GET (e.g. the kubelet's metrics through the API server proxy).
    get_only: bool = False


@dataclass(frozen=True)
class ApiWrite:
    """Write access to one named object in the service's own namespace, which the service keeps
    (a Role allowing `verbs` on that object alone, by resourceNames, bound to its ServiceAccount).
    The platform creates the object empty and never overwrites what the service writes into it.
    Kubernetes only: ignored on Docker."""

    resource: str  # "configmaps": the only kind declared so far
    name: str
    verbs: tuple[str, ...] = ("get", "update", "patch")


@dataclass(frozen=True)
class Schedule:
    """A job run to completion on a cron schedule (`command`), instead of a server running forever."""

    cron: str  # five fields, minute hour day-of-month month day-of-week
    # The same job repeated on `cron` by the image itself, where the platform has no scheduler (Docker).
    loop_command: tuple[str, ...]


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
    # How many copies run where a platform can run several (one host runs one).
    replicas: int = 1
    # Each replica keeps its own name and its own stateful volumes across restarts.
    stable_identity: bool = False
    # One instance on every node (agents that measure or read the node itself).
    per_node: bool = False
    # Which nodes it may run on: any node of the stack's placement, or only GPU nodes.
    node_pool: str = "any"
    # Replicas that form one cluster among themselves.
    peers: PeerMesh | None = None
    # How many replicas may be down at once for voluntary disruptions (drains, upgrades).
    max_unavailable: int | None = None
    # Clients stay on one replica (replicas whose answers may differ slightly, e.g. Prometheus).
    sticky_clients: bool = False
    # Directories the tool writes scratch data to: writable and empty at start under a read-only root.
    scratch_dirs: tuple[str, ...] = ("/tmp",)
    # Cluster objects the service reads to discover what it watches.
    api_reads: tuple[ApiRead, ...] = ()
    # Objects of its namespace the service writes (Kubernetes; least privilege, one object each).
    api_writes: tuple[ApiWrite, ...] = ()
    # Variables set to the running instance's own identity: "name", "ip" or "node" (the node it runs on).
    identity_env: dict[str, str] = field(default_factory=dict)
    # Runs on a schedule (a CronJob on a cluster, a container running its own loop on Docker).
    schedule: Schedule | None = None

    def file(self, relpath: str) -> ConfigFile:
        return next(f for f in self.files if f.relpath == relpath)
