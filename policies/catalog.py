"""Every policy of the pack, once: its name, what it requires, how to fix a violation, and its check.

Pure data over plain functions: the CrossGuard pack (`__main__.py`) and the offline checker
(`check.py`) both read it, so the two cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from policies import resource_policies as rp
from policies import stack_policies as sp
from policies.model import StackView

MANDATORY, ADVISORY = "mandatory", "advisory"
Config = Mapping[str, Any]


@dataclass(frozen=True)
class ResourcePolicy:
    name: str
    description: str
    fix: str
    validate: Callable[[str, Mapping[str, Any], Config], list[str]]
    enforcement: str = MANDATORY


@dataclass(frozen=True)
class StackPolicy:
    name: str
    description: str
    fix: str
    validate: Callable[[StackView], list[tuple[str, str]]]
    enforcement: str = MANDATORY


def _plain(check: Callable[[str, Mapping[str, Any]], list[str]]):
    return lambda resource_type, props, config: check(resource_type, props)


RESOURCE_POLICIES = (
    ResourcePolicy("images-pinned", "Images are pinned: a version tag other than latest, or a digest.",
                   "Pin the image in settings/images.py (a released tag or @sha256 digest).", _plain(rp.images_pinned)),
    ResourcePolicy("resource-limits", "Every container and pod container has memory and CPU limits.",
                   "Give the service's ServiceSpec Resources (cpus, memory_mb).", _plain(rp.resource_limits)),
    ResourcePolicy("health-checks", "Every long-running container has a health check (Docker) or probes (Kubernetes).",
                   "Give the service's ServiceSpec a health check.", _plain(rp.health_checks)),
    ResourcePolicy("host-access-exceptions",
                   "No privileged container, host network, host PID or host path without the documented exception "
                   "naming a known reason (services/exceptions.py).",
                   "Drop the host access, or set Security.exception to a reason from services/exceptions.py.",
                   _plain(rp.host_access)),
    ResourcePolicy("restricted-security-context",
                   "Kubernetes containers meet the restricted Pod Security Standard (non-root, no privilege "
                   "escalation, ALL capabilities dropped, RuntimeDefault seccomp).",
                   "Keep the ServiceSpec's Security defaults; a root user needs a documented exception.",
                   _plain(rp.restricted_security_context)),
    ResourcePolicy("service-exposure",
                   "No LoadBalancer or NodePort Service, no Docker port beyond loopback, and no Docker port of a "
                   "service the stack does not publish, unless the stack allows it.",
                   "Publish only as the stack settings say (kubernetes.service_type, exposure.bind_address, "
                   "exposure.publish, security.auth.enabled, traces.publish_receivers), which the pack reads as "
                   "allowed_service_types, bind_address, published_services, auth_enabled and "
                   "publish_trace_receivers.",
                   lambda t, p, config: rp.service_exposure(t, p, tuple(config["allowed_service_types"]),
                                                            config["bind_address"],
                                                            tuple(config["published_services"]),
                                                            bool(config["auth_enabled"]),
                                                            bool(config["publish_trace_receivers"]))),
    ResourcePolicy("no-plain-secrets",
                   "No secret in a plain input, environment value, label or rendered document: no key-shaped "
                   "string and no stack secret's value.",
                   "Pass the value as a Pulumi secret, mounted as a file (services.spec SecretFile).",
                   lambda t, p, config: rp.no_plain_secrets(t, p, tuple(config["secret_values"]))),
)

STACK_POLICIES = (
    StackPolicy("network-policies-cover-workloads", "Every Kubernetes workload has a NetworkPolicy selecting it.",
                "Name the workload's flows in platforms/kubernetes_network.py.", sp.network_policies_cover_workloads),
    StackPolicy("disruption-budgets", "Every replicated Kubernetes workload has a PodDisruptionBudget.",
                "Give the replicated service a PodDisruptionBudget (platforms/kubernetes.py).", sp.disruption_budgets),
    StackPolicy("persistent-storage",
                "Stateful services keep their data on persistent volumes, protected and retained in production.",
                "Declare the data as a stateful VolumeSpec; set protect_state in the production stack.",
                sp.persistent_storage),
    StackPolicy("backups-scheduled", "In production, a backup plan captures every stateful service.",
                "Add the service to the backup plans (services/backup.py, backup/sources.py).",
                sp.backups_scheduled),
    StackPolicy("retention", "Metrics and logs are kept at least 30 days (seeds 003 and 004).",
                "Set prometheus.retention and logs.retention to 30d or more.", sp.retention),
    StackPolicy("grafana-login", "Grafana requires a login: anonymous access and sign-up are off.",
                "Turn off [auth.anonymous] and [users] allow_sign_up in render/grafana.", sp.grafana_login),
    StackPolicy("ingress-exposure", "Only the services meant to be reachable sit behind an Ingress.",
                "Route the Ingress to an exposed service only (config exposed_services).", sp.ingress_exposure),
    StackPolicy("tls-in-production", "In production every endpoint serves TLS and asks for credentials.",
                "Serve the endpoint over HTTPS with authentication (security.tls, security.auth).",
                sp.tls_in_production),
    StackPolicy("alert-rules-complete",
                "Every alert has severity, summary, description, runbook_url and dashboard_url, and its runbook "
                "section exists.",
                "Fill the rule's annotations; add the section to docs/runbooks/<domain>.md.", sp.alert_rules_complete),
    StackPolicy("dashboards-use-provisioned-datasources", "Every dashboard panel uses a provisioned datasource.",
                "Reference datasources by the fixed uids of components/grafana_datasources.py.",
                sp.dashboards_use_provisioned_datasources),
)

# The pack's settings (CrossGuard: policy config; offline: `--config FILE`), defaults matching both stacks.
DEFAULT_CONFIG: dict[str, Any] = {"production_stacks": ["prod"], "allowed_service_types": [],
                                  "bind_address": rp.DEFAULT_BIND_ADDRESS,
                                  "published_services": list(rp.DEFAULT_PUBLISHED_SERVICES), "auth_enabled": False,
                                  "publish_trace_receivers": rp.DEFAULT_PUBLISH_TRACE_RECEIVERS,
                                  "exposed_services": ["grafana"], "secret_values": []}
