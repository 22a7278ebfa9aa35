"""Each resource policy, called as CrossGuard calls it, on one compliant and one violating resource."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from pulumi_policy import ResourceValidationArgs

from policies.catalog import RESOURCE_POLICIES
from policies.crossguard import resource_validator
from tests.policies import builders as b

POLICIES = {policy.name: policy for policy in RESOURCE_POLICIES}


def violations(policy_name: str, resource_type: str, props: dict[str, Any], config: dict | None = None) -> list[str]:
    args = ResourceValidationArgs(resource_type, props, f"urn:pulumi:prod::monitoring::{resource_type}::r", "r",
                                  b.options(), None, config)
    found: list[str] = []
    resource_validator(POLICIES[policy_name])(args, lambda message, urn=None: found.append(message))
    return found


def mutate(build: Callable[[], dict], change: Callable[[dict], Any]) -> dict:
    props = build()
    change(props)
    return props


def k8s_first_container(props: dict) -> dict:
    return props["spec"]["template"]["spec"]["containers"][0]


# (policy, resource type, a violating resource, the words its violation says)
CASES = [
    ("images-pinned", b.CONTAINER, mutate(b.docker_container, lambda p: p.update(image="grafana/grafana:latest")), "latest"),
    ("images-pinned", b.CONTAINER, mutate(b.docker_container, lambda p: p.update(image="grafana/grafana")), "no tag"),
    ("images-pinned", b.DEPLOYMENT, mutate(b.k8s_workload, lambda p: k8s_first_container(p).update(image="registry:5000/x")), "no tag"),
    ("images-pinned", "docker:index/remoteImage:RemoteImage", {"name": "busybox:latest"}, "latest"),
    ("resource-limits", b.CONTAINER, mutate(b.docker_container, lambda p: p.pop("memory")), "memory"),
    ("resource-limits", b.CONTAINER, mutate(b.docker_container, lambda p: p.pop("cpus")), "CPU"),
    ("resource-limits", b.DEPLOYMENT, mutate(b.k8s_workload, lambda p: k8s_first_container(p)["resources"]["limits"].pop("cpu")), "cpu"),
    ("health-checks", b.CONTAINER, mutate(b.docker_container, lambda p: p.pop("healthcheck")), "health check"),
    ("health-checks", b.DEPLOYMENT, mutate(b.k8s_workload, lambda p: k8s_first_container(p).pop("livenessProbe")), "probe"),
    ("host-access-exceptions", b.CONTAINER, mutate(b.docker_container, lambda p: p.update(privileged=True)), "privileged"),
    ("host-access-exceptions", b.CONTAINER, mutate(b.docker_container, lambda p: p.update(networkMode="host")), "host network"),
    ("host-access-exceptions", b.CONTAINER, mutate(b.docker_container, lambda p: p["mounts"].append(
        {"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock"})), "docker.sock"),
    ("host-access-exceptions", b.CONTAINER, mutate(b.docker_container, lambda p: p.update(pidMode="host", labels=[
        {"label": "monitoring.security_exception", "value": "because I said so"}])), "names no known reason"),
    ("host-access-exceptions", b.DEPLOYMENT, mutate(b.host_workload, lambda p: p["metadata"].pop("annotations")), "no documented exception"),
    ("host-access-exceptions", b.DEPLOYMENT, mutate(b.k8s_workload, lambda p: p["spec"]["template"]["spec"].update(
        volumes=[{"name": "root", "hostPath": {"path": "/"}}])), "host path /"),
    ("restricted-security-context", b.DEPLOYMENT, mutate(b.k8s_workload, lambda p: (
        k8s_first_container(p)["securityContext"].pop("runAsNonRoot"), p["spec"]["template"]["spec"].pop("securityContext"))), "root"),
    ("restricted-security-context", b.DEPLOYMENT, mutate(b.k8s_workload, lambda p: k8s_first_container(p)["securityContext"].update(
        allowPrivilegeEscalation=True)), "allowPrivilegeEscalation"),
    ("restricted-security-context", b.DEPLOYMENT, mutate(b.k8s_workload, lambda p: k8s_first_container(p)["securityContext"].pop(
        "capabilities")), "drop ALL"),
    ("restricted-security-context", b.DEPLOYMENT, mutate(b.k8s_workload, lambda p: k8s_first_container(p)["securityContext"].pop(
        "seccompProfile")), "seccomp"),
    ("service-exposure", "kubernetes:core/v1:Service", {"spec": {"type": "LoadBalancer"}}, "LoadBalancer"),
    ("service-exposure", b.CONTAINER, mutate(b.docker_container, lambda p: p["ports"][0].update(ip="0.0.0.0")), "0.0.0.0"),
    ("service-exposure", b.CONTAINER, mutate(b.docker_container, lambda p: p["ports"][0].pop("ip")), "every interface"),
    ("service-exposure", b.CONTAINER, mutate(b.docker_container, lambda p: p.update(labels=[
        {"label": "monitoring.service", "value": "pushgateway"}])), "'pushgateway', which exposure.publish does not list"),
    ("no-plain-secrets", b.CONTAINER, mutate(b.docker_container, lambda p: p["envs"].append("GF_SECURITY_ADMIN_PASSWORD=hunter22")), "GF_SECURITY_ADMIN_PASSWORD"),
    ("no-plain-secrets", b.CONTAINER, mutate(b.docker_container, lambda p: p["labels"].append(
        {"label": "token", "value": "ghp_" + "a1B2" * 9})), "GitHub token"),
    ("no-plain-secrets", "kubernetes:core/v1:ConfigMap", {"data": {"alertmanager.yml": "slack_api_url: https://hooks.slack.com/services/T0001/B0001/abcdefghijklmnopqrstuvwx"}}, "Slack webhook"),
    ("no-plain-secrets", "kubernetes:core/v1:ConfigMap", {"data": {"key.pem": "-----BEGIN RSA PRIVATE KEY-----\nMII"}}, "private key"),
    ("no-plain-secrets", b.DEPLOYMENT, mutate(b.k8s_workload, lambda p: k8s_first_container(p).update(
        env=[{"name": "API_TOKEN", "value": "s3cr3t-value"}])), "API_TOKEN"),
]

COMPLIANT = [
    (b.CONTAINER, b.docker_container()),
    (b.DEPLOYMENT, b.k8s_workload()),
    (b.STATEFULSET, b.k8s_workload(b.STATEFULSET, replicas=2)),
    (b.DEPLOYMENT, b.host_workload()),  # host access with its documented exception
    (b.CONTAINER, mutate(b.docker_container, lambda p: p.update(image="grafana/grafana@sha256:" + "0" * 64))),
    (b.CONTAINER, mutate(b.docker_container, lambda p: (p.pop("healthcheck"), p.update(mustRun=False)))),  # one-shot
    ("kubernetes:core/v1:Service", {"spec": {"type": "ClusterIP"}}),
    ("kubernetes:core/v1:Secret", {"stringData": "[secret]"}),
]


@pytest.mark.parametrize(("policy", "resource_type", "props", "says"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_violation_is_reported_with_why_and_fix(policy, resource_type, props, says):
    found = violations(policy, resource_type, props)
    assert found, f"{policy} let a violating {resource_type} through"
    assert any(says in message for message in found), found
    assert all("Fix: " in message for message in found)


@pytest.mark.parametrize(("resource_type", "props"), COMPLIANT, ids=[f"{t}-{i}" for i, (t, _) in enumerate(COMPLIANT)])
@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_compliant_resource_passes(policy, resource_type, props):
    assert violations(policy, resource_type, props) == []


def test_every_resource_policy_has_a_violating_case():
    assert {case[0] for case in CASES} == set(POLICIES)


def test_allowed_service_type_and_known_secret_value_come_from_the_config():
    service = {"spec": {"type": "NodePort"}}
    assert violations("service-exposure", "kubernetes:core/v1:Service", service, {"allowed_service_types": ["NodePort"]}) == []
    published = b.docker_container()
    published["ports"][0]["ip"] = "0.0.0.0"
    assert violations("service-exposure", b.CONTAINER, published, {"bind_address": "0.0.0.0"}) == []
    assert violations("service-exposure", b.CONTAINER, b.docker_container(), {"bind_address": "0.0.0.0"})
    ini = {"data": {"grafana.ini": "admin_password = correct-horse-battery"}}
    assert violations("no-plain-secrets", "kubernetes:core/v1:ConfigMap", ini) == []
    assert violations("no-plain-secrets", "kubernetes:core/v1:ConfigMap", ini, {"secret_values": ["correct-horse-battery"]})


def _publishing(service: str, internal: int = 3000, external: int | None = 23000) -> dict[str, Any]:
    """A container labelled `service` with one port on the bind address (published when `external`)."""
    return mutate(b.docker_container, lambda p: p.update(
        labels=[{"label": "monitoring.service", "value": service}],
        ports=[{"internal": internal, **({"external": external} if external else {}), "ip": "127.0.0.1"}]))


# (container's monitoring.service, its internal port, pack config) that may publish
PUBLISHING_ALLOWED = [
    ("grafana", 3000, {}),
    ("prometheus-proxy", 8080, {}),  # Prometheus' published side
    ("alertmanager", 9093, {"published_services": ["alertmanager"]}),
    ("monitoring-api", 8080, {"published_services": ["grafana", "api"]}),
    ("loki", 3100, {}),
    ("gateway", 3100, {"auth_enabled": True}),  # Loki's host port when security.auth gates Loki
    ("alloy", 4317, {}),  # a trace receiver (traces.publish_receivers)
]
# (container's monitoring.service, its internal port, pack config, the words the violation says)
PUBLISHING_REFUSED = [
    ("alertmanager", 9093, {"published_services": ["grafana", "prometheus"]},
     "'alertmanager' for 'alertmanager', which exposure.publish does not list (it lists grafana, prometheus)"),
    ("monitoring-api", 8080, {}, "for 'api', which exposure.publish does not list"),
    ("prometheus-proxy", 8080, {"published_services": ["grafana"]}, "for 'prometheus', which"),
    ("prometheus", 9090, {}, "'prometheus', which is never published"),  # only through its proxy
    ("pushgateway", 9091, {}, "for 'pushgateway', which exposure.publish does not list"),
    ("gateway", 3100, {}, "'gateway', which is never published"),  # no gateway without security.auth
    ("loki", 3100, {"auth_enabled": True}, "'loki', which is never published"),  # gated: the gateway publishes
    ("alloy", 4317, {"publish_trace_receivers": False}, "for 'alloy', which exposure.publish does not list"),
    ("alloy", 12345, {}, "for 'alloy', which exposure.publish does not list"),  # not a trace receiver
]


@pytest.mark.parametrize(("service", "internal", "config"), PUBLISHING_ALLOWED,
                         ids=[f"{s}-{i}" for i, (s, *_) in enumerate(PUBLISHING_ALLOWED)])
def test_a_service_the_stack_publishes_may_publish_its_port(service, internal, config):
    """exposure.publish (pack config published_services), security.auth (auth_enabled) and
    traces.publish_receivers (publish_trace_receivers) allow a container's host port.

    Mutations checked (each fails this test or the refusing one below): the published-services check
    dropped from service_exposure; the prometheus-proxy/monitoring-api aliases dropped; published_as
    bypassed (the gateway never or always Loki's publisher); the trace-receiver allowance dropped or
    made unconditional; ports without `external` counted."""
    assert violations("service-exposure", b.CONTAINER, _publishing(service, internal), config) == []
    # A port on the stack network only (no host port) is never a publication.
    assert violations("service-exposure", b.CONTAINER, _publishing("pushgateway", 9091, None), config) == []


@pytest.mark.parametrize(("service", "internal", "config", "says"), PUBLISHING_REFUSED,
                         ids=[f"{s}-{i}" for i, (s, *_) in enumerate(PUBLISHING_REFUSED)])
def test_a_service_the_stack_does_not_publish_may_not_publish_a_port(service, internal, config, says):
    """A host port on the bind address is still a violation when its service is not published.

    Mutations checked: the check removed (no violation at all); the container's own name compared
    with exposure.publish instead of its publish entry (prometheus-proxy, monitoring-api, gateway);
    Prometheus itself allowed; a gated Loki allowed; the receivers allowed whatever the setting."""
    found = violations("service-exposure", b.CONTAINER, _publishing(service, internal), config)
    assert len(found) == 1 and says in found[0], found
    assert "port 23000 is published by" in found[0] and "Fix: " in found[0]
