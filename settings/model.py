"""The typed model of everything a stack can set, under the `monitoring:` config namespace.

Defaults are the staging values of seed 001 (Grafana 23000, Prometheus 23001, Loki 23002; 30 s
scrape and evaluation; 30 days of metrics and logs). `Pulumi.prod.yaml` sets its own values.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Iterator, Literal

from pydantic import Field, model_validator

from settings.alerting import AlertingSettings
from settings.api import ApiSettings
from settings.backup import BackupSettings
from settings.capacity import CapacitySettings
from settings.discovery import RemoteWriteSettings
from settings.errors import FieldProblem, cross_field
from settings.exporters import ROLLOUT_ORDER, ExportersSettings
from settings.images import default_image
from settings.kubernetes import KubernetesSettings
from settings.logs import AlloySettings, LogsSettings
from settings.security import SecuritySettings
from settings.sla import SlaSettings
from settings.traces import ProfilesSettings, TracesSettings
from settings.types import (
    ByteSize,
    Duration,
    ImageRef,
    LabelName,
    Name,
    Port,
    Resources,
    Strict,
    byte_size_bytes,
    duration_seconds,
)

PUBLISHABLE = ("grafana", "prometheus", "loki", "alertmanager")


class ExposureSettings(Strict):
    # Host address that published ports bind to: loopback unless a stack deliberately opens them.
    bind_address: IPv4Address = IPv4Address("127.0.0.1")
    # Which services get a host port at all; the rest are reachable only on the internal network.
    # `api` (the monitoring API, when api.enabled) may be added; it is not published by default.
    publish: tuple[Literal["grafana", "prometheus", "loki", "alertmanager", "api"], ...] = PUBLISHABLE


class DockerSettings(Strict):
    # Docker's json-file log rotation for every container of the stack.
    log_max_size: ByteSize = "10MB"
    log_max_files: int = Field(default=3, ge=1, le=100)
    # Socket the log collector reads container logs from (mounted read-only).
    socket_path: str = "/var/run/docker.sock"
    # The stack's private bridge network. Its gateway is the host's address on it: host-network
    # exporters (the node exporter) listen there only, reachable from the stack but not the LAN.
    subnet: IPv4Network = IPv4Network("172.28.0.0/24")

    @model_validator(mode="after")
    @cross_field
    def _private_subnet(self) -> Iterator[FieldProblem]:
        if not self.subnet.is_private or self.subnet.num_addresses < 16:
            yield FieldProblem("subnet", str(self.subnet), "is not a private IPv4 network of at least 16 addresses")

    @property
    def gateway(self) -> str:
        return str(next(self.subnet.hosts()))


class FederationSettings(Strict):
    """Pull selected series from other Prometheus servers' /federate (this one acts as the global one)."""

    targets: tuple[str, ...] = Field(min_length=1)
    match: tuple[str, ...] = ('{__name__=~"instance:.*|container:.*|gpu:.*|model_name:.*|slo:.*"}',)
    scrape_interval: Duration = "60s"


class PrometheusSettings(Strict):
    image: ImageRef = default_image("prometheus")
    port: Port = 23001
    scrape_interval: Duration = "30s"
    scrape_timeout: Duration = "10s"
    evaluation_interval: Duration = "30s"
    retention: Duration = "30d"
    # Optional cap on TSDB size; whichever of time or size is reached first applies.
    retention_size: ByteSize | None = None
    # Extra labels on every series and alert leaving this Prometheus (env is always added).
    external_labels: dict[LabelName, str] = Field(default_factory=dict)
    # Host directory of file_sd target files (<dir>/<exporter>/*.yml), mounted read-only.
    targets_dir: str | None = Field(default=None, pattern=r"^/\S*$")
    federation: FederationSettings | None = None
    # Optional long-term store every replica writes to (Mimir, Thanos Receive, VictoriaMetrics).
    remote_write: RemoteWriteSettings | None = None
    resources: Resources = Resources(cpus=1.0, memory_mb=2048)

    @model_validator(mode="after")
    @cross_field
    def _timeout_within_interval(self) -> Iterator[FieldProblem]:
        if duration_seconds(self.scrape_timeout) > duration_seconds(self.scrape_interval):
            yield FieldProblem(
                "scrape_timeout", self.scrape_timeout, f"is longer than scrape_interval {self.scrape_interval}"
            )


class AlertmanagerSettings(Strict):
    image: ImageRef = default_image("alertmanager")
    port: Port = 23003
    # How long resolved alerts and silences are kept.
    data_retention: Duration = "120h"
    resources: Resources = Resources(cpus=0.25, memory_mb=256)


class GrafanaSettings(Strict):
    image: ImageRef = default_image("grafana")
    port: Port = 23000
    admin_user: Name = "admin"
    # Where the Pulumi grafana provider (and users) reach Grafana; defaults to the published port.
    url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/.*)?$")
    # Sessions end after this much inactivity, and in any case after the maximum lifetime.
    session_inactive: Duration = "1h"
    session_max_lifetime: Duration = "24h"
    resources: Resources = Resources(cpus=0.5, memory_mb=512)


class LokiLimits(Strict):
    ingestion_rate_mb: float = Field(default=8, gt=0, le=1024)
    ingestion_burst_mb: float = Field(default=16, gt=0, le=2048)
    max_streams_per_tenant: int = Field(default=10000, ge=100, le=1_000_000)
    max_line_size_kb: int = Field(default=256, ge=1, le=16384)
    max_query_series: int = Field(default=5000, ge=100, le=1_000_000)
    max_query_length: Duration = "721h"
    query_timeout: Duration = "1m"
    max_query_parallelism: int = Field(default=16, ge=1, le=512)
    split_queries_by_interval: Duration = "1h"
    # One stream (one label set) may not take more than this, so a chatty container cannot starve the rest.
    per_stream_rate_limit_mb: float = Field(default=3, gt=0, le=1024)
    per_stream_rate_limit_burst_mb: float = Field(default=15, gt=0, le=2048)
    max_entries_per_query: int = Field(default=5000, ge=100, le=1_000_000)
    results_cache_mb: int = Field(default=100, ge=10, le=65536)

    @model_validator(mode="after")
    @cross_field
    def _bursts_cover_rates(self) -> Iterator[FieldProblem]:
        if self.ingestion_burst_mb < self.ingestion_rate_mb:
            yield FieldProblem("ingestion_burst_mb", self.ingestion_burst_mb, f"is below ingestion_rate_mb {self.ingestion_rate_mb:g}")
        if self.per_stream_rate_limit_burst_mb < self.per_stream_rate_limit_mb:
            yield FieldProblem(
                "per_stream_rate_limit_burst_mb",
                self.per_stream_rate_limit_burst_mb,
                f"is below per_stream_rate_limit_mb {self.per_stream_rate_limit_mb:g}",
            )


class LokiSettings(Strict):
    image: ImageRef = default_image("loki")
    port: Port = 23002
    retention: Duration = "30d"
    limits: LokiLimits = LokiLimits()
    resources: Resources = Resources(cpus=1.0, memory_mb=1024)

    @model_validator(mode="after")
    @cross_field
    def _retention_in_days(self) -> Iterator[FieldProblem]:
        # Loki's compactor deletes by whole index periods (24h).
        if duration_seconds(self.retention) % 86400:
            yield FieldProblem("retention", self.retention, "is not a whole number of days (Loki deletes by 24h periods)")


class PromtailSettings(Strict):
    image: ImageRef = default_image("promtail")
    resources: Resources = Resources(cpus=0.25, memory_mb=256)


class StackSettings(Strict):
    # Where the stack runs: one Docker host, or a Kubernetes cluster (settings under `kubernetes`).
    platform: Literal["docker", "kubernetes"] = "docker"
    # Value of the `env` label on every series and alert; defaults to the stack name.
    environment: Name
    # Prefix of container, volume and network names, so several stacks can share one Docker host.
    name_prefix: Name | None = None
    # Protect stateful volumes from `pulumi destroy` and keep them if removed from the program.
    protect_state: bool = False
    exposure: ExposureSettings = ExposureSettings()
    docker: DockerSettings = DockerSettings()
    kubernetes: KubernetesSettings = KubernetesSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    alertmanager: AlertmanagerSettings = AlertmanagerSettings()
    grafana: GrafanaSettings = GrafanaSettings()
    loki: LokiSettings = LokiSettings()
    promtail: PromtailSettings = PromtailSettings()
    alloy: AlloySettings = AlloySettings()
    logs: LogsSettings = LogsSettings()
    # Tempo and the collector's trace pipeline; Pyroscope and the profiles it is fed (settings/traces.py).
    traces: TracesSettings = TracesSettings()
    profiles: ProfilesSettings = ProfilesSettings()
    exporters: ExportersSettings = ExportersSettings()
    alerting: AlertingSettings = AlertingSettings()
    # Forecasts, trends and scaling recommendations (settings/capacity.py).
    capacity: CapacitySettings = CapacitySettings()
    # SLAs beside the SLOs: monthly objectives, maintenance windows, the public status page (settings/sla.py).
    sla: SlaSettings = SlaSettings()
    # The backup job: schedule, restic repository, retention (settings/backup.py).
    backup: BackupSettings = BackupSettings()
    # The monitoring API over the whole stack (settings/api.py, api/).
    api: ApiSettings = ApiSettings()
    # TLS and authentication on every endpoint, Grafana's single sign-on (settings/security.py).
    security: SecuritySettings = SecuritySettings()

    @property
    def prefix(self) -> str:
        return self.name_prefix or f"monitoring-{self.environment}"

    def host_port(self, service: str) -> int | None:
        """The published host port of a service, or None when it is internal only."""
        if service not in self.exposure.publish:
            return None
        return getattr(self, service).port

    @property
    def runs_backups(self) -> bool:
        """The backup job runs: on by default on Docker, on a cluster once it has an S3 repository."""
        if self.backup.enabled is not None:
            return self.backup.enabled
        return self.platform == "docker" or self.backup.s3 is not None

    @property
    def runs_traces(self) -> bool:
        """Tempo and the collector's trace pipeline run (on by default with Alloy)."""
        return self.traces.enabled is not False and self.logs.collector == "alloy"

    @property
    def runs_profiles(self) -> bool:
        """Pyroscope and the collector's profile pipeline run (on by default with Alloy)."""
        return self.profiles.enabled is not False and self.logs.collector == "alloy"

    @property
    def grafana_url(self) -> str:
        if self.grafana.url:
            return self.grafana.url.rstrip("/")
        if self.platform == "kubernetes" and self.kubernetes.ingress:
            return f"https://{self.kubernetes.ingress.host}"
        # Grafana serves HTTPS itself when security.tls is on.
        scheme = "https" if self.security.tls.enabled else "http"
        return f"{scheme}://{self.exposure.bind_address if str(self.exposure.bind_address) != '0.0.0.0' else '127.0.0.1'}:{self.grafana.port}"

    @model_validator(mode="after")
    @cross_field
    def _consistent(self) -> Iterator[FieldProblem]:
        publish = list(self.exposure.publish)
        if len(set(publish)) != len(publish):
            yield FieldProblem("exposure.publish", publish, "lists a service twice")
        if "api" in publish and not self.api.enabled:
            yield FieldProblem("exposure.publish", publish, "lists api while api.enabled is false: there is no API to publish")
        seen: dict[int, str] = {}
        for service in dict.fromkeys(self.exposure.publish):  # a service listed twice is reported above
            port = getattr(self, service).port
            if port in seen:
                yield FieldProblem(f"{service}.port", port, f"is already the host port of {seen[port]}; host ports must differ")
            else:
                seen[port] = service
        vllm = self.exporters.vllm
        discovers_vllm = self.platform == "kubernetes" and self.kubernetes.discovery.vllm.namespaces
        if vllm.mode in ("shadow", "real") and not vllm.targets and not self.prometheus.targets_dir and not discovers_vllm:
            yield FieldProblem(
                "exporters.vllm.targets",
                [],
                f"lists no vLLM server while vllm.mode is {vllm.mode!r}: add host:port targets or set prometheus.targets_dir"
                + (" or kubernetes.discovery.vllm.namespaces" if self.platform == "kubernetes" else ""),
            )
        yield from self._signals_need_alloy()
        if self.platform == "kubernetes":
            yield from self._consistent_on_kubernetes()
        elif "grafana" not in self.exposure.publish and not self.grafana.url:
            yield FieldProblem(
                "exposure.publish",
                list(self.exposure.publish),
                "leaves Grafana unpublished and grafana.url is unset: Pulumi could not reach Grafana to provision it",
            )

    def _signals_need_alloy(self) -> Iterator[FieldProblem]:
        # Promtail ships logs only; traces and profiles travel through Alloy alone.
        if self.logs.collector == "alloy":
            return
        for signal in ("traces", "profiles"):
            if getattr(self, signal).enabled is True:
                yield FieldProblem(
                    f"{signal}.enabled", True,
                    f"needs logs.collector alloy (Promtail collects logs only): set logs.collector: alloy or {signal}.enabled: false",
                )

    def _consistent_on_kubernetes(self) -> Iterator[FieldProblem]:
        if not self.grafana.url and not self.kubernetes.ingress:
            yield FieldProblem(
                "grafana.url",
                None,
                "is unset and kubernetes.ingress is unset: Pulumi could not reach Grafana in the cluster to provision it",
            )
        if self.prometheus.targets_dir:
            yield FieldProblem(
                "prometheus.targets_dir",
                self.prometheus.targets_dir,
                "is a host directory, which a cluster does not have: list targets in exporters.<name>.targets",
            )
        mocked = [name for name in ROLLOUT_ORDER if self.exporters.runs_mock(name)]
        if mocked and not self.exporters.mock_image.registry:
            yield FieldProblem(
                "exporters.mock_image.registry",
                None,
                f"is unset while mocks run ({', '.join(mocked)}): the cluster pulls the mock image from a registry",
            )
        if self.backup.enabled and not self.backup.s3:
            yield FieldProblem(
                "backup.s3", None,
                "is unset while backup.enabled is true: a cluster's backups go to an S3 bucket (a volume there is one node's disk)",
            )
        # One line for the key: with mocks running, the line above already asks for the registry.
        if self.runs_backups and not self.exporters.mock_image.registry and not mocked:
            yield FieldProblem(
                "exporters.mock_image.registry", None,
                "is unset while backups run: the cluster pulls the backup image (built by the program) from a registry",
            )
        retention_size = self.prometheus.retention_size
        volume = self.kubernetes.storage.prometheus
        if retention_size and byte_size_bytes(retention_size) >= byte_size_bytes(volume):
            yield FieldProblem(
                "kubernetes.storage.prometheus",
                volume,
                f"does not exceed prometheus.retention_size {retention_size} (the TSDB needs headroom for its WAL)",
            )
