"""Nodes, by the USE method: utilisation, saturation and errors of CPU, memory, disk, network and
filesystems, with a fill forecast."""

from __future__ import annotations

from typing import Any

from dashboards.common import (
    utilisation_panel,
    ANY_IS_BAD,
    UP_DOWN,
    VIRTUAL_FSTYPES,
    Board,
    Query,
    env_variable,
    exporter_selector,
    falling,
    label_variable,
    rising,
    source_variable,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from settings.model import StackSettings

UID = "node"
# How far ahead the fill forecast looks, and how much history it extrapolates from.
FORECAST_HORIZON_HOURS = 24
FORECAST_HISTORY = "6h"
# Only filesystems below this share of free space count as filling up.
FILLING_BELOW = 0.4


def build(settings: StackSettings) -> dict[str, Any]:
    node = exporter_selector("node", 'instance=~"$instance"')
    real_fs = f'{node}, fstype!~"{VIRTUAL_FSTYPES}"'
    board = Board(
        settings,
        UID,
        "Utilisation, saturation and errors of every node (node exporter, mock or real).",
        [
            env_variable(settings),
            source_variable(),
            label_variable("instance", "instance", "up", 'exporter="node", env=~"$env", source=~"$source"', "Instance"),
        ],
    )
    board.row("Overview")
    board.add(
        stat_panel(
            "Node targets up",
            "Whether each node exporter target answered its last scrape.",
            [Query(f"up{{{node}}}", "{{instance}} ({{source}})", instant=True)],
            "none",
            UP_DOWN,
            mappings=(("0", "DOWN", "red"), ("1", "UP", "green")),
        ),
        24,
        4,
    )
    board.row("CPU")
    board.add(
        timeseries_panel(
            "CPU utilisation",
            "Share of CPU time not idle, averaged over all CPUs of the node (5 m rate).",
            [Query(f"instance:node_cpu_utilisation:rate5m{{{node}}}", "{{instance}} ({{source}})")],
            "percentunit",
            rising(0.8, 0.9),
            min_value=0,
            max_value=1,
        ),
        8,
    )
    board.add(
        timeseries_panel(
            "Load per CPU (saturation)",
            "1-minute load average divided by the number of CPUs; above 1 means runnable tasks wait for a CPU.",
            [Query(f"instance:node_load1_per_cpu:ratio{{{node}}}", "{{instance}} ({{source}})")],
            "short",
            rising(1, 2),
            min_value=0,
        ),
        8,
    )
    board.add(
        timeseries_panel(
            "CPU time by mode",
            "CPU seconds per second by mode (user, system, iowait, ...), summed over CPUs; idle left out.",
            [
                Query(
                    f'sum without (cpu) (rate(node_cpu_seconds_total{{{node}, mode!="idle"}}[$__rate_interval]))',
                    "{{instance}} {{mode}}",
                )
            ],
            "short",
            stacked=True,
        ),
        8,
    )
    board.row("Memory")
    board.add(
        timeseries_panel(
            "Memory utilisation",
            "1 - MemAvailable / MemTotal: memory the kernel cannot hand out without swapping or reclaiming.",
            [Query(f"instance:node_memory_utilisation:ratio{{{node}}}", "{{instance}} ({{source}})")],
            "percentunit",
            rising(0.85, 0.95),
            min_value=0,
            max_value=1,
        ),
        8,
    )
    board.add(
        timeseries_panel(
            "Major page faults (saturation)",
            "Page faults that needed disk I/O, per second: sustained values mean memory pressure.",
            [Query(f"rate(node_vmstat_pgmajfault{{{node}}}[$__rate_interval])", "{{instance}} ({{source}})")],
            "short",
        ),
        8,
    )
    board.add(
        table_panel(
            "OOM kills in the last hour (errors)",
            "Processes the kernel's OOM killer ended in the last hour, per node.",
            [Query(f"increase(node_vmstat_oom_kill{{{node}}}[1h]) > 0")],
            steps=ANY_IS_BAD,
            empty_when="no process was OOM-killed in the last hour",
        ),
        8,
    )
    board.row("Disk")
    board.add(
        utilisation_panel(
            "Disk busy time",
            "Share of time each device had I/O in flight (5 m rate); near 1 the device is saturated.",
            [Query(f"instance_device:node_disk_io_time_seconds:rate5m{{{node}}}", "{{instance}} {{device}}")],
        ),
        12,
    )
    board.add(
        timeseries_panel(
            "Disk throughput",
            "Bytes read (negative: written) per second per device.",
            [
                Query(f"rate(node_disk_read_bytes_total{{{node}}}[$__rate_interval])", "{{instance}} {{device}} read"),
                Query(f"-rate(node_disk_written_bytes_total{{{node}}}[$__rate_interval])", "{{instance}} {{device}} write"),
            ],
            "Bps",
        ),
        12,
    )
    board.row("Network")
    board.add(
        timeseries_panel(
            "Network traffic",
            "Bytes received (negative: transmitted) per second, all interfaces except loopback.",
            [
                Query(f"instance:node_network_receive_bytes_excluding_lo:rate5m{{{node}}}", "{{instance}} receive"),
                Query(f"-instance:node_network_transmit_bytes_excluding_lo:rate5m{{{node}}}", "{{instance}} transmit"),
            ],
            "Bps",
        ),
        12,
    )
    board.add(
        timeseries_panel(
            "Network errors and drops (errors)",
            "Receive and transmit errors plus receive drops per second, excluding loopback.",
            [
                Query(
                    "sum without (device) ("
                    f'rate(node_network_receive_errs_total{{{node}, device!="lo"}}[$__rate_interval])'
                    f' + rate(node_network_transmit_errs_total{{{node}, device!="lo"}}[$__rate_interval])'
                    f' + rate(node_network_receive_drop_total{{{node}, device!="lo"}}[$__rate_interval])'
                    ")",
                    "{{instance}}",
                )
            ],
            "short",
            ANY_IS_BAD,
        ),
        12,
    )
    board.row("Filesystems")
    board.add(
        timeseries_panel(
            "Filesystem space available",
            "Share of each real filesystem still available to unprivileged users.",
            [Query(f"instance_mountpoint:node_filesystem_avail_bytes:ratio{{{node}}}", "{{instance}} {{mountpoint}}")],
            "percentunit",
            falling(0.2, 0.1),
            min_value=0,
            max_value=1,
        ),
        12,
    )
    board.add(
        timeseries_panel(
            f"Space available in {FORECAST_HORIZON_HOURS} h (forecast)",
            f"Available bytes extrapolated {FORECAST_HORIZON_HOURS} h ahead from the last {FORECAST_HISTORY} "
            "(linear regression); below zero the filesystem fills up within the horizon.",
            [
                Query(
                    f"predict_linear(node_filesystem_avail_bytes{{{real_fs}}}[{FORECAST_HISTORY}], "
                    f"{FORECAST_HORIZON_HOURS} * 3600)",
                    "{{instance}} {{mountpoint}}",
                )
            ],
            "bytes",
            falling(1, 0),
        ),
        12,
    )
    board.add(
        table_panel(
            f"Filesystems filling within {FORECAST_HORIZON_HOURS} h",
            "Real filesystems with less than "
            f"{FILLING_BELOW:.0%} space left whose forecast reaches zero available bytes within the horizon "
            "(the condition of the NodeFilesystemSpaceFillingUp alert: a daily rhythm on an emptyish disk "
            f"is not a fill-up), once {FORECAST_HISTORY} of history exist.",
            [
                Query(
                    f"predict_linear(node_filesystem_avail_bytes{{{real_fs}}}[{FORECAST_HISTORY}], "
                    f"{FORECAST_HORIZON_HOURS} * 3600) < 0"
                    f" and instance_mountpoint:node_filesystem_avail_bytes:ratio{{{node}}} < {FILLING_BELOW}"
                    # Only with the whole lookback of history: a trend over minutes is noise.
                    f" and node_filesystem_avail_bytes{{{real_fs}}} offset {FORECAST_HISTORY}"
                )
            ],
            unit="bytes",
            steps=ANY_IS_BAD,
            empty_when="no filesystem is forecast to fill",
        ),
        24,
        6,
    )
    return board.build()
