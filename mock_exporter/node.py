"""A simulated Linux host as node_exporter v1.12.1 exposes it (families of exporters/contracts/node.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from mock_exporter.base import ActiveFault, FaultError, HostOptions, Simulator, number_param
from mock_exporter.signals import Counter, Wave, jitter, unit_hash
from mock_exporter.text import header, series_prefix

GIB = 1024**3
# Share of busy time per CPU mode; idle takes the rest. Sums to 1 so CPU seconds advance exactly
# one second per CPU per wall second.
BUSY_SHARES = {"iowait": 0.06, "irq": 0.01, "nice": 0.02, "softirq": 0.04, "steal": 0.03, "system": 0.22, "user": 0.62}
COLLECTORS = ("cpu", "diskstats", "filefd", "filesystem", "loadavg", "meminfo", "netdev", "stat", "time", "timex", "uname", "vmstat")
FS_LABELS = ("device", "device_error", "fstype", "mountpoint")


@dataclass(frozen=True)
class Filesystem:
    device: str
    fstype: str
    mountpoint: str
    size: float
    files: float
    reserved_share: float
    used_share: float


class NodeSimulator(Simulator):
    exporter = "node"
    fault_kinds = frozenset({"cpu_saturation", "memory_pressure", "disk_fill"})

    def __init__(self, options: HostOptions) -> None:
        super().__init__(options)
        seed, boot, cpus = options.seed, options.boot_time, options.cpus
        self.boot = boot
        self.busy = 0.25 + 0.6 * unit_hash(seed, 1)  # how loaded this host is at its daily peak
        self.mem_total = float(GIB * (16 << int(unit_hash(seed, 2) * 3)))
        self.swap_total = float(8 * GIB)
        self.host_wave = self.rhythm = Wave(seed, 0)
        self.cpu_waves = [Wave(seed, 100 + cpu) for cpu in range(cpus)]
        self.cpu_counters: list[tuple[str, Counter, str]] = []
        for cpu in range(cpus):
            for mode in ("idle", *BUSY_SHARES):
                prefix = series_prefix("node_cpu_seconds_total", (("cpu", str(cpu)), ("mode", mode)))
                self.cpu_counters.append((prefix, Counter(self.cpu_waves[cpu], 0, 0, boot), mode))
        self.simple_counters = {
            "node_context_switches_total": Counter(self.host_wave, 1500.0 * cpus, 12000.0 * cpus * self.busy, boot),
            "node_intr_total": Counter(self.host_wave, 800.0 * cpus, 6000.0 * cpus * self.busy, boot),
            "node_forks_total": Counter(self.host_wave, 2.0, 30.0 * self.busy, boot),
            "node_vmstat_pgfault": Counter(self.host_wave, 400.0 * cpus, 4000.0 * cpus * self.busy, boot),
            "node_vmstat_pgmajfault": Counter(self.host_wave, 0.05, 0.5, boot),
            "node_vmstat_pswpin": Counter(self.host_wave, 0.0, 0.01, boot),
            "node_vmstat_pswpout": Counter(self.host_wave, 0.0, 0.02, boot),
            "node_vmstat_oom_kill": Counter(self.host_wave, 0.0, 0.0, boot),
        }
        self.filesystems = self._filesystems()
        self.disks = [f"nvme{i}n1" for i in range(options.disks)]
        self.disk_counters = {disk: self._disk_counters(i) for i, disk in enumerate(self.disks)}
        self.interfaces = ["lo"] + [f"eth{i}" for i in range(options.interfaces)]
        self.net_counters = {dev: self._net_counters(i, dev) for i, dev in enumerate(self.interfaces)}
        self.fill_state: dict[str, float] = {}
        self.pressure_active = False
        self.faults_changed(boot)
        self.static = self._static_lines()

    # --- topology -----------------------------------------------------------------------------
    def _filesystems(self) -> list[Filesystem]:
        seed = self.options.seed
        root_size = float(GIB * (100 + int(unit_hash(seed, 10) * 400)))
        filesystems = [
            Filesystem("/dev/nvme0n1p2", "ext4", "/", root_size, root_size / 16384, 0.05, 0.2 + 0.4 * unit_hash(seed, 11)),
            Filesystem("/dev/nvme0n1p1", "vfat", "/boot/efi", float(512 * 1024**2), 0.0, 0.0, 0.02),
            Filesystem("tmpfs", "tmpfs", "/run", self.mem_total / 10, self.mem_total / 10 / 4096, 0.0, 0.01),
        ]
        for i in range(1, self.options.disks):
            size = float(GIB * (500 + int(unit_hash(seed, 20 + i) * 3500)))
            mount = "/data" if i == 1 else f"/data{i}"
            filesystems.append(Filesystem(f"/dev/nvme{i}n1", "xfs", mount, size, size / 8192, 0.0, 0.1 + 0.7 * unit_hash(seed, 30 + i)))
        return filesystems

    def _disk_counters(self, index: int) -> dict[str, Counter]:
        wave, boot, busy = Wave(self.options.seed, 200 + index), self.boot, self.busy
        return {
            "node_disk_read_bytes_total": Counter(wave, 2e5, 4e7 * busy, boot),
            "node_disk_written_bytes_total": Counter(wave, 5e5, 3e7 * busy, boot),
            "node_disk_reads_completed_total": Counter(wave, 5.0, 600.0 * busy, boot),
            "node_disk_writes_completed_total": Counter(wave, 10.0, 400.0 * busy, boot),
            "node_disk_read_time_seconds_total": Counter(wave, 0.001, 0.15 * busy, boot),
            "node_disk_write_time_seconds_total": Counter(wave, 0.002, 0.2 * busy, boot),
            # Seconds with I/O in flight per second: a utilisation, at most 1.
            "node_disk_io_time_seconds_total": Counter(wave, 0.005, 0.4 * busy, boot),
            "node_disk_io_time_weighted_seconds_total": Counter(wave, 0.005, 0.9 * busy, boot),
        }

    def _net_counters(self, index: int, device: str) -> dict[str, Counter]:
        wave, boot = Wave(self.options.seed, 300 + index), self.boot
        scale = 0.2 if device == "lo" else 1.0 / (1 + index)
        bytes_rate = 5e6 * scale * self.busy
        return {
            "node_network_receive_bytes_total": Counter(wave, 2e4 * scale, bytes_rate, boot),
            "node_network_transmit_bytes_total": Counter(wave, 1e4 * scale, 0.6 * bytes_rate, boot),
            "node_network_receive_packets_total": Counter(wave, 20 * scale, bytes_rate / 900, boot),
            "node_network_transmit_packets_total": Counter(wave, 10 * scale, bytes_rate / 1100, boot),
            "node_network_receive_errs_total": Counter(wave, 0.0, 0.0005 * scale, boot),
            "node_network_transmit_errs_total": Counter(wave, 0.0, 0.0002 * scale, boot),
            "node_network_receive_drop_total": Counter(wave, 0.0, 0.002 * scale, boot),
            "node_network_transmit_drop_total": Counter(wave, 0.0, 0.0, boot),
        }

    def _static_lines(self) -> str:
        out: list[str] = []
        header(out, "node_boot_time_seconds", "gauge", "When the host booted, as a Unix time.")
        out.append(f"node_boot_time_seconds {int(self.boot)}\n")
        header(out, "node_filefd_maximum", "gauge", "Largest number of file descriptors the kernel allows.")
        out.append("node_filefd_maximum 9223372036854775807\n")
        header(out, "node_memory_MemTotal_bytes", "gauge", "MemTotal of /proc/meminfo in bytes.")
        out.append(f"node_memory_MemTotal_bytes {int(self.mem_total)}\n")
        header(out, "node_memory_SwapTotal_bytes", "gauge", "SwapTotal of /proc/meminfo in bytes.")
        out.append(f"node_memory_SwapTotal_bytes {int(self.swap_total)}\n")
        header(out, "node_timex_sync_status", "gauge", "1 while the kernel clock is synchronised, else 0.")
        out.append("node_timex_sync_status 1\n")
        uname = (
            ("domainname", "(none)"), ("machine", "x86_64"), ("nodename", self.options.hostname),
            ("release", "6.1.0-37-amd64"), ("sysname", "Linux"),
            ("version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.140-1 (2025-05-22)"),
        )
        header(out, "node_uname_info", "gauge", "Constant 1 carrying the uname(2) fields as labels.")
        out.append(series_prefix("node_uname_info", uname) + "1\n")
        build = (("branch", "mock"), ("goarch", "amd64"), ("goos", "linux"), ("goversion", "none"),
                 ("revision", "mock"), ("tags", "mock"), ("version", "mock"))
        header(out, "node_exporter_build_info", "gauge", "Constant 1 carrying build details; this one is the mock exporter.")
        out.append(series_prefix("node_exporter_build_info", build) + "1\n")
        return "".join(out)

    # --- faults -------------------------------------------------------------------------------
    def validate_fault(self, fault: ActiveFault) -> None:
        super().validate_fault(fault)
        if fault.kind == "disk_fill":
            mount = fault.params.setdefault("mountpoint", "/")
            if mount not in {fs.mountpoint for fs in self.filesystems}:
                raise FaultError(f"no filesystem mounted at {mount!r}")
            number_param(fault.params, "seconds_to_full", 3600, 10, 30 * 86400)
        if fault.kind == "cpu_saturation":
            number_param(fault.params, "busy", 0.98, 0.5, 1.0)

    def faults_changed(self, now: float) -> None:
        saturation = self.faults.get("cpu_saturation")
        for _, counter, mode in self.cpu_counters:
            if saturation is not None:
                busy = float(saturation.params.get("busy", 0.98))
                base = (1.0 - busy) if mode == "idle" else BUSY_SHARES[mode] * busy
                counter.retune(now, base, 0.0)
            elif mode == "idle":
                counter.retune(now, 1.0, -self.busy)
            else:
                counter.retune(now, 0.0, BUSY_SHARES[mode] * self.busy)
        pressure = "memory_pressure" in self.faults
        majfault = self.simple_counters["node_vmstat_pgmajfault"]
        majfault.retune(now, 200.0, 0.0) if pressure else majfault.retune(now, 0.05, 0.5)
        for name, rate in (("node_vmstat_pswpin", 300.0), ("node_vmstat_pswpout", 500.0)):
            counter = self.simple_counters[name]
            counter.retune(now, rate, 0.0) if pressure else counter.retune(now, 0.0, rate / 30000)
        oom = self.simple_counters["node_vmstat_oom_kill"]
        # One OOM kill when pressure starts, then one every two minutes while it lasts.
        step = 1.0 if pressure and not self.pressure_active else 0.0
        oom.retune(now, 1 / 120, 0.0, step=step) if pressure else oom.retune(now, 0.0, 0.0)
        self.pressure_active = pressure
        if "disk_fill" not in self.faults:
            self.fill_state.clear()

    # --- values -------------------------------------------------------------------------------
    def _utilisation(self, now: float) -> float:
        saturation = self.faults.get("cpu_saturation")
        if saturation is not None:
            return float(saturation.params.get("busy", 0.98))
        return self.busy * self.host_wave.level(now)

    def _memory(self, now: float) -> dict[str, float]:
        seed, total = self.options.seed, self.mem_total
        if "memory_pressure" in self.faults:
            used_share = 0.97 + 0.01 * jitter(seed, 40, now)
        else:
            used_share = 0.2 + 0.45 * self.busy * self.host_wave.level(now) + 0.01 * jitter(seed, 40, now)
        available = total * (1.0 - used_share)
        cached = 0.55 * available
        buffers = 0.03 * available
        free = available - 0.9 * (cached + buffers)
        swap_free = self.swap_total * (0.4 if "memory_pressure" in self.faults else 0.97)
        page = 4096.0
        return {
            "node_memory_MemAvailable_bytes": available // page * page,
            "node_memory_MemFree_bytes": free // page * page,
            "node_memory_Cached_bytes": cached // page * page,
            "node_memory_Buffers_bytes": buffers // page * page,
            "node_memory_SwapFree_bytes": swap_free // page * page,
        }

    def _filesystem_values(self, fs: Filesystem, now: float) -> tuple[float, float, float, float]:
        """size, free, avail, files_free — avail ≤ free ≤ size."""
        used = fs.used_share + 0.02 * self.host_wave.level(now)
        free = fs.size * (1.0 - used)
        reserved = fs.size * fs.reserved_share
        fill = self.faults.get("disk_fill")
        if fill is not None and fill.params["mountpoint"] == fs.mountpoint:
            start_free = self.fill_state.setdefault(fs.mountpoint, free)
            elapsed = max(0.0, now - fill.since)
            free = max(reserved, start_free - (start_free - reserved) * elapsed / float(fill.params.get("seconds_to_full", 3600)))
        avail = max(0.0, free - reserved)
        files_free = fs.files * (1.0 - used / 3)
        block = 4096.0
        return fs.size, free // block * block, avail // block * block, float(int(files_free))

    def render(self, now: float) -> str:
        out: list[str] = []
        seed, cpus = self.options.seed, self.options.cpus
        header(out, "node_cpu_seconds_total", "counter", "CPU seconds spent per CPU and mode.")
        out.extend(f"{prefix}{counter.value(now):.2f}\n" for prefix, counter, _ in self.cpu_counters)
        for name, help_text in (
            ("node_context_switches_total", "Context switches since boot."),
            ("node_intr_total", "Interrupts serviced since boot."),
            ("node_forks_total", "Processes forked since boot."),
        ):
            header(out, name, "counter", help_text)
            out.append(f"{name} {int(self.simple_counters[name].value(now))}\n")
        for name in ("node_vmstat_pgfault", "node_vmstat_pgmajfault", "node_vmstat_pswpin", "node_vmstat_pswpout", "node_vmstat_oom_kill"):
            header(out, name, "untyped", f"{name[12:]} from /proc/vmstat.")
            out.append(f"{name} {int(self.simple_counters[name].value(now))}\n")
        utilisation = self._utilisation(now)
        load = cpus * utilisation * (1.6 if "cpu_saturation" in self.faults else 1.0)
        header(out, "node_procs_running", "gauge", "Runnable processes.")
        out.append(f"node_procs_running {1 + int(load)}\n")
        header(out, "node_procs_blocked", "gauge", "Processes waiting on I/O.")
        out.append(f"node_procs_blocked {int(2 * unit_hash(seed, 41, int(now // 15)))}\n")
        for name, lag in (("node_load1", 0.0), ("node_load5", 150.0), ("node_load15", 450.0)):
            past = self._utilisation(now - lag) if "cpu_saturation" not in self.faults else utilisation
            value = cpus * past * (1.6 if "cpu_saturation" in self.faults else 1.0) + 0.05 * abs(jitter(seed, 42, now))
            header(out, name, "gauge", f"Load average over {name[9:]} minutes.")
            out.append(f"{name} {value:.2f}\n")
        out.append(self.static)
        for name, value in self._memory(now).items():
            header(out, name, "gauge", f"{name[12:-6]} of /proc/meminfo in bytes.")
            out.append(f"{name} {int(value)}\n")
        self._render_filesystems(out, now)
        self._render_devices(out, now, "node_disk_", self.disk_counters)
        header(out, "node_disk_io_now", "gauge", "I/O requests in flight.")
        for i, disk in enumerate(self.disks):
            out.append(f'node_disk_io_now{{device="{disk}"}} {int(4 * self.busy * unit_hash(seed, 50 + i, int(now // 5)))}\n')
        self._render_devices(out, now, "node_network_", self.net_counters)
        header(out, "node_network_up", "gauge", "1 when the interface is operationally up.")
        for dev in self.interfaces:
            out.append(f'node_network_up{{device="{dev}"}} {0 if dev == "lo" else 1}\n')
        header(out, "node_filefd_allocated", "gauge", "File descriptors in use.")
        out.append(f"node_filefd_allocated {int(1500 + 3000 * utilisation + 50 * jitter(seed, 43, now))}\n")
        header(out, "node_timex_offset_seconds", "gauge", "Offset of the local clock from its reference, in seconds.")
        out.append(f"node_timex_offset_seconds {0.0004 * jitter(seed, 44, now):.6f}\n")
        header(out, "node_time_seconds", "gauge", "Current system time as a Unix time.")
        out.append(f"node_time_seconds {now!r}\n")
        header(out, "node_scrape_collector_duration_seconds", "gauge", "Seconds each collector took in this scrape.")
        for i, collector in enumerate(COLLECTORS):
            out.append(f'node_scrape_collector_duration_seconds{{collector="{collector}"}} {0.0001 + 0.002 * unit_hash(seed, 60 + i, int(now)):.6f}\n')
        header(out, "node_scrape_collector_success", "gauge", "1 when the collector succeeded in this scrape.")
        for collector in COLLECTORS:
            out.append(f'node_scrape_collector_success{{collector="{collector}"}} 1\n')
        return "".join(out)

    def _render_filesystems(self, out: list[str], now: float) -> None:
        values = [self._filesystem_values(fs, now) for fs in self.filesystems]
        labels = [
            tuple(zip(FS_LABELS, (fs.device, "", fs.fstype, fs.mountpoint))) for fs in self.filesystems
        ]
        columns = (
            ("node_filesystem_size_bytes", "Size of the filesystem in bytes.", lambda v, fs: v[0]),
            ("node_filesystem_free_bytes", "Free bytes, root reserve included.", lambda v, fs: v[1]),
            ("node_filesystem_avail_bytes", "Bytes unprivileged users can still write.", lambda v, fs: v[2]),
            ("node_filesystem_files", "Inodes of the filesystem.", lambda v, fs: fs.files),
            ("node_filesystem_files_free", "Free inodes of the filesystem.", lambda v, fs: v[3]),
            ("node_filesystem_readonly", "1 when mounted read-only.", lambda v, fs: 0),
            ("node_filesystem_device_error", "1 when statfs failed for this mount.", lambda v, fs: 0),
        )
        for name, help_text, pick in columns:
            header(out, name, "gauge", help_text)
            for fs, value, label in zip(self.filesystems, values, labels):
                out.append(f"{series_prefix(name, label)}{int(pick(value, fs))}\n")

    @staticmethod
    def _render_devices(out: list[str], now: float, prefix: str, counters: dict[str, dict[str, Counter]]) -> None:
        names = next(iter(counters.values())).keys()
        for name in names:
            header(out, name, "counter", f"{name[len(prefix):].replace('_', ' ')} per device.")
            for device, by_name in counters.items():
                value = by_name[name].value(now)
                text = f"{value:.3f}" if "seconds" in name else str(int(value))
                out.append(f'{name}{{device="{device}"}} {text}\n')
