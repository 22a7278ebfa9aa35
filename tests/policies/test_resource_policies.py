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
