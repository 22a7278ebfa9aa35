"""The exporters the stack knows, as typed data: image, port, path, scrape class and rollout phase.

Images are pinned to released tags read from each upstream repository's tags (see `provenance`).
The mock-to-real rollout replaces mocks one exporter at a time, least risky first.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

# Scrape classes of the platform brief: infrastructure every 30 s, LLM serving every 60 s,
# slow-changing sources every 5 min.
SCRAPE_CLASSES: Mapping[str, str] = MappingProxyType(
    {"infrastructure": "30s", "llm": "60s", "slow": "5m"}
)


@dataclass(frozen=True)
class ExporterSpec:
    name: str
    title: str
    image: str | None
    port: int
    metrics_path: str
    scrape_class: str
    has_mock: bool
    rollout_phase: int | None
    provenance: str = ""

    def __post_init__(self) -> None:
        if self.scrape_class not in SCRAPE_CLASSES:
            raise ValueError(f"{self.name}: unknown scrape class {self.scrape_class!r}")
        if self.image is not None and (":" not in self.image or self.image.endswith(":latest")):
            raise ValueError(f"{self.name}: image must be pinned to a tag, got {self.image!r}")
        if self.has_mock != (self.rollout_phase is not None):
            raise ValueError(f"{self.name}: a mocked exporter needs a rollout phase and only it")


_SPECS = (
    ExporterSpec(
        name="node",
        title="Node exporter",
        image="prom/node-exporter:v1.12.1",
        port=9100,
        metrics_path="/metrics",
        scrape_class="infrastructure",
        has_mock=True,
        rollout_phase=1,
        provenance="prometheus/node_exporter tag v1.12.1 (2026-07-14)",
    ),
    ExporterSpec(
        name="cadvisor",
        title="cAdvisor",
        # Images from v0.53.0 on are published to ghcr.io (gcr.io/cadvisor before that).
        image="ghcr.io/google/cadvisor:v0.60.5",
        port=8080,
        metrics_path="/metrics",
        scrape_class="infrastructure",
        has_mock=True,
        rollout_phase=2,
        provenance="google/cadvisor tag v0.60.5 (2026-07-11), publish-container workflow to ghcr.io",
    ),
    ExporterSpec(
        name="dcgm",
        title="NVIDIA DCGM exporter",
        image="nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-ubuntu22.04",
        port=9400,
        metrics_path="/metrics",
        scrape_class="infrastructure",
        has_mock=True,
        rollout_phase=3,
        provenance="NVIDIA/dcgm-exporter tag 4.5.3-4.8.2 (2026-05-06): DCGM 4.5.3, exporter 4.8.2",
    ),
    ExporterSpec(
        name="vllm",
        title="vLLM server",
        # vLLM serves its own /metrics; targets are the user's inference servers, never deployed here.
        image=None,
        port=8000,
        metrics_path="/metrics",
        scrape_class="llm",
        has_mock=True,
        rollout_phase=4,
        provenance="vllm-project/vllm vllm/v1/metrics/loggers.py at 005a810b (v0.10 series)",
    ),
    ExporterSpec(
        name="postgres",
        title="PostgreSQL exporter",
        image="prometheuscommunity/postgres-exporter:v0.20.1",
        port=9187,
        metrics_path="/metrics",
        scrape_class="infrastructure",
        has_mock=False,
        rollout_phase=None,
        provenance="prometheus-community/postgres_exporter tag v0.20.1 (2026-07-07)",
    ),
    ExporterSpec(
        name="redis",
        title="Redis exporter",
        image="oliver006/redis_exporter:v1.88.0",
        port=9121,
        metrics_path="/metrics",
        scrape_class="infrastructure",
        has_mock=False,
        rollout_phase=None,
        provenance="oliver006/redis_exporter tag v1.88.0 (2026-07-23)",
    ),
    ExporterSpec(
        name="blackbox",
        title="Blackbox exporter",
        image="prom/blackbox-exporter:v0.28.0",
        port=9115,
        # Its own health is on /metrics; probes are scraped on /probe with module and target params.
        metrics_path="/metrics",
        scrape_class="infrastructure",
        has_mock=False,
        rollout_phase=None,
        provenance="prometheus/blackbox_exporter tag v0.28.0 (2025-12-04)",
    ),
    ExporterSpec(
        name="pushgateway",
        title="Pushgateway",
        image="prom/pushgateway:v1.11.3",
        port=9091,
        metrics_path="/metrics",
        # Batch jobs push at their own pace; what matters (push_time_seconds) changes rarely.
        scrape_class="slow",
        has_mock=False,
        rollout_phase=None,
        provenance="prometheus/pushgateway tag v1.11.3 (2026-05-27)",
    ),
)

EXPORTERS: dict[str, ExporterSpec] = {spec.name: spec for spec in _SPECS}

ROLLOUT_ORDER: tuple[str, ...] = tuple(
    spec.name
    for spec in sorted((s for s in _SPECS if s.rollout_phase is not None), key=lambda s: s.rollout_phase)
)

PROBE_PATH = "/probe"


def scrape_interval(name: str) -> str:
    return SCRAPE_CLASSES[EXPORTERS[name].scrape_class]
