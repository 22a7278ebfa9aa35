"""A simulated Docker host as cAdvisor v0.60.5 exposes it, with labels id, name and image only
(cAdvisor run with --store_container_labels=false). Container samples carry a millisecond
timestamp, as cAdvisor's do."""

from __future__ import annotations

from dataclasses import dataclass, field

from mock_exporter.base import ActiveFault, FaultError, HostOptions, Simulator
from mock_exporter.signals import Counter, Wave, unit_hash
from mock_exporter.text import header, series_prefix

GIB = 1024**3
WORKLOADS = (
    ("api", "ghcr.io/example/api:2.4.1", 2.0, 2 * GIB),
    ("worker", "ghcr.io/example/worker:2.4.1", 1.0, 1 * GIB),
    ("postgres", "postgres:16.4", 4.0, 8 * GIB),
    ("redis", "redis:7.4.1", 1.0, 2 * GIB),
    ("nginx", "nginx:1.27.2", 0.5, 256 * 1024**2),
    ("vllm", "vllm/vllm-openai:v0.10.1", 8.0, 0),
    ("prometheus", "prom/prometheus:v3.5.0", 2.0, 4 * GIB),
    ("grafana", "grafana/grafana:11.6.0", 1.0, 1 * GIB),
    ("loki", "grafana/loki:3.5.0", 1.0, 2 * GIB),
    ("alertmanager", "prom/alertmanager:v0.28.1", 0.25, 256 * 1024**2),
    ("node-exporter", "prom/node-exporter:v1.12.1", 0.0, 0),
    ("cadvisor", "ghcr.io/google/cadvisor:v0.60.5", 0.0, 0),
)
CFS_PERIOD_US = 100_000
ROOT_DEVICE = "/dev/nvme0n1p2"


@dataclass
class Container:
    cgroup: str
    name: str
    image: str
    cpu_limit: float  # cores, 0 = no quota
    memory_limit: float  # bytes, 0 = unlimited
    weight: float
    wave: Wave
    started: float
    counters: dict[str, Counter] = field(default_factory=dict)
    oom: Counter | None = None

    @property
    def labels(self) -> tuple[tuple[str, str], ...]:
        return (("id", self.cgroup), ("image", self.image), ("name", self.name))


class CadvisorSimulator(Simulator):
    exporter = "cadvisor"
    fault_kinds = frozenset({"oom", "restart"})

    def __init__(self, options: HostOptions) -> None:
        super().__init__(options)
        seed = options.seed
        self.boot = options.boot_time
        self.cores = options.cpus * 4
        self.memory = float(GIB * 64)
        self.fs_size = float(GIB * 500)
        self.containers = [self._container(i) for i in range(options.containers)]
        self.root_wave = self.rhythm = Wave(seed, 999)
        self.retired_cpu = 0.0
        # Host processes outside containers: the root cgroup is their sum plus this.
        self.root_extra = {
            "cpu": Counter(self.root_wave, 0.2, 0.5, self.boot),
            "rx": Counter(self.root_wave, 1e4, 2e6, self.boot),
            "tx": Counter(self.root_wave, 1e4, 1e6, self.boot),
        }
        self.ids = {
            "machine_id": f"{int(unit_hash(seed, 5) * 2**64):016x}{int(unit_hash(seed, 6) * 2**64):016x}",
            "system_uuid": f"ec2{int(unit_hash(seed, 7) * 2**32):08x}-0000-0000-0000-{int(unit_hash(seed, 8) * 2**48):012x}",
            "boot_id": f"{int(unit_hash(seed, 9) * 2**32):08x}-{int(unit_hash(seed, 10) * 2**16):04x}-4000-8000-{int(unit_hash(seed, 11) * 2**48):012x}",
        }

    def _container(self, index: int) -> Container:
        seed = self.options.seed
        name, image, cpu_limit, memory_limit = WORKLOADS[index % len(WORKLOADS)]
        if index >= len(WORKLOADS):
            name = f"{name}-{index // len(WORKLOADS) + 1}"
        digest = "".join(f"{int(unit_hash(seed, 1000 + index, part) * 2**32):08x}" for part in range(8))
        started = self.boot + 60 + unit_hash(seed, 2000 + index) * 3600
        container = Container(
            cgroup=f"/system.slice/docker-{digest}.scope",
            name=name,
            image=image,
            cpu_limit=cpu_limit,
            memory_limit=float(memory_limit),
            weight=0.05 + 0.6 * unit_hash(seed, 3000 + index),
            wave=Wave(seed, 4000 + index),
            started=started,
        )
        self._start_counters(container)
        return container

    def _start_counters(self, c: Container) -> None:
        cores = c.cpu_limit or 2.0
        usage = 0.8 * cores * c.weight  # peak share of its cores a container uses
        t = c.started
        c.counters = {
            "user": Counter(c.wave, 0.001, 0.8 * usage, t),
            "system": Counter(c.wave, 0.0005, 0.2 * usage, t),
            "periods": Counter(c.wave, 1e6 / CFS_PERIOD_US, 0.0, t),
            "throttled_periods": Counter(c.wave, 0.0, 2.0 * c.weight, t),
            "throttled_seconds": Counter(c.wave, 0.0, 0.05 * c.weight, t),
            "rx": Counter(c.wave, 500.0, 2e6 * c.weight, t),
            "tx": Counter(c.wave, 300.0, 1e6 * c.weight, t),
            "rx_errors": Counter(c.wave, 0.0, 0.0001, t),
            "tx_errors": Counter(c.wave, 0.0, 0.0, t),
            "rx_dropped": Counter(c.wave, 0.0, 0.001, t),
            "fs_reads": Counter(c.wave, 100.0, 5e5 * c.weight, t),
            "fs_writes": Counter(c.wave, 200.0, 8e5 * c.weight, t),
            "pgfault": Counter(c.wave, 10.0, 500.0 * c.weight, t),
            "pgmajfault": Counter(c.wave, 0.0, 0.05, t),
        }
        c.oom = Counter(c.wave, 0.0, 0.0, t)

    def _find(self, name: str) -> Container:
        for container in self.containers:
            if container.name == name:
                return container
        raise FaultError(f"no container named {name!r}")

    def validate_fault(self, fault: ActiveFault) -> None:
        super().validate_fault(fault)
        if fault.kind in ("oom", "restart"):
            limited = next((c.name for c in self.containers if c.memory_limit > 0), self.containers[0].name)
            self._find(fault.params.setdefault("container", limited))

    def add_fault(self, now: float, kind: str, params: dict) -> ActiveFault:
        fault = super().add_fault(now, kind, params)
        if kind == "restart":
            container = self._find(fault.params["container"])
            # The root cgroup keeps what the old container used: its counters must not drop.
            self.retired_cpu += container.counters["user"].value(now) + container.counters["system"].value(now)
            container.started = now
            self._start_counters(container)
            self.faults_changed(now)
        return fault

    def faults_changed(self, now: float) -> None:
        oom = self.faults.get("oom")
        for c in self.containers:
            assert c.oom is not None
            hit = oom is not None and oom.params["container"] == c.name
            if hit and c.oom.base == 0.0:
                c.oom.retune(now, 1 / 60, 0.0, step=1.0)  # killed now, then once a minute
                c.counters["pgmajfault"].retune(now, 50.0, 0.0)
            elif not hit and c.oom.base > 0.0:
                c.oom.retune(now, 0.0, 0.0)
                c.counters["pgmajfault"].retune(now, 0.0, 0.05)

    def _working_set(self, c: Container, now: float) -> float:
        ceiling = c.memory_limit or 4 * GIB
        oom = self.faults.get("oom")
        if oom is not None and oom.params["container"] == c.name:
            return ceiling * 0.995
        return ceiling * (0.15 + 0.6 * c.weight * c.wave.level(now))

    def render(self, now: float) -> str:
        out: list[str] = []
        stamp = f" {int((now - self.options.clock_offset) * 1000)}\n"
        rows = [(c, c.labels) for c in self.containers]
        root_labels = (("id", "/"), ("image", ""), ("name", ""))

        def family(name: str, kind: str, help_text: str, values: list[tuple[str, float]], integer: bool = False) -> None:
            header(out, name, kind, help_text)
            for prefix, value in values:
                out.append(prefix + (str(int(value)) if integer else repr(float(value))) + stamp)

        user = {c.name: c.counters["user"].value(now) for c in self.containers}
        system = {c.name: c.counters["system"].value(now) for c in self.containers}
        root_cpu = sum(user.values()) + sum(system.values()) + self.retired_cpu + self.root_extra["cpu"].value(now)
        family("container_cpu_usage_seconds_total", "counter", "CPU seconds used, all CPUs together.",
               [(series_prefix("container_cpu_usage_seconds_total", (("cpu", "total"),) + root_labels), root_cpu)]
               + [(series_prefix("container_cpu_usage_seconds_total", (("cpu", "total"),) + labels), user[c.name] + system[c.name]) for c, labels in rows])
        family("container_cpu_user_seconds_total", "counter", "User CPU seconds used.",
               [(series_prefix("container_cpu_user_seconds_total", labels), user[c.name]) for c, labels in rows])
        family("container_cpu_system_seconds_total", "counter", "System CPU seconds used.",
               [(series_prefix("container_cpu_system_seconds_total", labels), system[c.name]) for c, labels in rows])
        quota = [(c, labels) for c, labels in rows if c.cpu_limit > 0]
        for name, key, help_text in (
            ("container_cpu_cfs_periods_total", "periods", "CFS periods elapsed."),
            ("container_cpu_cfs_throttled_periods_total", "throttled_periods", "CFS periods with throttling."),
            ("container_cpu_cfs_throttled_seconds_total", "throttled_seconds", "Seconds spent throttled."),
        ):
            family(name, "counter", help_text, [(series_prefix(name, labels), c.counters[key].value(now)) for c, labels in quota], integer=key != "throttled_seconds")
        working = {c.name: self._working_set(c, now) for c in self.containers}
        cache = {c.name: working[c.name] * 0.3 for c in self.containers}
        memory_rows = (
            ("container_memory_usage_bytes", "Memory in use, page cache included.", lambda c: working[c.name] + cache[c.name] * 0.5),
            ("container_memory_working_set_bytes", "Working set in bytes.", lambda c: working[c.name]),
            ("container_memory_rss", "Anonymous resident memory in bytes.", lambda c: working[c.name] * 0.8),
            ("container_memory_cache", "Page cache in bytes.", lambda c: cache[c.name]),
            ("container_memory_swap", "Swap in use in bytes.", lambda c: 0.0),
        )
        root_working = sum(working.values()) + 2 * GIB
        for name, help_text, pick in memory_rows:
            root_value = {"container_memory_swap": 0.0}.get(name, root_working if name != "container_memory_cache" else sum(cache.values()))
            family(name, "gauge", help_text, [(series_prefix(name, root_labels), root_value)]
                   + [(series_prefix(name, labels), pick(c)) for c, labels in rows], integer=True)
        header(out, "container_memory_failures_total", "counter", "Memory allocation failures.")
        for c, labels in rows:
            for failure_type, key in (("pgfault", "pgfault"), ("pgmajfault", "pgmajfault")):
                value = int(c.counters[key].value(now))
                for scope in ("container", "hierarchy"):
                    out.append(series_prefix("container_memory_failures_total", (("failure_type", failure_type),) + labels + (("scope", scope),)) + str(value) + stamp)
        family("container_oom_events_total", "counter", "OOM kills in the container.",
               [(series_prefix("container_oom_events_total", labels), c.oom.value(now) if c.oom else 0.0) for c, labels in rows], integer=True)
        family("container_spec_memory_limit_bytes", "gauge", "Memory limit in bytes, 0 when unlimited.",
               [(series_prefix("container_spec_memory_limit_bytes", root_labels), 0.0)]
               + [(series_prefix("container_spec_memory_limit_bytes", labels), c.memory_limit) for c, labels in rows], integer=True)
        family("container_spec_cpu_quota", "gauge", "CFS quota in microseconds per period.",
               [(series_prefix("container_spec_cpu_quota", labels), c.cpu_limit * CFS_PERIOD_US) for c, labels in quota], integer=True)
        family("container_spec_cpu_period", "gauge", "CFS period in microseconds.",
               [(series_prefix("container_spec_cpu_period", labels), CFS_PERIOD_US) for c, labels in rows], integer=True)
        family("container_spec_cpu_shares", "gauge", "CPU shares.",
               [(series_prefix("container_spec_cpu_shares", root_labels), 1024)]
               + [(series_prefix("container_spec_cpu_shares", labels), 1024) for c, labels in rows], integer=True)
        networked = [(c, labels + (("interface", "eth0"),)) for c, labels in rows if c.name not in ("node-exporter", "cadvisor")]
        root_net = root_labels + (("interface", "eth0"),)
        for name, key, help_text in (
            ("container_network_receive_bytes_total", "rx", "Bytes received."),
            ("container_network_transmit_bytes_total", "tx", "Bytes sent."),
            ("container_network_receive_errors_total", "rx_errors", "Receive errors."),
            ("container_network_transmit_errors_total", "tx_errors", "Transmit errors."),
            ("container_network_receive_packets_dropped_total", "rx_dropped", "Received packets dropped."),
        ):
            root_value = self.root_extra[key].value(now) if key in self.root_extra else 0.0
            family(name, "counter", help_text, [(series_prefix(name, _sorted(root_net)), root_value)]
                   + [(series_prefix(name, _sorted(labels)), c.counters[key].value(now)) for c, labels in networked], integer=True)
        fs_rows = [(c, (("device", ROOT_DEVICE),) + labels) for c, labels in rows]
        family("container_fs_usage_bytes", "gauge", "Bytes used on the filesystem.",
               [(series_prefix("container_fs_usage_bytes", labels), 4096 * int((50e6 + 2e9 * c.weight) / 4096)) for c, labels in fs_rows], integer=True)
        family("container_fs_limit_bytes", "gauge", "Bytes the filesystem can hold.",
               [(series_prefix("container_fs_limit_bytes", labels), self.fs_size) for c, labels in fs_rows], integer=True)
        family("container_fs_reads_bytes_total", "counter", "Bytes read.",
               [(series_prefix("container_fs_reads_bytes_total", labels), c.counters["fs_reads"].value(now)) for c, labels in fs_rows], integer=True)
        family("container_fs_writes_bytes_total", "counter", "Bytes written.",
               [(series_prefix("container_fs_writes_bytes_total", labels), c.counters["fs_writes"].value(now)) for c, labels in fs_rows], integer=True)
        family("container_start_time_seconds", "gauge", "Start time as a Unix time.",
               [(series_prefix("container_start_time_seconds", root_labels), self.boot)]
               + [(series_prefix("container_start_time_seconds", labels), c.started) for c, labels in rows])
        family("container_last_seen", "gauge", "When the exporter last saw the container, as a Unix time.",
               [(series_prefix("container_last_seen", root_labels), float(int(now)))]
               + [(series_prefix("container_last_seen", labels), float(int(now))) for c, labels in rows], integer=True)
        machine = tuple(sorted(self.ids.items()))
        header(out, "machine_cpu_cores", "gauge", "Logical CPU cores.")
        out.append(series_prefix("machine_cpu_cores", machine) + str(self.cores) + stamp)
        header(out, "machine_memory_bytes", "gauge", "Installed memory in bytes.")
        out.append(series_prefix("machine_memory_bytes", machine) + str(int(self.memory)) + stamp)
        header(out, "cadvisor_version_info", "gauge", "Constant 1 carrying versions; this one is the mock exporter.")
        out.append(series_prefix("cadvisor_version_info", (
            ("cadvisorRevision", "mock"), ("cadvisorVersion", "mock"), ("dockerVersion", "28.3.3"),
            ("kernelVersion", "6.1.0-37-amd64"), ("osVersion", "Debian GNU/Linux 12 (bookworm)"),
        )) + "1\n")
        return "".join(out)


def _sorted(labels: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels))
