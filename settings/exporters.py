"""Per-exporter rollout settings: each exporter is `mock`, `shadow`, `real` or `off`.

The rollout replaces mocks one exporter at a time in the seed's order (node, then container, then
GPU, then LLM); a stack that puts a later exporter ahead of an earlier one is rejected unless
`allow_out_of_order` says the team means it. Rolling back is changing one `mode`.
"""

from __future__ import annotations

from typing import Iterator, Literal

from pydantic import Field, model_validator

from settings.errors import FieldProblem, cross_field
from settings.types import Duration, ImageRef, Strict

Mode = Literal["mock", "shadow", "real", "off"]
# How far along the rollout a mode is: shadow runs the real exporter next to the mock.
PROGRESS = {"off": -1, "mock": 0, "shadow": 1, "real": 2}
ROLLOUT_ORDER = ("node", "cadvisor", "dcgm", "vllm")
TARGET_PATTERN = r"^[A-Za-z0-9._-]+:\d{1,5}$"


class ExporterSettings(Strict):
    mode: Mode = "mock"
    # Extra real targets (host:port) not deployed by this stack, e.g. other hosts or vLLM servers.
    targets: tuple[str, ...] = ()
    # Override of the catalog's pinned image of the real exporter.
    image: ImageRef | None = None
    # Override of the scrape interval class (infrastructure 30s, llm 60s, slow 5m).
    scrape_interval: Duration | None = None

    @model_validator(mode="after")
    @cross_field
    def _targets_are_addresses(self) -> Iterator[FieldProblem]:
        import re

        for index, target in enumerate(self.targets):
            if not re.match(TARGET_PATTERN, target):
                yield FieldProblem(f"targets.{index}", target, "is not a host:port target")


class RealOnlyExporterSettings(ExporterSettings):
    """Exporters without a mock: only `real` or `off`."""

    mode: Literal["real", "off"] = "off"


class BlackboxSettings(RealOnlyExporterSettings):
    mode: Literal["real", "off"] = "real"
    # Probe the stack's own endpoints (Grafana, Prometheus, Loki, Alertmanager) over HTTP.
    probe_stack: bool = True
    # User-listed endpoints: HTTP(S) URLs probed for a 2xx answer, host:port pairs for a TCP connect.
    http_probes: tuple[str, ...] = ()
    tcp_probes: tuple[str, ...] = ()

    @model_validator(mode="after")
    @cross_field
    def _probe_targets(self) -> Iterator[FieldProblem]:
        import re

        for index, url in enumerate(self.http_probes):
            if not re.match(r"^https?://[^\s/]+(/\S*)?$", url):
                yield FieldProblem(f"http_probes.{index}", url, "is not an http(s):// URL")
        for index, target in enumerate(self.tcp_probes):
            if not re.match(TARGET_PATTERN, target):
                yield FieldProblem(f"tcp_probes.{index}", target, "is not a host:port target")


class PushgatewaySettings(RealOnlyExporterSettings):
    # Its own class so that setting only `targets` keeps the deployed default (an instance default
    # would be replaced whole by a partial mapping, falling back to RealOnly's `off`).
    mode: Literal["real", "off"] = "real"


class PostgresExporterSettings(RealOnlyExporterSettings):
    # The database the exporter connects to; its password is the secret monitoring:postgres_exporter_password.
    address: str = Field(default="postgres:5432", pattern=TARGET_PATTERN)
    database: str = Field(default="postgres", pattern=r"^[A-Za-z0-9_-]+$")
    user: str = Field(default="postgres_exporter", pattern=r"^[A-Za-z0-9_-]+$")
    sslmode: Literal["disable", "require", "verify-ca", "verify-full"] = "require"


class RedisExporterSettings(RealOnlyExporterSettings):
    address: str = Field(default="redis:6379", pattern=TARGET_PATTERN)
    # Read the password from the secret monitoring:redis_exporter_password.
    password: bool = False


class MockImageSettings(Strict):
    # Registry the mock exporter image is pushed to for clusters; empty keeps it local (Docker).
    registry: str | None = Field(default=None, pattern=r"^[a-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)*$")
    tag: str = Field(default="0.1.0", pattern=r"^[0-9A-Za-z._-]{1,64}$")


class ExportersSettings(Strict):
    node: ExporterSettings = ExporterSettings()
    cadvisor: ExporterSettings = ExporterSettings()
    dcgm: ExporterSettings = ExporterSettings()
    vllm: ExporterSettings = ExporterSettings()
    postgres: PostgresExporterSettings = PostgresExporterSettings()
    redis: RedisExporterSettings = RedisExporterSettings()
    blackbox: BlackboxSettings = BlackboxSettings()
    pushgateway: PushgatewaySettings = PushgatewaySettings()
    # Accept a rollout state that breaks the seed's order (e.g. GPU real while node is still mock).
    allow_out_of_order: bool = False
    mock_image: MockImageSettings = MockImageSettings()

    def mode(self, exporter: str) -> str:
        return getattr(self, exporter).mode

    def runs_mock(self, exporter: str) -> bool:
        return self.mode(exporter) in ("mock", "shadow")

    def runs_real(self, exporter: str) -> bool:
        return self.mode(exporter) in ("shadow", "real")

    @model_validator(mode="after")
    @cross_field
    def _rollout_order(self) -> Iterator[FieldProblem]:
        if self.allow_out_of_order:
            return
        ahead: set[str] = set()  # one line per exporter ahead: the first earlier one it passes
        for earlier_index, earlier in enumerate(ROLLOUT_ORDER):
            for later in ROLLOUT_ORDER[earlier_index + 1 :]:
                earlier_mode, later_mode = self.mode(earlier), self.mode(later)
                if earlier_mode == "off" or later_mode == "off" or later in ahead:
                    continue
                if PROGRESS[later_mode] > PROGRESS[earlier_mode]:
                    ahead.add(later)
                    yield FieldProblem(
                        f"{later}.mode",
                        later_mode,
                        f"is ahead of {earlier}.mode {earlier_mode!r}: the rollout goes "
                        f"{' -> '.join(ROLLOUT_ORDER)}; move {earlier} first or set exporters.allow_out_of_order: true",
                    )
