"""Containers and pods on both platforms, seen the same way: one `Workload` per Docker container or
Kubernetes pod template, whatever resource declares it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from platforms.docker import LABEL_SECURITY_EXCEPTION
from platforms.kubernetes_exceptions import ANNOTATION_PREFIX

DOCKER_CONTAINER = "docker:index/container:Container"
K8S_WORKLOADS = {
    "kubernetes:apps/v1:Deployment": "template",
    "kubernetes:apps/v1:StatefulSet": "template",
    "kubernetes:apps/v1:DaemonSet": "template",
    "kubernetes:apps/v1:ReplicaSet": "template",
    "kubernetes:batch/v1:Job": "template",
    "kubernetes:batch/v1:CronJob": "jobTemplate",
    "kubernetes:core/v1:Pod": None,
}
# Run-to-completion workloads: a health probe has nothing to watch (their exit code is the health).
ONE_SHOT_K8S = {"kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob"}


@dataclass(frozen=True)
class Workload:
    kind: str  # "docker" or "kubernetes"
    pod: Mapping[str, Any]  # the pod spec (Kubernetes) or the container's inputs (Docker)
    containers: tuple[Mapping[str, Any], ...]
    exception: str  # the documented exception(s) it carries, "" when none
    one_shot: bool
    labels: Mapping[str, str]


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if resource_type not in K8S_WORKLOADS:
        return None
    spec = props.get("spec") or {}
    if resource_type == "kubernetes:core/v1:Pod":
        return spec
    if resource_type == "kubernetes:batch/v1:CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec") or {}


def pod_labels(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, str]:
    spec = props.get("spec") or {}
    if resource_type == "kubernetes:batch/v1:CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template") or {}
    return (template.get("metadata") or {}).get("labels") or (props.get("metadata") or {}).get("labels") or {}


def docker_labels(props: Mapping[str, Any]) -> dict[str, str]:
    return {item.get("label", ""): item.get("value", "") for item in props.get("labels") or []}


def workload(resource_type: str, props: Mapping[str, Any]) -> Workload | None:
    """The workload a resource declares, or None for resources that run nothing."""
    if resource_type == DOCKER_CONTAINER:
        labels = docker_labels(props)
        # A container that need not keep running (must_run false) is a one-shot copy, not a service.
        return Workload("docker", props, (props,), labels.get(LABEL_SECURITY_EXCEPTION, ""),
                        props.get("mustRun") is False, labels)
    pod = pod_spec(resource_type, props)
    if pod is None:
        return None
    annotations = (props.get("metadata") or {}).get("annotations") or {}
    exception = "\n".join(v for k, v in sorted(annotations.items()) if k.startswith(ANNOTATION_PREFIX))
    containers = tuple(pod.get("containers") or ()) + tuple(pod.get("initContainers") or ())
    return Workload("kubernetes", pod, containers, exception, resource_type in ONE_SHOT_K8S,
                    pod_labels(resource_type, props))
