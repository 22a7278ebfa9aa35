"""Simulated NVIDIA GPUs as dcgm-exporter 4.8.2 (DCGM 4.5.3) exposes them with its default counters.

Field names are metric names (no _total suffix even on counters); label order follows the
exporter's text template: gpu, UUID, pci_bus_id, device, modelName, Hostname, then label fields."""

from __future__ import annotations

from dataclasses import dataclass

from mock_exporter.base import ActiveFault, FaultError, HostOptions, Simulator, number_param
from mock_exporter.signals import Counter, Wave, jitter, unit_hash
from mock_exporter.text import header, series_prefix


@dataclass(frozen=True)
class GpuModel:
    name: str
    idle_watts: float
    max_watts: float  # board power limit
    framebuffer_mib: int
    reserved_mib: int
    max_sm_mhz: int
    memory_mhz: int
    slowdown_celsius: int


A100_80GB = GpuModel("NVIDIA A100-SXM4-80GB", 58.0, 400.0, 81920, 579, 1410, 1593, 87)
DRIVER_VERSION = "570.172.08"
# XID codes the faults use, with the names dcgm-exporter gives them (xid_errors.go, 4.5.3-4.8.2).
XID_NAMES = {
    0: "No Error",
    13: "Graphics Engine Exception",
    31: "GPU memory page fault",
    43: "GPU stopped processing",
    48: "Double Bit ECC Error",
    63: "ECC page retirement or row remapping recording event",
    74: "NVLINK Error",
    79: "GPU has fallen off the bus",
    94: "Contained ECC error",
    95: "Uncontained ECC error",
}
HELP = {
    "DCGM_FI_DEV_SM_CLOCK": "SM clock (MHz).",
    "DCGM_FI_DEV_MEM_CLOCK": "Memory clock (MHz).",
    "DCGM_FI_DEV_MEMORY_TEMP": "HBM temperature (C).",
    "DCGM_FI_DEV_GPU_TEMP": "GPU temperature (C).",
    "DCGM_FI_DEV_POWER_USAGE": "Power draw (W).",
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": "Energy used since boot (mJ).",
    "DCGM_FI_DEV_PCIE_REPLAY_COUNTER": "PCIe retries.",
    "DCGM_FI_DEV_GPU_UTIL": "GPU utilisation (%).",
    "DCGM_FI_DEV_MEM_COPY_UTIL": "Memory copy utilisation (%).",
    "DCGM_FI_DEV_ENC_UTIL": "Encoder utilisation (%).",
    "DCGM_FI_DEV_DEC_UTIL": "Decoder utilisation (%).",
    "DCGM_FI_DEV_XID_ERRORS": "Last XID error code.",
    "DCGM_FI_DEV_FB_FREE": "Free framebuffer (MiB).",
    "DCGM_FI_DEV_FB_USED": "Used framebuffer (MiB).",
    "DCGM_FI_DEV_FB_RESERVED": "Reserved framebuffer (MiB).",
    "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL": "NVLink bandwidth counter, all lanes.",
    "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": "Rows remapped for uncorrectable errors.",
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": "Rows remapped for correctable errors.",
    "DCGM_FI_DEV_ROW_REMAP_FAILURE": "Row remapping failed (1) or not (0).",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": "Graphics engine active ratio.",
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": "Tensor pipe active ratio.",
    "DCGM_FI_PROF_DRAM_ACTIVE": "Memory interface active ratio.",
    "DCGM_FI_PROF_PCIE_TX_BYTES": "PCIe transmit rate (B/s).",
    "DCGM_FI_PROF_PCIE_RX_BYTES": "PCIe receive rate (B/s).",
    "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": "Single-bit volatile ECC errors.",
    "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": "Double-bit volatile ECC errors.",
}
COUNTERS = frozenset({
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
    "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
})


@dataclass
class Gpu:
    index: int
    uuid: str
    pci_bus_id: str
    wave: Wave
    energy: Counter
    nvlink: Counter
    replays: Counter
    sbe: Counter
    dbe: Counter
    prefixes: dict[str, str]


class DcgmSimulator(Simulator):
    exporter = "dcgm"
    fault_kinds = frozenset({"gpu_overheat", "xid_error", "gpu_stuck"})

    def __init__(self, options: HostOptions, model: GpuModel = A100_80GB) -> None:
        super().__init__(options)
        self.model = model
        self.boot = options.boot_time
        self.load = 0.5 + 0.45 * unit_hash(options.seed, 1)  # share of peak the GPUs reach
        self.gpus = [self._gpu(i) for i in range(options.gpus)]
        self.rhythm = self.gpus[0].wave
        self.faults_changed(self.boot)

    def _gpu(self, index: int) -> Gpu:
        seed, boot = self.options.seed, self.boot
        words = [int(unit_hash(seed, 500 + index, part) * 2**32) for part in range(4)]
        uuid = f"GPU-{words[0]:08x}-{words[1] >> 16:04x}-{words[1] & 0xFFFF:04x}-{words[2] >> 16:04x}-{words[2] & 0xFFFF:04x}{words[3]:08x}"
        bus = (0x07, 0x0F, 0x47, 0x4E, 0x87, 0x90, 0xB7, 0xBD)[index % 8] + 0x100 * (index // 8)
        pci = f"00000000:{bus:02X}:00.0"
        wave = Wave(seed, 600 + index)
        labels = (
            ("gpu", str(index)), ("UUID", uuid), ("pci_bus_id", pci), ("device", f"nvidia{index}"),
            ("modelName", self.model.name), ("Hostname", self.options.hostname),
            ("DCGM_FI_DRIVER_VERSION", DRIVER_VERSION),
        )
        prefixes = {name: series_prefix(name, labels) for name in HELP if name != "DCGM_FI_DEV_XID_ERRORS"}
        prefixes["labels"] = ",".join(f'{k}="{v}"' for k, v in labels)
        return Gpu(
            index=index, uuid=uuid, pci_bus_id=pci, wave=wave,
            energy=Counter(wave, 0.0, 0.0, boot),
            nvlink=Counter(wave, 1e6, 4e9 * self.load, boot),
            replays=Counter(wave, 0.0, 0.0, boot, initial=float(int(unit_hash(seed, 700 + index) * 3))),
            sbe=Counter(wave, 0.0, 0.0, boot, initial=float(int(unit_hash(seed, 800 + index) * 2))),
            dbe=Counter(wave, 0.0, 0.0, boot),
            prefixes=prefixes,
        )

    # --- faults -------------------------------------------------------------------------------
    def validate_fault(self, fault: ActiveFault) -> None:
        super().validate_fault(fault)
        if fault.kind in self.fault_kinds:
            gpu = fault.params.setdefault("gpu", 0)
            if gpu != "all" and (isinstance(gpu, bool) or not isinstance(gpu, int) or not 0 <= gpu < len(self.gpus)):
                raise FaultError(f"gpu must be 'all' or an index below {len(self.gpus)}")
        if fault.kind == "xid_error":
            code = fault.params.setdefault("code", 79)
            if isinstance(code, bool) or not isinstance(code, int) or code <= 0:
                raise FaultError("xid code must be a positive integer")
        if fault.kind == "gpu_overheat":
            number_param(fault.params, "celsius", 93, 60, 120)

    def _fault_on(self, kind: str, gpu: Gpu) -> ActiveFault | None:
        fault = self.faults.get(kind)
        if fault is None or fault.params.get("gpu", 0) not in ("all", gpu.index):
            return None
        return fault

    def _power_law(self, gpu: Gpu) -> tuple[float, float]:
        """Power = base + gain·level in W; the energy counter integrates the same law."""
        idle, top = self.model.idle_watts, self.model.max_watts
        if self._fault_on("gpu_stuck", gpu):
            return idle + 6.0, 0.0
        if self._fault_on("gpu_overheat", gpu):
            return idle, 0.65 * (top - idle) * self.load  # clocks throttle, draw falls
        return idle, 0.98 * (top - idle) * self.load

    def faults_changed(self, now: float) -> None:
        for gpu in self.gpus:
            base, gain = self._power_law(gpu)
            gpu.energy.retune(now, base * 1000.0, gain * 1000.0)  # W → mJ per second
            if self._fault_on("xid_error", gpu) and self.faults["xid_error"].params["code"] in (48, 94, 95):
                if gpu.sbe.base == 0.0:
                    gpu.sbe.retune(now, 0.2, 0.0, step=1.0)
                    # These XIDs report an uncorrectable (double-bit) error: one at the event.
                    gpu.dbe.retune(now, 0.0, 0.0, step=1.0)
            elif gpu.sbe.base > 0.0:
                gpu.sbe.retune(now, 0.0, 0.0)

    # --- values -------------------------------------------------------------------------------
    def _gauges(self, gpu: Gpu, now: float) -> dict[str, float]:
        model, seed = self.model, self.options.seed
        level = gpu.wave.level(now)
        noise = jitter(seed, gpu.index, now)
        stuck = self._fault_on("gpu_stuck", gpu)
        overheat = self._fault_on("gpu_overheat", gpu)
        util = 100.0 if stuck else min(100.0, max(0.0, round(100.0 * self.load * level + 2 * noise)))
        base, gain = self._power_law(gpu)
        power = min(model.max_watts, base + gain * level + 0.5 * noise)
        if overheat:
            temp = float(overheat.params.get("celsius", 93))
            sm_clock = round(0.6 * model.max_sm_mhz)
        elif stuck:
            temp, sm_clock = 38.0 + noise, model.max_sm_mhz
        else:
            temp = 30.0 + 38.0 * self.load * level + noise
            sm_clock = 210 + round((model.max_sm_mhz - 210) * min(1.0, 1.3 * level))
        usable = model.framebuffer_mib - model.reserved_mib
        used = round(usable * (0.88 + 0.05 * level))  # a serving engine preallocates most memory
        engine_active = 0.0 if stuck else util / 100.0 * 0.95
        return {
            "DCGM_FI_DEV_SM_CLOCK": sm_clock,
            "DCGM_FI_DEV_MEM_CLOCK": model.memory_mhz,
            "DCGM_FI_DEV_MEMORY_TEMP": round(temp + 4.0),
            "DCGM_FI_DEV_GPU_TEMP": round(temp),
            "DCGM_FI_DEV_POWER_USAGE": round(power, 3),
            "DCGM_FI_DEV_GPU_UTIL": util,
            "DCGM_FI_DEV_MEM_COPY_UTIL": 0.0 if stuck else round(util * 0.45),
            "DCGM_FI_DEV_ENC_UTIL": 0,
            "DCGM_FI_DEV_DEC_UTIL": 0,
            "DCGM_FI_DEV_FB_FREE": usable - used,
            "DCGM_FI_DEV_FB_USED": used,
            "DCGM_FI_DEV_FB_RESERVED": model.reserved_mib,
            "DCGM_FI_DEV_ROW_REMAP_FAILURE": 0,
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE": round(engine_active, 6),
            "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": round(engine_active * 0.42, 6),
            "DCGM_FI_PROF_DRAM_ACTIVE": round(engine_active * 0.55, 6),
            "DCGM_FI_PROF_PCIE_TX_BYTES": round(2e8 * engine_active + 1e6),
            "DCGM_FI_PROF_PCIE_RX_BYTES": round(3e8 * engine_active + 1e6),
        }

    def _counters(self, gpu: Gpu, now: float) -> dict[str, float]:
        return {
            "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": int(gpu.energy.value(now)),
            "DCGM_FI_DEV_PCIE_REPLAY_COUNTER": int(gpu.replays.value(now)),
            "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL": int(gpu.nvlink.value(now)),
            "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": 0,
            "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": 0,
            "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": int(gpu.sbe.value(now)),
            "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": int(gpu.dbe.value(now)),
        }

    def render(self, now: float) -> str:
        values = {gpu.index: {**self._gauges(gpu, now), **self._counters(gpu, now)} for gpu in self.gpus}
        out: list[str] = []
        for name, help_text in HELP.items():
            header(out, name, "counter" if name in COUNTERS else "gauge", help_text)
            if name == "DCGM_FI_DEV_XID_ERRORS":
                for gpu in self.gpus:
                    fault = self._fault_on("xid_error", gpu)
                    code = int(fault.params["code"]) if fault else 0
                    message = XID_NAMES.get(code, "Unknown Error")
                    out.append(f'DCGM_FI_DEV_XID_ERRORS{{{gpu.prefixes["labels"]},err_code="{code}",err_msg="{message}"}} {code}\n')
                continue
            for gpu in self.gpus:
                value = values[gpu.index][name]
                out.append(f"{gpu.prefixes[name]}{value}\n")
        return "".join(out)
