"""Settings of the Kubernetes platform (`monitoring:kubernetes`), read only when `platform: kubernetes`.

Everything here is about *where* the stack runs on a cluster (provider, namespace, storage, node
placement, ingress); what runs is the same service descriptions the Docker platform deploys.
"""

from __future__ import annotations

import re
from typing import Annotated, Iterator, Literal

from pydantic import AfterValidator, Field, model_validator

from settings.discovery import DiscoverySettings
from settings.errors import FieldProblem, cross_field
from settings.types import ByteSize, Strict

# RFC 1123 label: what Kubernetes accepts as a namespace or object name.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VERSION = re.compile(r"^1\.\d{1,2}$")


def _dns_label(value: str) -> str:
    if not isinstance(value, str) or not _DNS_LABEL.match(value):
        raise ValueError("is not a Kubernetes name (lowercase letters, digits and '-', at most 63)")
    return value


def _dns_name(value: str) -> str:
    if not isinstance(value, str) or not _DNS_NAME.match(value):
        raise ValueError("is not a DNS name like grafana.example.com")
    return value


def _version(value: str) -> str:
    if not isinstance(value, str) or not _VERSION.match(value):
        raise ValueError("is not a Kubernetes minor version like 1.33")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
DnsName = Annotated[str, AfterValidator(_dns_name)]
KubernetesVersion = Annotated[str, AfterValidator(_version)]


class Toleration(Strict):
    """One pod toleration, as Kubernetes spells it (core/v1 Toleration)."""

    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None

    @model_validator(mode="after")
    @cross_field
    def _value_matches_operator(self) -> Iterator[FieldProblem]:
        if self.operator == "Exists" and self.value is not None:
            yield FieldProblem("value", self.value, "must be unset when operator is Exists")
        if self.operator == "Equal" and self.key is None:
            yield FieldProblem("key", None, "is required when operator is Equal")


class Placement(Strict):
    """Where pods may run: node labels they require and taints they tolerate."""

    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()


class GpuPlacement(Placement):
    """GPU nodes, where dcgm-exporter runs (one pod per GPU node)."""

    # The label NVIDIA's GPU feature discovery sets on GPU nodes, and the taint GPU pools usually carry.
    node_selector: dict[str, str] = Field(default_factory=lambda: {"nvidia.com/gpu.present": "true"})
    tolerations: tuple[Toleration, ...] = (Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule"),)
    # The container runtime class that exposes the node's GPUs (NVIDIA container toolkit); unset: the node default.
    runtime_class_name: DnsLabel | None = "nvidia"


class StorageSizes(Strict):
    """Size of each stateful service's PersistentVolumeClaim (per replica)."""

    prometheus: ByteSize = "50GB"
    alertmanager: ByteSize = "1GB"
    loki: ByteSize = "50GB"
    grafana: ByteSize = "5GB"
    pushgateway: ByteSize = "1GB"
    # Trace blocks and the metrics-generator's WAL (unless traces.tempo.s3); profile blocks.
    tempo: ByteSize = "50GB"
    pyroscope: ByteSize = "20GB"


class IngressSettings(Strict):
    """An Ingress for Grafana only (the other services stay inside the cluster)."""

    class_name: DnsLabel
    host: DnsName
    # Secret (kubernetes.io/tls) in the stack's namespace holding the certificate for `host`.
    tls_secret: DnsLabel


class KubernetesSettings(Strict):
    # The kubeconfig context Pulumi deploys with; unset: the current context (or the in-cluster
    # service account when Pulumi itself runs in a pod).
    context: str | None = Field(default=None, min_length=1)
    in_cluster: bool = False
    namespace: DnsLabel = "monitoring"
    # Namespace of the host agents (node exporter, log collector, dcgm-exporter): the only workloads
    # allowed the `privileged` Pod Security level, kept apart from the `restricted` namespace.
    host_namespace: DnsLabel | None = None
    # The Kubernetes version the manifests are validated against (its OpenAPI schema).
    version: KubernetesVersion = "1.33"
    # StorageClass of every PVC; unset: the cluster's default class.
    storage_class: DnsName | None = None
    storage: StorageSizes = StorageSizes()
    # Node placement of the stack's own workloads (not of the per-node host agents).
    placement: Placement = Placement()
    gpu_nodes: GpuPlacement = GpuPlacement()
    ingress: IngressSettings | None = None
    image_pull_secrets: tuple[DnsLabel, ...] = ()
    # Type of the Services of the published services (exposure.publish); the rest are ClusterIP.
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    # What Prometheus discovers beyond the stack's own pods: the kubelets' cAdvisor, the user's vLLM pods.
    discovery: DiscoverySettings = DiscoverySettings()

    @model_validator(mode="after")
    @cross_field
    def _one_provider(self) -> Iterator[FieldProblem]:
        if self.in_cluster and self.context:
            yield FieldProblem("context", self.context, "must be unset when in_cluster is true")
        if self.host_namespace == self.namespace:
            yield FieldProblem("host_namespace", self.host_namespace, "must differ from namespace (it is not restricted)")

    @property
    def agents_namespace(self) -> str:
        return self.host_namespace or f"{self.namespace}-host"
