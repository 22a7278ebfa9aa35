"""What changes for dashboards and alerts when a mock exporter is replaced by the real one.

The table is generated from the contracts (what the mock serves is exactly its contract) and from a
short declared list of behavioural differences per mock, so it cannot drift from either."""

from __future__ import annotations

from dataclasses import dataclass

from exporters.catalog import EXPORTERS, ROLLOUT_ORDER
from exporters.contracts import CONTRACTS


@dataclass(frozen=True)
class KnownDifference:
    exporter: str
    topic: str
    mock: str
    real: str


COMMON = (
    ("values", "synthetic: daily sinusoid plus seeded noise", "measured"),
    ("self-metrics", "no go_*, process_* or promhttp_* families", "serves them"),
)

KNOWN_DIFFERENCES: tuple[KnownDifference, ...] = (
    KnownDifference("node", "collectors", "only the families of its contract; no per-process, hwmon, "
                    "systemd, textfile or netstat families", "every default collector of the host"),
    KnownDifference("node", "devices", "fixed topology: nvme disks, lo/eth* interfaces, / /boot/efi /run /data mounts",
                    "the host's real devices and mounts (filter with --collector.filesystem.* flags)"),
    KnownDifference("node", "build info", 'node_exporter_build_info labels say "mock"', "real version and revision"),
    KnownDifference("cadvisor", "cgroups", "root `/` plus one docker scope per simulated container",
                    "every cgroup (system.slice, user.slice, ...) unless run with --docker_only"),
    KnownDifference("cadvisor", "labels", "id, name, image only",
                    "also container_label_* and container_env_* unless --store_container_labels=false"),
    KnownDifference("cadvisor", "restart", "the restart fault resets that container's counters",
                    "the same (a new cgroup starts from zero); rate() handles the reset"),
    KnownDifference("dcgm", "GPU model", "NVIDIA A100-SXM4-80GB only, no MIG, no NVSwitch",
                    "whatever is installed; MIG adds GPU_I_PROFILE/GPU_I_ID, Kubernetes adds pod labels"),
    KnownDifference("dcgm", "ECC counters", "served by default", "only when enabled in the counters CSV"),
    KnownDifference("vllm", "_created series", "not served", "prometheus_client serves <name>_created gauges"),
    KnownDifference("vllm", "errors", "the error_rate fault shows as finished_reason=\"abort\"",
                    "also finished_reason=\"error\" (v0.33); HTTP errors appear in the API server's own HTTP metrics"),
    KnownDifference("vllm", "generations", "--vllm-generation previous serves vLLM v0.10.1.1's names "
                    "(time_per_output_token_seconds, gpu_cache_usage_perc, gpu_prefix_cache_*)",
                    "whatever release each server runs; from v0.10.2 until the old name's removal, servers serve both inter-token latency names"),
    KnownDifference("vllm", "features", "one engine; speculative-decoding and LoRA families only with --vllm-feature",
                    "those families when configured; also diffusion, --kv-cache-metrics, KV-transfer, NaN-detection "
                    "and watermark families, which the mock does not model"),
)


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _rows(exporter: str) -> list[tuple[str, str, str]]:
    contract = CONTRACTS[exporter]
    rows = [(topic, mock, real) for topic, mock, real in COMMON]
    rows.append((
        "families",
        f"the {len(contract.families)} families of the contract, same names, types and label names",
        f"a superset ({contract.upstream_version})",
    ))
    opt_in = [f.name for f in contract.families if f.note]
    if opt_in:
        rows.append(("opt-in families", ", ".join(f"`{name}`" for name in opt_in), "; ".join(sorted({f.note for f in contract.families if f.note}))))
    rows.extend((d.topic, d.mock, d.real) for d in KNOWN_DIFFERENCES if d.exporter == exporter)
    return rows


def differences_table() -> str:
    """A Markdown table: one row per difference between each mock and its real exporter, in rollout order."""
    lines = [
        "| Phase | Exporter | Topic | Mock | Real exporter |",
        "|---|---|---|---|---|",
    ]
    for exporter in ROLLOUT_ORDER:
        spec = EXPORTERS[exporter]
        real_name = f"{spec.title} (`{spec.image}`)" if spec.image else spec.title
        for topic, mock, real in _rows(exporter):
            lines.append(
                f"| {spec.rollout_phase} | {_escape(real_name)} | {_escape(topic)} | {_escape(mock)} | {_escape(real)} |"
            )
    return "\n".join(lines) + "\n"
