"""Node (host) recording rules and alerts: CPU, memory, filesystems, file descriptors, clock, OOM."""

from __future__ import annotations

from dataclasses import dataclass

from rules.common import RuleContext, sel
from rules.model import AlertCase, AlertRule, ExpectedAlert, RecordingRule, RuleGroup, RuleModule, Series
from rules.text import INSTANCE, THRESHOLD, VALUE_DURATION, VALUE_PCT, label
from settings.types import duration_seconds


@dataclass(frozen=True)
class NodeConfig:
    # Which series are node-exporter series (mock or real): by exporter label, never by job.
    selector: str = 'exporter="node"'
    # Filesystems that are not real disks (their free space says nothing about capacity).
    pseudo_fstypes: str = "tmpfs|overlay|squashfs|ramfs|nsfs"
    # Window of the recorded rates (the contract names them rate5m).
    rate_window: str = "5m"
    # Filling-up forecast: the trend over `fill_lookback`, extrapolated `fill_horizon` ahead.
    fill_lookback: str = "6h"
    fill_horizon: str = "24h"
    # Window over which clock synchronisation must have failed throughout.
    sync_window: str = "5m"


CONFIG = NodeConfig()

# Labels of the test series: one mock node-exporter target.
_T = {"env": "test", "exporter": "node", "source": "mock", "job": "node-mock", "instance": "host-1:9100"}
_TL = ",".join(f'{k}="{v}"' for k, v in _T.items())
_FS = 'device="/dev/sda1",fstype="ext4",mountpoint="/"'
_FS_LABELS = {**_T, "device": "/dev/sda1", "fstype": "ext4", "mountpoint": "/"}
IDLE = 'mode="idle"'
NOT_LOOPBACK = 'device!="lo"'


def recordings(c: NodeConfig) -> tuple[RecordingRule, ...]:
    s, w = c.selector, c.rate_window
    real_fs = f'fstype!~"{c.pseudo_fstypes}"'
    return (
        RecordingRule(
            "instance:node_cpu_utilisation:rate5m",
            f'1 - avg without (cpu, mode) (rate(node_cpu_seconds_total{sel(s, IDLE)}[{w}]))',
        ),
        RecordingRule(
            "instance:node_memory_utilisation:ratio",
            f"1 - node_memory_MemAvailable_bytes{sel(s)} / node_memory_MemTotal_bytes{sel(s)}",
        ),
        RecordingRule(
            "instance:node_load1_per_cpu:ratio",
            f'node_load1{sel(s)} / count without (cpu, mode) (node_cpu_seconds_total{sel(s, IDLE)})',
        ),
        RecordingRule(
            "instance:node_network_receive_bytes_excluding_lo:rate5m",
            f'sum without (device) (rate(node_network_receive_bytes_total{sel(s, NOT_LOOPBACK)}[{w}]))',
        ),
        RecordingRule(
            "instance:node_network_transmit_bytes_excluding_lo:rate5m",
            f'sum without (device) (rate(node_network_transmit_bytes_total{sel(s, NOT_LOOPBACK)}[{w}]))',
        ),
        RecordingRule(
            "instance_device:node_disk_io_time_seconds:rate5m",
            f"rate(node_disk_io_time_seconds_total{sel(s)}[{w}])",
        ),
        RecordingRule(
            "instance_mountpoint:node_filesystem_avail_bytes:ratio",
            f"node_filesystem_avail_bytes{sel(s, real_fs)} / node_filesystem_size_bytes{sel(s, real_fs)}",
        ),
    )


def alerts(c: NodeConfig) -> tuple[AlertRule, ...]:
    s, w = c.selector, c.rate_window
    real_fs = f'fstype!~"{c.pseudo_fstypes}"'
    mount = label("mountpoint")
    return (
        AlertRule(
            name="NodeHighCpuUtilisation",
            expr=f"instance:node_cpu_utilisation:rate5m{sel(s)} > {{threshold}}",
            threshold=0.9,
            threshold_format="{:.0%}",
            for_="15m",
            severity="warning",
            summary=f"CPU of {INSTANCE} is {VALUE_PCT} busy.",
            description=f"Average CPU utilisation of {INSTANCE} has stayed above {THRESHOLD}; "
            "work on this host queues and slows down.",
            dashboard="node",
            cases=(
                AlertCase(
                    "busy",
                    (Series(f'node_cpu_seconds_total{{{_TL},cpu="0",mode="idle"}}', "0+3x30"),),
                    "20m",
                    (ExpectedAlert(_T, "CPU of host-1:9100 is 95% busy.",
                                   "Average CPU utilisation of host-1:9100 has stayed above 90%; "
                                   "work on this host queues and slows down."),),
                ),
                AlertCase("half idle", (Series(f'node_cpu_seconds_total{{{_TL},cpu="0",mode="idle"}}', "0+30x30"),), "20m"),
            ),
        ),
        AlertRule(
            name="NodeHighMemoryUtilisation",
            expr=f"instance:node_memory_utilisation:ratio{sel(s)} > {{threshold}}",
            threshold=0.9,
            threshold_format="{:.0%}",
            for_="15m",
            severity="warning",
            summary=f"Memory of {INSTANCE} is {VALUE_PCT} used.",
            description=f"Memory use of {INSTANCE} has stayed above {THRESHOLD}; the OOM killer may start ending "
            "processes.",
            dashboard="node",
            cases=(
                AlertCase(
                    "nearly full",
                    (
                        Series(f"node_memory_MemAvailable_bytes{{{_TL}}}", "500000000x30"),
                        Series(f"node_memory_MemTotal_bytes{{{_TL}}}", "10000000000x30"),
                    ),
                    "20m",
                    (ExpectedAlert(_T, "Memory of host-1:9100 is 95% used.",
                                   "Memory use of host-1:9100 has stayed above 90%; the OOM killer may start ending "
                                   "processes."),),
                ),
                AlertCase(
                    "half used",
                    (
                        Series(f"node_memory_MemAvailable_bytes{{{_TL}}}", "5000000000x30"),
                        Series(f"node_memory_MemTotal_bytes{{{_TL}}}", "10000000000x30"),
                    ),
                    "20m",
                ),
            ),
        ),
        AlertRule(
            name="NodeFilesystemSpaceFillingUp",
            expr=f"instance_mountpoint:node_filesystem_avail_bytes:ratio{sel(s)} < {{threshold}}"
            f" and predict_linear(node_filesystem_avail_bytes{sel(s, real_fs)}[{c.fill_lookback}], "
            f"{duration_seconds(c.fill_horizon):g}) < 0",
            threshold=0.4,
            threshold_format="{:.0%}",
            for_="1h",
            severity="warning",
            summary=f"Filesystem {mount} on {INSTANCE} will be full within {c.fill_horizon} at its current rate.",
            description=f"{mount} on {INSTANCE} has {VALUE_PCT} space left (below {THRESHOLD}) and the trend of the "
            f"last {c.fill_lookback} reaches zero within {c.fill_horizon}.",
            dashboard="node",
            cases=(
                AlertCase(
                    "filling",
                    (
                        Series(f"node_filesystem_avail_bytes{{{_TL},{_FS}}}", "30000000000-100000000x80"),
                        Series(f"node_filesystem_size_bytes{{{_TL},{_FS}}}", "100000000000x80"),
                    ),
                    "70m",
                    (ExpectedAlert(_FS_LABELS, "Filesystem / on host-1:9100 will be full within 24h at its current rate.",
                                   "/ on host-1:9100 has 23% space left (below 40%) and the trend of the last 6h "
                                   "reaches zero within 24h."),),
                ),
                AlertCase(
                    "low but steady",
                    (
                        Series(f"node_filesystem_avail_bytes{{{_TL},{_FS}}}", "30000000000x80"),
                        Series(f"node_filesystem_size_bytes{{{_TL},{_FS}}}", "100000000000x80"),
                    ),
                    "70m",
                ),
            ),
        ),
        AlertRule(
            name="NodeFilesystemAlmostOutOfSpace",
            expr=f"instance_mountpoint:node_filesystem_avail_bytes:ratio{sel(s)} < {{threshold}}",
            threshold=0.05,
            threshold_format="{:.0%}",
            for_="30m",
            severity="critical",
            summary=f"Filesystem {mount} on {INSTANCE} has {VALUE_PCT} space left.",
            description=f"Free space on {mount} of {INSTANCE} has stayed below {THRESHOLD}; writes will fail "
            "when it reaches zero.",
            dashboard="node",
            cases=(
                AlertCase(
                    "almost full",
                    (
                        Series(f"node_filesystem_avail_bytes{{{_TL},{_FS}}}", "2000000000x50"),
                        Series(f"node_filesystem_size_bytes{{{_TL},{_FS}}}", "100000000000x50"),
                    ),
                    "40m",
                    (ExpectedAlert(_FS_LABELS, "Filesystem / on host-1:9100 has 2% space left.",
                                   "Free space on / of host-1:9100 has stayed below 5%; writes will fail when it "
                                   "reaches zero."),),
                ),
                AlertCase(
                    "pseudo filesystem ignored",
                    (
                        Series(f'node_filesystem_avail_bytes{{{_TL},device="tmpfs",fstype="tmpfs",mountpoint="/run"}}', "0x50"),
                        Series(f'node_filesystem_size_bytes{{{_TL},device="tmpfs",fstype="tmpfs",mountpoint="/run"}}', "1000x50"),
                    ),
                    "40m",
                ),
            ),
        ),
        AlertRule(
            name="NodeFileDescriptorsExhausting",
            expr=f"node_filefd_allocated{sel(s)} / node_filefd_maximum{sel(s)} > {{threshold}}",
            threshold=0.9,
            threshold_format="{:.0%}",
            for_="15m",
            severity="warning",
            summary=f"{INSTANCE} uses {VALUE_PCT} of its file descriptors.",
            description=f"Allocated file descriptors on {INSTANCE} have stayed above {THRESHOLD} of the maximum; "
            "new files and sockets will soon fail to open.",
            dashboard="node",
            cases=(
                AlertCase(
                    "exhausting",
                    (Series(f"node_filefd_allocated{{{_TL}}}", "95000x30"), Series(f"node_filefd_maximum{{{_TL}}}", "100000x30")),
                    "20m",
                    (ExpectedAlert(_T, "host-1:9100 uses 95% of its file descriptors.",
                                   "Allocated file descriptors on host-1:9100 have stayed above 90% of the maximum; "
                                   "new files and sockets will soon fail to open."),),
                ),
                AlertCase(
                    "plenty",
                    (Series(f"node_filefd_allocated{{{_TL}}}", "1000x30"), Series(f"node_filefd_maximum{{{_TL}}}", "100000x30")),
                    "20m",
                ),
            ),
        ),
        AlertRule(
            name="NodeClockSkewDetected",
            expr=f"abs(node_timex_offset_seconds{sel(s)}) > {{threshold}}",
            threshold=0.05,
            threshold_format="{:g}s",
            for_="10m",
            severity="warning",
            summary=f"Clock of {INSTANCE} is off by {VALUE_DURATION}.",
            description=f"The clock offset of {INSTANCE} has stayed above {THRESHOLD}; timestamps, TLS and "
            "rate calculations become unreliable. Check NTP.",
            dashboard="node",
            cases=(
                AlertCase(
                    "skewed",
                    (Series(f"node_timex_offset_seconds{{{_TL}}}", "0.1x20"),),
                    "15m",
                    (ExpectedAlert(_T, "Clock of host-1:9100 is off by 100ms.",
                                   "The clock offset of host-1:9100 has stayed above 0.05s; timestamps, TLS and "
                                   "rate calculations become unreliable. Check NTP."),),
                ),
                AlertCase("in sync", (Series(f"node_timex_offset_seconds{{{_TL}}}", "0.001x20"),), "15m"),
            ),
        ),
        AlertRule(
            name="NodeClockNotSynchronising",
            expr=f"max_over_time(node_timex_sync_status{sel(s)}[{c.sync_window}]) == 0",
            for_="10m",
            severity="warning",
            summary=f"Clock of {INSTANCE} is not synchronising.",
            description=f"{INSTANCE} reports no clock synchronisation for the whole of the last {c.sync_window}; "
            "its clock will drift.",
            dashboard="node",
            cases=(
                AlertCase(
                    "unsynchronised",
                    (Series(f"node_timex_sync_status{{{_TL}}}", "0x20"),),
                    "15m",
                    (ExpectedAlert(_T, "Clock of host-1:9100 is not synchronising.",
                                   "host-1:9100 reports no clock synchronisation for the whole of the last 5m; "
                                   "its clock will drift."),),
                ),
                AlertCase("synchronised", (Series(f"node_timex_sync_status{{{_TL}}}", "1x20"),), "15m"),
            ),
        ),
        AlertRule(
            name="NodeOomKillDetected",
            expr=f"increase(node_vmstat_oom_kill{sel(s)}[{w}]) > 0",
            severity="warning",
            summary=f"The kernel OOM killer ran on {INSTANCE}.",
            description=f"{INSTANCE} ran out of memory within the last {w} and the kernel killed a process.",
            dashboard="node",
            cases=(
                AlertCase(
                    "oom kill",
                    (Series(f"node_vmstat_oom_kill{{{_TL}}}", "0x10 1x10"),),
                    "12m",
                    (ExpectedAlert(_T, "The kernel OOM killer ran on host-1:9100.",
                                   "host-1:9100 ran out of memory within the last 5m and the kernel killed a process."),),
                ),
                AlertCase("no oom", (Series(f"node_vmstat_oom_kill{{{_TL}}}", "3x20"),), "12m"),
            ),
        ),
    )


def build(ctx: RuleContext, config: NodeConfig = CONFIG) -> RuleModule | None:
    if not ctx.enabled("node"):
        return None
    return RuleModule(
        domain="node",
        component="node",
        groups=(RuleGroup("node.rules", recordings(config)), RuleGroup("node.alerts", alerts(config))),
    )
