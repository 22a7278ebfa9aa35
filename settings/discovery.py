"""What Prometheus discovers on Kubernetes besides the stack's own pods (`monitoring:kubernetes.discovery`),
and the optional long-term store it writes to (`monitoring:prometheus.remote_write`)."""

from __future__ import annotations

import re
from typing import Iterator, Literal

from pydantic import Field, model_validator

from settings.errors import FieldProblem, cross_field
from settings.types import Duration, Port, Strict

# Kubernetes label keys ([prefix/]name) and values, as the API server accepts them.
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class VllmPods(Strict):
    """The user's vLLM server pods, found by their labels in the listed namespaces (Prometheus gets
    read-only discovery rights there and nowhere else)."""

    namespaces: tuple[str, ...] = ()
    # Every one of these pod labels must match (an equality selector, like a Deployment's matchLabels).
    match_labels: dict[str, str] = Field(default_factory=lambda: {"app.kubernetes.io/name": "vllm"})
    # The port vLLM serves /metrics on (its OpenAI-compatible server's port; 8000 upstream).
    port: Port = 8000

    @model_validator(mode="after")
    @cross_field
    def _kubernetes_names(self) -> Iterator[FieldProblem]:
        for index, namespace in enumerate(self.namespaces):
            if not _NAMESPACE.match(namespace):
                yield FieldProblem(f"namespaces.{index}", namespace, "is not a Kubernetes namespace name")
        if not self.match_labels:
            yield FieldProblem("match_labels", {}, "is empty: it would select every pod of the namespaces")
        for key, value in self.match_labels.items():
            if not _LABEL_KEY.match(key):
                yield FieldProblem(f"match_labels.{key}", key, "is not a Kubernetes label key like app.kubernetes.io/name")
            if not _LABEL_VALUE.match(value):
                yield FieldProblem(f"match_labels.{key}", value, "is not a Kubernetes label value")


class DiscoverySettings(Strict):
    # Verify the kubelets' serving certificates against the cluster CA when scraping /metrics/cadvisor.
    # Turn off only for kubelets with self-signed certificates (kube-prometheus' default is off).
    kubelet_tls_verify: bool = True
    vllm: VllmPods = VllmPods()


class RemoteWriteQueue(Strict):
    """Prometheus' queue_config for the store; the defaults are Prometheus 3.5's own."""

    capacity: int = Field(default=10000, ge=100, le=1_000_000)
    min_shards: int = Field(default=1, ge=1, le=1000)
    max_shards: int = Field(default=50, ge=1, le=1000)
    max_samples_per_send: int = Field(default=2000, ge=100, le=100_000)
    batch_send_deadline: Duration = "5s"
    min_backoff: Duration = "30ms"
    max_backoff: Duration = "5s"

    @model_validator(mode="after")
    @cross_field
    def _ordered(self) -> Iterator[FieldProblem]:
        if self.max_shards < self.min_shards:
            yield FieldProblem("max_shards", self.max_shards, f"is below min_shards {self.min_shards}")


class RemoteWriteSettings(Strict):
    """A long-term, horizontally scaled store (Grafana Mimir, Thanos Receive, VictoriaMetrics) that
    every Prometheus replica writes its series to."""

    # Its remote-write endpoint, e.g. https://mimir.example.com/api/v1/push.
    url: str = Field(pattern=r"^https?://[^\s/]+(/\S*)?$")
    # How Prometheus authenticates: the secret `prometheus_remote_write_credentials` is the basic-auth
    # password or the bearer token, delivered to Prometheus as a file.
    auth: Literal["none", "basic", "bearer"] = "none"
    username: str | None = Field(default=None, min_length=1)
    # Where Grafana queries the store with PromQL (e.g. https://mimir.example.com/prometheus); when set,
    # Grafana gets it as a second datasource (same credentials).
    query_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/\S*)?$")
    queue: RemoteWriteQueue = RemoteWriteQueue()

    @model_validator(mode="after")
    @cross_field
    def _username_with_basic(self) -> Iterator[FieldProblem]:
        if self.auth == "basic" and not self.username:
            yield FieldProblem("username", None, "is required when auth is basic")
        if self.auth != "basic" and self.username:
            yield FieldProblem("username", self.username, f"is only used with auth basic, not {self.auth}")
