"""Containers (cAdvisor): CPU, memory against the limit, restarts and OOM kills, network."""

from __future__ import annotations

from typing import Any

from dashboards.common import (
    utilisation_panel,
    ANY_IS_BAD,
    Board,
    Query,
    env_variable,
    exporter_selector,
    label_variable,
    rising,
    source_variable,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from settings.model import StackSettings

UID = "containers"


def build(settings: StackSettings) -> dict[str, Any]:
    scope = ('instance=~"$instance"', 'name=~"$container"')
    cadvisor = exporter_selector("cadvisor", *scope)
    named = f'{cadvisor}, name!=""'
    board = Board(
        settings,
        UID,
        "Per-container resource use from cAdvisor (mock or real): CPU, memory against the limit, restarts, network.",
        [
            env_variable(settings),
            source_variable(),
            label_variable("instance", "instance", "up", 'exporter="cadvisor", env=~"$env", source=~"$source"', "Host"),
            label_variable(
                "container",
                "name",
                "container_last_seen",
                'exporter="cadvisor", env=~"$env", source=~"$source", instance=~"$instance", name!=""',
                "Container",
            ),
        ],
    )
    board.row("Overview")
    board.add(
        stat_panel(
            "Running containers",
            "Containers cAdvisor reports per host.",
            [Query(f"count by (instance) (container_last_seen{{{named}}})", "{{instance}}", instant=True)],
            "none",
        ),
        8,
        5,
    )
    board.add(
        stat_panel(
            "Restarts in the last hour",
            "Container (re)starts seen in the last hour, from changes of the start time.",
            [Query(f"sum(changes(container_start_time_seconds{{{named}}}[1h]))", "restarts", instant=True)],
            "none",
            rising(1, 5),
        ),
        8,
        5,
    )
    board.add(
        stat_panel(
            "OOM kills in the last hour",
            "Containers' processes killed for exceeding their memory limit in the last hour.",
            [Query(f"sum(increase(container_oom_events_total{{{named}}}[1h]))", "OOM kills", instant=True)],
            "none",
            ANY_IS_BAD,
        ),
        8,
        5,
    )
    board.row("CPU")
    board.add(
        timeseries_panel(
            "CPU usage",
            "CPU cores used per container (5 m rate of CPU seconds).",
            [Query(f"container:container_cpu_usage_seconds:rate5m{{{named}}}", "{{instance}} {{name}}")],
            "short",
        ),
        12,
    )
    board.add(
        timeseries_panel(
            "CPU throttling",
            "Share of CFS periods in which the container was throttled by its CPU quota.",
            [
                Query(
                    f"rate(container_cpu_cfs_throttled_periods_total{{{named}}}[$__rate_interval])"
                    f" / rate(container_cpu_cfs_periods_total{{{named}}}[$__rate_interval])",
                    "{{instance}} {{name}}",
                )
            ],
            "percentunit",
            rising(0.25, 0.5),
            min_value=0,
            max_value=1,
        ),
        12,
    )
    board.row("Memory")
    board.add(
        utilisation_panel(
            "Memory working set vs limit",
            "Working set as a share of the container's memory limit (containers with a limit only); at 1 the kernel OOM-kills.",
            [Query(f"container:container_memory_working_set_bytes:ratio_limit{{{named}}}", "{{instance}} {{name}}")],
        ),
        12,
    )
    board.add(
        timeseries_panel(
            "Memory working set",
            "Bytes of memory the container uses and cannot easily give back.",
            [Query(f"container_memory_working_set_bytes{{{named}}}", "{{instance}} {{name}}")],
            "bytes",
        ),
        12,
    )
    board.row("Restarts and network")
    board.add(
        table_panel(
            "Containers restarted in the last hour",
            "Containers whose start time changed in the last hour, with the number of restarts.",
            [Query(f"changes(container_start_time_seconds{{{named}}}[1h]) > 0")],
            steps=ANY_IS_BAD,
            empty_when="no container restarted in the last hour",
        ),
        8,
    )
    board.add(
        timeseries_panel(
            "Network traffic",
            "Bytes received (negative: transmitted) per second per container, all interfaces.",
            [
                Query(
                    f"sum without (interface) (rate(container_network_receive_bytes_total{{{named}}}[$__rate_interval]))",
                    "{{instance}} {{name}} receive",
                ),
                Query(
                    f"-sum without (interface) (rate(container_network_transmit_bytes_total{{{named}}}[$__rate_interval]))",
                    "{{instance}} {{name}} transmit",
                ),
            ],
            "Bps",
        ),
        16,
    )
    return board.build()
