"""GPU (DCGM exporter) recording rules and alerts: temperature, framebuffer memory, XID errors,
utilisation stuck at 0 or pinned at 100 %."""

from __future__ import annotations

from dataclasses import dataclass

from rules.common import RuleContext, sel
from rules.model import AlertCase, AlertRule, ExpectedAlert, RecordingRule, RuleGroup, RuleModule, Series
from rules.text import THRESHOLD, VALUE, VALUE_PCT, label


@dataclass(frozen=True)
class GpuConfig:
    selector: str = 'exporter="dcgm"'
    rate_window: str = "5m"
    # A GPU whose utilisation never moves over this window is stuck (or idle for that long).
    stuck_window: str = "30m"
    # XID errors are reported as the last error code for a sampling period; look back this far.
    xid_window: str = "5m"


CONFIG = GpuConfig()

_T = {"env": "test", "exporter": "dcgm", "source": "mock", "job": "dcgm-mock", "instance": "host-1:9400",
      "DCGM_FI_DRIVER_VERSION": "550.54.15", "Hostname": "host-1", "UUID": "GPU-1234", "device": "nvidia0",
      "gpu": "0", "modelName": "NVIDIA H100 80GB HBM3", "pci_bus_id": "00000000:17:00.0"}
_TL = ",".join(f'{k}="{v}"' for k, v in _T.items())
_XID = {**_T, "err_code": "79", "err_msg": "GPU has fallen off the bus"}
_XIDL = ",".join(f'{k}="{v}"' for k, v in _XID.items())

GPU = f"GPU {label('gpu')} on {label('Hostname')}"


def recordings(c: GpuConfig) -> tuple[RecordingRule, ...]:
    s = sel(c.selector)
    return (
        RecordingRule("gpu:dcgm_gpu_utilisation:avg5m", f"avg_over_time(DCGM_FI_DEV_GPU_UTIL{s}[{c.rate_window}]) / 100"),
        RecordingRule(
            "gpu:dcgm_framebuffer_used:ratio",
            f"DCGM_FI_DEV_FB_USED{s} / (DCGM_FI_DEV_FB_USED{s} + DCGM_FI_DEV_FB_FREE{s})",
        ),
    )


def _temperature(name: str, threshold: float, for_: str, severity: str, consequence: str, c: GpuConfig) -> AlertRule:
    summary = f"{GPU} is at {VALUE}°C."
    description = f"The GPU temperature has stayed above {THRESHOLD}; {consequence}"
    expected_description = description.replace(THRESHOLD, f"{threshold:g}°C")
    return AlertRule(
        name=name,
        expr=f"DCGM_FI_DEV_GPU_TEMP{sel(c.selector)} > {{threshold}}",
        threshold=threshold,
        threshold_format="{:g}°C",
        for_=for_,
        severity=severity,
        summary=summary,
        description=description,
        dashboard="gpu",
        cases=(
            AlertCase(
                "hot",
                (Series(f"DCGM_FI_DEV_GPU_TEMP{{{_TL}}}", "97x30"),),
                "20m",
                (ExpectedAlert(_T, "GPU 0 on host-1 is at 97°C.", expected_description),),
            ),
            AlertCase("cool", (Series(f"DCGM_FI_DEV_GPU_TEMP{{{_TL}}}", "60x30"),), "20m"),
        ),
    )


def alerts(c: GpuConfig) -> tuple[AlertRule, ...]:
    s = sel(c.selector)
    util = f"DCGM_FI_DEV_GPU_UTIL{s}"
    return (
        _temperature("GpuTemperatureHigh", 85, "5m", "warning", "the GPU throttles its clocks and slows down.", c),
        _temperature("GpuTemperatureCritical", 92, "2m", "critical",
                     "the GPU is close to its shutdown temperature; check cooling now.", c),
        AlertRule(
            name="GpuMemoryNearFull",
            expr=f"gpu:dcgm_framebuffer_used:ratio{s} > {{threshold}}",
            threshold=0.95,
            threshold_format="{:.0%}",
            for_="15m",
            severity="warning",
            summary=f"{GPU} uses {VALUE_PCT} of its memory.",
            description=f"Framebuffer use has stayed above {THRESHOLD}; new allocations (larger batches, "
            "another model) will fail with out-of-memory.",
            dashboard="gpu",
            cases=(
                AlertCase(
                    "full",
                    (Series(f"DCGM_FI_DEV_FB_USED{{{_TL}}}", "79000x30"), Series(f"DCGM_FI_DEV_FB_FREE{{{_TL}}}", "1000x30")),
                    "20m",
                    (ExpectedAlert(_T, "GPU 0 on host-1 uses 98.75% of its memory.",
                                   "Framebuffer use has stayed above 95%; new allocations (larger batches, another "
                                   "model) will fail with out-of-memory."),),
                ),
                AlertCase(
                    "half",
                    (Series(f"DCGM_FI_DEV_FB_USED{{{_TL}}}", "40000x30"), Series(f"DCGM_FI_DEV_FB_FREE{{{_TL}}}", "40000x30")),
                    "20m",
                ),
            ),
        ),
        AlertRule(
            name="GpuXidErrorReported",
            expr=f"max_over_time(DCGM_FI_DEV_XID_ERRORS{s}[{c.xid_window}]) > 0",
            severity="warning",
            summary=f"{GPU} reported XID error {VALUE} ({label('err_msg')}).",
            description="The NVIDIA driver reported an XID error: a driver, memory or hardware fault. Codes 48, "
            "63, 64, 74, 79 and 95 usually need the GPU drained and reset.",
            dashboard="gpu",
            cases=(
                AlertCase(
                    "xid",
                    (Series(f"DCGM_FI_DEV_XID_ERRORS{{{_XIDL}}}", "0x5 79x5"),),
                    "8m",
                    (ExpectedAlert(_XID, "GPU 0 on host-1 reported XID error 79 (GPU has fallen off the bus).",
                                   "The NVIDIA driver reported an XID error: a driver, memory or hardware fault. "
                                   "Codes 48, 63, 64, 74, 79 and 95 usually need the GPU drained and reset."),),
                ),
                AlertCase("none", (Series(f"DCGM_FI_DEV_XID_ERRORS{{{_XIDL}}}", "0x10"),), "8m"),
            ),
        ),
        AlertRule(
            name="GpuUtilisationStuckAtZero",
            expr=f"max_over_time({util}[{c.stuck_window}]) <= {{threshold}}",
            threshold=0,
            threshold_format="{:g}%",
            severity="info",
            summary=f"{GPU} has done no work for {c.stuck_window}.",
            description=f"Utilisation has not risen above {THRESHOLD} in {c.stuck_window}: the GPU is idle "
            "while paid for, or the process using it is hung.",
            dashboard="gpu",
            cases=(
                AlertCase(
                    "stuck",
                    (Series(f"DCGM_FI_DEV_GPU_UTIL{{{_TL}}}", "0x40"),),
                    "35m",
                    (ExpectedAlert(_T, "GPU 0 on host-1 has done no work for 30m.",
                                   "Utilisation has not risen above 0% in 30m: the GPU is idle while paid for, or "
                                   "the process using it is hung."),),
                ),
                AlertCase("working", (Series(f"DCGM_FI_DEV_GPU_UTIL{{{_TL}}}", "0x20 40x20"),), "35m"),
            ),
        ),
        AlertRule(
            name="GpuUtilisationPinnedAtMax",
            expr=f"min_over_time({util}[{c.stuck_window}]) >= {{threshold}}",
            threshold=100,
            threshold_format="{:g}%",
            severity="warning",
            summary=f"{GPU} has been at full utilisation for {c.stuck_window}.",
            description=f"Utilisation has not dropped below {THRESHOLD} in {c.stuck_window}: the GPU is "
            "saturated (requests queue) or a kernel is spinning.",
            dashboard="gpu",
            cases=(
                AlertCase(
                    "pinned",
                    (Series(f"DCGM_FI_DEV_GPU_UTIL{{{_TL}}}", "100x40"),),
                    "35m",
                    (ExpectedAlert(_T, "GPU 0 on host-1 has been at full utilisation for 30m.",
                                   "Utilisation has not dropped below 100% in 30m: the GPU is saturated (requests "
                                   "queue) or a kernel is spinning."),),
                ),
                AlertCase("varying", (Series(f"DCGM_FI_DEV_GPU_UTIL{{{_TL}}}", "100x20 70x20"),), "35m"),
            ),
        ),
    )


def build(ctx: RuleContext, config: GpuConfig = CONFIG) -> RuleModule | None:
    if not ctx.enabled("dcgm"):
        return None
    return RuleModule(
        domain="gpu",
        component="gpu",
        groups=(RuleGroup("gpu.rules", recordings(config)), RuleGroup("gpu.alerts", alerts(config))),
    )
