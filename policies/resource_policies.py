"""Policies over one resource: plain functions of (resource_type, props) returning why it violates
(an empty list when it complies). Both the CrossGuard pack and the offline checker call them."""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from policies.workloads import DOCKER_CONTAINER, Workload, docker_labels, workload
from render.gateway import published_as
from services.api import NAME as API_CONTAINER
from services.exceptions import KNOWN_REASONS
from services.tls import PROXY as PROMETHEUS_PROXY
from settings.model import PUBLISHABLE, StackSettings
from settings.traces import TracesSettings
from traces.tempo import RECEIVER_PORTS

Props = Mapping[str, Any]

# Where the stacks publish ports unless `exposure.bind_address` says otherwise.
DEFAULT_BIND_ADDRESS = "127.0.0.1"
# Which services publish ports at all unless `exposure.publish` says otherwise, and whether the
# collector publishes its trace receivers (`traces.publish_receivers`): the settings' own defaults.
DEFAULT_PUBLISHED_SERVICES = PUBLISHABLE
DEFAULT_PUBLISH_TRACE_RECEIVERS = TracesSettings.model_fields["publish_receivers"].default
RESTRICTED_SECCOMP = ("RuntimeDefault", "Localhost")


def names_known_reason(exception: str) -> bool:
    return any(reason in exception for reason in KNOWN_REASONS)


# --- images ---------------------------------------------------------------------------------------

def image_problem(image: str) -> str | None:
    """Why an image reference is not pinned: no tag, or `latest`. A digest pins it."""
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag"
    if last.rsplit(":", 1)[1] == "latest":
        return f"image {image!r} is tagged latest"
    return None


def _images(resource_type: str, props: Props) -> Iterator[str]:
    if resource_type == "docker:index/remoteImage:RemoteImage":
        yield props.get("name") or ""
    elif resource_type == "docker:index/image:Image":
        yield props.get("imageName") or ""
    found = workload(resource_type, props)
    if found:
        for container in found.containers:
            yield container.get("image") or ""


def images_pinned(resource_type: str, props: Props) -> list[str]:
    return [problem for image in _images(resource_type, props) if (problem := image_problem(image))]


# --- containers and pods --------------------------------------------------------------------------

def resource_limits(resource_type: str, props: Props) -> list[str]:
    found = workload(resource_type, props)
    if found is None:
        return []
    if found.kind == "docker":
        missing = [what for what, key in (("memory", "memory"), ("CPU", "cpus")) if not props.get(key)]
        return [f"no {what} limit" for what in missing]
    problems = []
    for container in found.containers:
        limits = (container.get("resources") or {}).get("limits") or {}
        problems += [f"container {container.get('name')!r} has no {what} limit" for what in ("memory", "cpu")
                     if not limits.get(what)]
    return problems


def health_checks(resource_type: str, props: Props) -> list[str]:
    found = workload(resource_type, props)
    if found is None or found.one_shot:
        return []
    if found.kind == "docker":
        test = (props.get("healthcheck") or {}).get("tests") or []
        return [] if test and test != ["NONE"] else ["no health check"]
    return [f"container {container.get('name')!r} has no liveness or readiness probe"
            for container in found.pod.get("containers") or ()
            if not (container.get("livenessProbe") or container.get("readinessProbe"))]


def _host_access(found: Workload) -> list[str]:
    if found.kind == "docker":
        props = found.pod
        uses = []
        if props.get("privileged"):
            uses.append("runs privileged")
        if props.get("networkMode") == "host":
            uses.append("uses the host network")
        if props.get("pidMode") == "host":
            uses.append("uses the host PID namespace")
        uses += [f"mounts host path {mount.get('source')}" for mount in props.get("mounts") or ()
                 if mount.get("type") == "bind"]
        uses += [f"mounts host path {volume['hostPath']}" for volume in props.get("volumes") or ()
                 if volume.get("hostPath")]
        return uses
    pod = found.pod
    uses = []
    if pod.get("hostNetwork"):
        uses.append("uses the host network")
    if pod.get("hostPID"):
        uses.append("uses the host PID namespace")
    uses += [f"container {c.get('name')!r} runs privileged" for c in found.containers
             if (c.get("securityContext") or {}).get("privileged")]
    uses += [f"mounts host path {volume['hostPath'].get('path')}" for volume in pod.get("volumes") or ()
             if volume.get("hostPath")]
    return uses


def host_access(resource_type: str, props: Props) -> list[str]:
    """Privileged, host network, host PID or host paths only with an exception naming a known reason."""
    found = workload(resource_type, props)
    if found is None:
        return []
    uses = _host_access(found)
    if not uses or names_known_reason(found.exception):
        return []
    why = "it carries no documented exception" if not found.exception else "its exception names no known reason"
    return [f"{use}, and {why}" for use in uses]


def restricted_security_context(resource_type: str, props: Props) -> list[str]:
    """Kubernetes' restricted Pod Security Standard, container by container (pod-level values inherited)."""
    found = workload(resource_type, props)
    if found is None or found.kind != "kubernetes":
        return []
    excepted = names_known_reason(found.exception)
    pod_context = found.pod.get("securityContext") or {}
    problems = []
    for container in found.containers:
        context = container.get("securityContext") or {}
        name = container.get("name")
        privileged = bool(context.get("privileged"))
        non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
        seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
        if non_root is not True and not excepted:
            problems.append(f"container {name!r} may run as root (runAsNonRoot is not true)")
        if context.get("allowPrivilegeEscalation") is not False and not (privileged and excepted):
            problems.append(f"container {name!r} does not set allowPrivilegeEscalation: false")
        if "ALL" not in ((context.get("capabilities") or {}).get("drop") or ()) and not (privileged and excepted):
            problems.append(f"container {name!r} does not drop ALL capabilities")
        if seccomp not in RESTRICTED_SECCOMP:
            problems.append(f"container {name!r} has no RuntimeDefault or Localhost seccomp profile")
    return problems


# --- exposure -------------------------------------------------------------------------------------

# Containers that publish a service's port under another name than the service's (services/core.py,
# services/api.py), and Prometheus, never published itself (its remote-write receiver stays on the stack
# network); the gateway's stand-in for Loki is render/gateway.py's `published_as`.
PUBLISHED_BY: dict[str, str | None] = {PROMETHEUS_PROXY: "prometheus", API_CONTAINER: "api", "prometheus": None}
TRACE_RECEIVER_PORTS = frozenset(RECEIVER_PORTS.values())
COLLECTOR = "alloy"  # the one collector with trace receivers (services/traces.py `with_signals`)


def _publishing_settings(auth_enabled: bool) -> StackSettings:
    """Just enough of a stack's settings for `published_as`: whether the gateway fronts Loki."""
    defaults = StackSettings.model_construct()
    auth = defaults.security.auth.model_copy(update={"enabled": auth_enabled})
    return defaults.model_copy(update={"security": defaults.security.model_copy(update={"auth": auth})})


def publish_entry(service: str, auth_enabled: bool = False) -> str | None:
    """The `exposure.publish` entry a container of `service` (its `monitoring.service` label) publishes
    for, or None when it is never published."""
    name = PUBLISHED_BY.get(service, service)
    return published_as(_publishing_settings(auth_enabled), name) if name else None


def _unpublished_ports(props: Props, published_services: tuple[str, ...], auth_enabled: bool,
                       publish_trace_receivers: bool) -> list[str]:
    service = docker_labels(props).get("monitoring.service")
    entry = publish_entry(service, auth_enabled) if service else None
    problems = []
    for port in props.get("ports") or ():
        if not port.get("external"):
            continue
        if entry is not None and entry in published_services:
            continue
        if service == COLLECTOR and publish_trace_receivers and port.get("internal") in TRACE_RECEIVER_PORTS:
            continue
        listed = ", ".join(published_services) or "nothing"
        publisher = repr(service) if service else "a container without a monitoring.service label"
        problems.append(f"port {port['external']} is published by {publisher} for {entry!r}, which exposure.publish "
                        f"does not list (it lists {listed})" if entry else
                        f"port {port['external']} is published by {publisher}, which is never published "
                        f"(exposure.publish lists {listed})")
    return problems


def service_exposure(resource_type: str, props: Props, allowed_service_types: tuple[str, ...] = (),
                     bind_address: str = DEFAULT_BIND_ADDRESS,
                     published_services: tuple[str, ...] = DEFAULT_PUBLISHED_SERVICES, auth_enabled: bool = False,
                     publish_trace_receivers: bool = DEFAULT_PUBLISH_TRACE_RECEIVERS) -> list[str]:
    """No LoadBalancer/NodePort Service unless the stack allows that type (`kubernetes.service_type`);
    Docker ports published only on the stack's bind address (`exposure.bind_address`), and only by the
    services the stack publishes (`exposure.publish`; the collector's trace receivers by
    `traces.publish_receivers`)."""
    if resource_type == "kubernetes:core/v1:Service":
        kind = (props.get("spec") or {}).get("type") or "ClusterIP"
        if kind in ("LoadBalancer", "NodePort") and kind not in allowed_service_types:
            return [f"Service of type {kind}, which the stack does not allow"]
    if resource_type == DOCKER_CONTAINER:
        elsewhere = [f"port {port.get('external') or port.get('internal')} is published on "
                     f"{port.get('ip') or 'every interface'}, not on the stack's bind address {bind_address}"
                     for port in props.get("ports") or () if port.get("ip") != bind_address]
        return elsewhere + _unpublished_ports(props, published_services, auth_enabled, publish_trace_receivers)
    return []


# --- secrets --------------------------------------------------------------------------------------

# Shapes of credentials that are secret by themselves (identifiers such as an AWS access key id are not).
KEY_SHAPES = {
    "a private key": re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    "a GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{40,})"),
    "a Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "a Slack webhook": re.compile(r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}"),
    "a Grafana token": re.compile(r"\bgl(?:sa|c)_[A-Za-z0-9_=+/-]{24,}"),
    "a JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "an OpenAI-style key": re.compile(r"\bsk-[A-Za-z0-9_-]{32,}"),
    "a Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}"),
}
SECRET_ENV_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|CREDENTIALS?)$", re.I)
MASKED = "[secret]"


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def secret_shaped(text: str) -> list[str]:
    return [shape for shape, pattern in KEY_SHAPES.items() if pattern.search(text)]


def _plain_secret_env(resource_type: str, props: Props) -> Iterator[str]:
    found = workload(resource_type, props)
    if found is None:
        return
    if found.kind == "docker":
        for entry in props.get("envs") or ():
            name, _, value = str(entry).partition("=")
            if SECRET_ENV_NAME.search(name) and value and value != MASKED:
                yield f"environment variable {name} holds a value in plain text"
        return
    for container in found.containers:
        for env in container.get("env") or ():
            if SECRET_ENV_NAME.search(env.get("name", "")) and env.get("value") not in (None, "", MASKED):
                yield f"container {container.get('name')!r}: environment variable {env['name']} holds a value in plain text"


def no_plain_secrets(resource_type: str, props: Props, secret_values: tuple[str, ...] = ()) -> list[str]:
    """No key-shaped string or known secret value in any input (labels, env, documents); secret-named
    environment variables come from a secret or a file, never a literal."""
    problems = list(_plain_secret_env(resource_type, props))
    for path, text in _strings(props):
        problems += [f"input {path} contains {shape}" for shape in secret_shaped(text)]
        problems += [f"input {path} contains the value of a stack secret" for value in secret_values
                     if len(value) >= 8 and value in text]
    return problems

