"""GPUs (NVIDIA DCGM exporter): utilisation, memory, temperature, power and XID errors, per GPU
and per GPU model."""

from __future__ import annotations

from typing import Any

from dashboards.common import (
    ANY_IS_BAD,
    Board,
    Query,
    bargauge_panel,
    env_variable,
    exporter_selector,
    label_variable,
    rising,
    source_variable,
    table_panel,
    timeseries_panel,
)
from settings.model import StackSettings

UID = "gpu"
GPU_LEGEND = "{{Hostname}} GPU {{gpu}}"
# Data-centre GPUs throttle around 85-90 °C (core) and 95 °C (HBM).
CORE_TEMPERATURE = rising(80, 87)
MEMORY_TEMPERATURE = rising(85, 95)


def build(settings: StackSettings) -> dict[str, Any]:
    gpus = exporter_selector("dcgm", 'Hostname=~"$hostname"', 'modelName=~"$gpu_model"')
    scope = 'exporter="dcgm", env=~"$env", source=~"$source"'
    board = Board(
        settings,
        UID,
        "Every GPU the DCGM exporter (mock or real) reports: utilisation, memory, temperature, power and errors.",
        [
            env_variable(settings),
            source_variable(),
            label_variable("hostname", "Hostname", "DCGM_FI_DEV_GPU_TEMP", scope, "Host"),
            label_variable("gpu_model", "modelName", "DCGM_FI_DEV_GPU_TEMP", scope, "GPU model"),
        ],
    )
    board.row("Utilisation")
    board.add(
        timeseries_panel(
            "GPU utilisation",
            "Share of time a kernel was running on the GPU (5 m average).",
            [Query(f"gpu:dcgm_gpu_utilisation:avg5m{{{gpus}}}", GPU_LEGEND)],
            "percentunit",
            rising(0.9, 0.98),
            min_value=0,
            max_value=1,
        ),
        12,
    )
    board.add(
        bargauge_panel(
            "Utilisation by GPU model",
            "Average 5 m utilisation over all GPUs of each model.",
            [Query(f"avg by (modelName) (gpu:dcgm_gpu_utilisation:avg5m{{{gpus}}})", "{{modelName}}", instant=True)],
            "percentunit",
            rising(0.9, 0.98),
            max_value=1,
        ),
        6,
    )
    board.add(
        timeseries_panel(
            "Tensor core activity",
            "Share of cycles the tensor pipes were active (profiling metric).",
            [Query(f"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{{{gpus}}}", GPU_LEGEND)],
            "percentunit",
            min_value=0,
            max_value=1,
        ),
        6,
    )
    board.row("Memory")
    board.add(
        timeseries_panel(
            "Framebuffer used",
            "Share of GPU memory in use (used / (used + free)).",
            [Query(f"gpu:dcgm_framebuffer_used:ratio{{{gpus}}}", GPU_LEGEND)],
            "percentunit",
            rising(0.9, 0.97),
            min_value=0,
            max_value=1,
        ),
        12,
    )
    board.add(
        bargauge_panel(
            "Framebuffer used by GPU model",
            "Average share of GPU memory in use over all GPUs of each model.",
            [Query(f"avg by (modelName) (gpu:dcgm_framebuffer_used:ratio{{{gpus}}})", "{{modelName}}", instant=True)],
            "percentunit",
            rising(0.9, 0.97),
            max_value=1,
        ),
        12,
    )
    board.row("Temperature and power")
    board.add(
        timeseries_panel(
            "GPU temperature",
            "Core temperature in °C.",
            [Query(f"DCGM_FI_DEV_GPU_TEMP{{{gpus}}}", GPU_LEGEND)],
            "celsius",
            CORE_TEMPERATURE,
        ),
        8,
    )
    board.add(
        timeseries_panel(
            "Memory temperature",
            "HBM temperature in °C.",
            [Query(f"DCGM_FI_DEV_MEMORY_TEMP{{{gpus}}}", GPU_LEGEND)],
            "celsius",
            MEMORY_TEMPERATURE,
        ),
        8,
    )
    board.add(
        timeseries_panel(
            "Power draw",
            "Power drawn by each GPU, in watts.",
            [Query(f"DCGM_FI_DEV_POWER_USAGE{{{gpus}}}", GPU_LEGEND)],
            "watt",
        ),
        8,
    )
    board.row("Errors")
    board.add(
        table_panel(
            "XID errors",
            "GPUs whose driver reported an XID error (err_code and err_msg say which); most XIDs need a reset or a drain.",
            [Query(f"DCGM_FI_DEV_XID_ERRORS{{{gpus}}} > 0")],
            steps=ANY_IS_BAD,
            empty_when="no GPU reports an XID error",
        ),
        12,
    )
    board.add(
        table_panel(
            "Uncorrectable memory errors in the last hour",
            "Double-bit (uncorrectable) volatile ECC errors and uncorrectable row remaps in the last hour, per GPU.",
            [
                Query(
                    f"increase(DCGM_FI_DEV_ECC_DBE_VOL_TOTAL{{{gpus}}}[1h]) > 0"
                    f" or increase(DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS{{{gpus}}}[1h]) > 0"
                )
            ],
            steps=ANY_IS_BAD,
            empty_when="no GPU had an uncorrectable memory error in the last hour",
        ),
        12,
    )
    return board.build()
