"""The known reasons a service may need more than the hardened defaults: the one list.

Each service's `Security.exception` is built from these; the platforms carry it on the workload
(`monitoring.security_exception` on Docker, checkov's skip annotations on Kubernetes), and the policy
pack (`policies/`) accepts a host namespace, host path or privileged container only where its
exception names one of them.
"""

from __future__ import annotations

NODE_EXPORTER_HOST = "host PID and network namespaces and the host root read-only: node_exporter measures the host"
CADVISOR_PRIVILEGED = (
    "privileged, as cAdvisor documents: every capability and device (no capability is dropped, "
    "a drop would be void); the host's root, cgroups, /sys and Docker state are mounted read-only"
)
DCGM_GPUS = "all GPUs and SYS_ADMIN for DCGM's profiling metrics, as NVIDIA documents"
LOG_COLLECTOR_ROOT = (
    "reads container logs through the Docker socket and the host's journal, which root owns; "
    "runs with no capabilities, so it reads only what root owns"
)
EBPF_PROFILER = (
    "profiles every process of the host through eBPF (profiles.ebpf): runs privileged in the host's PID "
    "namespace to load eBPF programs and read other processes' memory maps"
)

KNOWN_REASONS: tuple[str, ...] = (NODE_EXPORTER_HOST, CADVISOR_PRIVILEGED, DCGM_GPUS, LOG_COLLECTOR_ROOT, EBPF_PROFILER)
