"""Capacity planning: disk and memory exhaustion forecast over the planning horizon (30 days)."""

from __future__ import annotations

from dataclasses import dataclass

from rules.common import RuleContext, sel
from rules.model import AlertCase, AlertRule, ExpectedAlert, RuleGroup, RuleModule, Series
from rules.text import INSTANCE, label
from settings.types import duration_seconds


@dataclass(frozen=True)
class CapacityConfig:
    selector: str = 'exporter="node"'
    pseudo_fstypes: str = "tmpfs|overlay|squashfs|ramfs|nsfs"
    # The trend is read over `lookback` and extrapolated `horizon` ahead: long enough to smooth
    # daily cycles, short enough to follow a change in growth.
    lookback: str = "1d"
    horizon: str = "30d"
    # A trend needs history: series younger than this (a new host, a restarted Prometheus whose
    # short history is all noise) are not forecast.
    history: str = "12h"


CONFIG = CapacityConfig()

_T = {"env": "test", "exporter": "node", "source": "real", "job": "node", "instance": "host-1:9100"}
_TL = ",".join(f'{k}="{v}"' for k, v in _T.items())
_FS = {**_T, "device": "/dev/sda1", "fstype": "ext4", "mountpoint": "/data"}
_FSL = ",".join(f'{k}="{v}"' for k, v in _FS.items())


def alerts(c: CapacityConfig) -> tuple[AlertRule, ...]:
    horizon_s = f"{duration_seconds(c.horizon):g}"
    fs = sel(c.selector, f'fstype!~"{c.pseudo_fstypes}"')
    return (
        AlertRule(
            name="CapacityFilesystemExhaustionForecast",
            expr=f"predict_linear(node_filesystem_avail_bytes{fs}[{c.lookback}], {horizon_s}) < 0"
            f" and node_filesystem_avail_bytes{fs} offset {c.history}",
            for_="1h",
            severity="info",
            summary=f"Filesystem {label('mountpoint')} on {INSTANCE} is forecast to fill within {c.horizon}.",
            description=f"At the growth of the last {c.lookback}, {label('mountpoint')} on {INSTANCE} runs out of "
            f"space within {c.horizon}: plan more disk, shorter retention or clean-up.",
            dashboard="node",
            cases=(
                AlertCase(
                    "growing",
                    (Series(f"node_filesystem_avail_bytes{{{_FSL}}}", "30000000000-100000000x300"),),
                    "14h",
                    (ExpectedAlert(_FS, "Filesystem /data on host-1:9100 is forecast to fill within 30d.",
                                   "At the growth of the last 1d, /data on host-1:9100 runs out of space within 30d: "
                                   "plan more disk, shorter retention or clean-up."),),
                    interval="4m",
                ),
                AlertCase("flat", (Series(f"node_filesystem_avail_bytes{{{_FSL}}}", "30000000000x300"),), "14h", interval="4m"),
                AlertCase(
                    "too little history",
                    (Series(f"node_filesystem_avail_bytes{{{_FSL}}}", "30000000000-100000000x300"),),
                    "11h",
                    interval="4m",
                ),
            ),
        ),
        AlertRule(
            name="CapacityMemoryExhaustionForecast",
            expr=f"predict_linear(node_memory_MemAvailable_bytes{sel(c.selector)}[{c.lookback}], {horizon_s}) < 0"
            f" and node_memory_MemAvailable_bytes{sel(c.selector)} offset {c.history}",
            for_="1h",
            severity="info",
            summary=f"Memory of {INSTANCE} is forecast to run out within {c.horizon}.",
            description=f"Available memory of {INSTANCE} shrinks at a rate that reaches zero within {c.horizon} "
            f"(trend of the last {c.lookback}): plan more memory or find the growth.",
            dashboard="node",
            cases=(
                AlertCase(
                    "shrinking",
                    (Series(f"node_memory_MemAvailable_bytes{{{_TL}}}", "5000000000-1000000x300"),),
                    "14h",
                    (ExpectedAlert(_T, "Memory of host-1:9100 is forecast to run out within 30d.",
                                   "Available memory of host-1:9100 shrinks at a rate that reaches zero within 30d "
                                   "(trend of the last 1d): plan more memory or find the growth."),),
                    interval="4m",
                ),
                AlertCase("flat", (Series(f"node_memory_MemAvailable_bytes{{{_TL}}}", "5000000000x300"),), "14h", interval="4m"),
            ),
        ),
    )


def build(ctx: RuleContext, config: CapacityConfig = CONFIG) -> RuleModule | None:
    if not ctx.enabled("node"):
        return None
    return RuleModule(domain="capacity", component="capacity", groups=(RuleGroup("capacity.alerts", alerts(config)),))
