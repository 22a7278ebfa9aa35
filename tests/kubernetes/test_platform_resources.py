"""The Kubernetes platform's objects in the prod preview: HA shape, lock-down, storage, RBAC, network."""

from __future__ import annotations

import dataclasses

import pytest

from platforms.kubernetes_objects import ANNOTATION_CONFIG_HASH, ANNOTATION_EXCEPTION, SECRET_FILE_MODE, pod_template
from services.cluster import for_platform
from services.core import core_services
from settings.types import _image  # the same pin rule the settings apply
from tests.conftest import stack_settings
from tests.kubernetes.platform_support import containers, manifests, of_kind, workloads

NAMESPACE = "monitoring"
AGENTS = "monitoring-host"
HOST_AGENTS = {"node-exporter", "alloy", "promtail", "dcgm-exporter"}


@pytest.fixture(scope="module")
def prod(previews):
    return manifests(previews["prod"])


def test_namespaces_enforce_restricted_and_only_host_agents_are_elsewhere(prod):
    namespaces = of_kind(prod, "Namespace")
    labels = namespaces[NAMESPACE]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    agents = namespaces[AGENTS]["metadata"]
    assert agents["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert agents["annotations"][ANNOTATION_EXCEPTION]
    for key, workload in workloads(prod).items():
        namespace, name = key.split("/")
        if namespace == AGENTS:
            assert name in HOST_AGENTS, f"{name} does not need the host yet runs outside restricted"
            assert workload["kind"] == "DaemonSet"
            assert workload["metadata"]["annotations"][ANNOTATION_EXCEPTION], f"{name}: reason for the exception"
        else:
            assert namespace == NAMESPACE


def test_every_container_is_locked_down_bounded_and_probed(prod):
    for key, workload in workloads(prod).items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, key
        for container in containers(workload):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, key
            assert context["allowPrivilegeEscalation"] is False, key
            assert context["capabilities"]["drop"] == ["ALL"], key
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, key
            if key.startswith(f"{NAMESPACE}/"):
                assert context["runAsNonRoot"] is True and context["runAsUser"] > 0, key
                assert "add" not in context["capabilities"] and not context.get("privileged"), key
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) == {"cpu", "memory"}, key
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                check = container[probe]
                # httpGet, or behind basic auth (security.auth) the image's wget (or, in the mocks'
                # python image, urllib) reading the header from its secret file: never a credential
                # in the pod spec's httpHeaders.
                command = " ".join(check.get("exec", {}).get("command", []))
                # Alloy behind basic auth has no HTTP client in its image: a TCP probe of its port, which
                # tells as much as /-/ready in v1.11.3 (the port opens only after the first load, and
                # /-/ready is true from then on: logs/upstream/alloy-v1.11.3-http-block.md).
                alloy_tcp = key == f"{AGENTS}/alloy" and check.get("tcpSocket") == {"port": 12345}
                assert (check.get("httpGet", {}).get("port", 0) > 0 or "$(cat /run/secrets/" in command
                        or "open('/run/secrets/" in command or alloy_tcp), f"{key}: {probe}"
                assert "httpHeaders" not in check.get("httpGet", {}), f"{key}: {probe}"
            # A read-only root: the tools write only to mounted volumes (and an emptyDir /tmp).
            assert any(mount["mountPath"] == "/tmp" for mount in container["volumeMounts"]), key


def test_prometheus_and_alertmanager_are_replicated_with_stable_identities(prod):
    statefulsets = of_kind(prod, "StatefulSet")
    prometheus = statefulsets[f"{NAMESPACE}/prometheus"]["spec"]
    alertmanager = statefulsets[f"{NAMESPACE}/alertmanager"]["spec"]
    loki = statefulsets[f"{NAMESPACE}/loki"]["spec"]
    assert (prometheus["replicas"], alertmanager["replicas"], loki["replicas"]) == (2, 3, 1)
    services = of_kind(prod, "Service")
    peers = services[f"{NAMESPACE}/{alertmanager['serviceName']}"]["spec"]
    assert peers["clusterIP"] == "None" and peers["publishNotReadyAddresses"] is True
    # Gossip over mutual TLS in prod (security.tls): TCP only, Alertmanager's TLS transport opens no UDP.
    assert {(p["port"], p["protocol"]) for p in peers["ports"] if p["port"] == 9094} == {(9094, "TCP")}
    args = containers(statefulsets[f"{NAMESPACE}/alertmanager"])[0]["args"]
    assert [a for a in args if a.startswith("--cluster.peer=")] == [
        f"--cluster.peer=alertmanager-{i}.alertmanager-peers.{NAMESPACE}.svc:9094" for i in range(3)
    ]
    assert "--cluster.tls-config=/etc/alertmanager/cluster-tls.yml" in args
    # Grafana sticks to one Prometheus replica; nothing is exposed outside the cluster by default.
    assert services[f"{NAMESPACE}/prometheus"]["spec"]["sessionAffinity"] == "ClientIP"
    assert {service["spec"].get("type", "ClusterIP") for service in services.values()} <= {"ClusterIP", "ExternalName"}
    for spec in (prometheus, alertmanager):
        template = spec["template"]["spec"]
        assert template["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    budgets = of_kind(prod, "PodDisruptionBudget")
    assert set(budgets) == {f"{NAMESPACE}/prometheus", f"{NAMESPACE}/alertmanager"}
    assert all(budget["spec"]["maxUnavailable"] == 1 for budget in budgets.values())


def test_prod_state_is_protected_and_retained(previews, prod):
    preview = previews["prod"]
    for name in ("prometheus", "alertmanager", "loki"):
        resource = preview.named("kubernetes:apps/v1:StatefulSet", name)
        assert resource["protect"] and resource["retain_on_delete"], name
        spec = of_kind(prod, "StatefulSet")[f"{NAMESPACE}/{name}"]["spec"]
        assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
        (claim,) = spec["volumeClaimTemplates"]
        assert claim["spec"]["resources"]["requests"]["storage"]
    for claim in preview.of_type("kubernetes:core/v1:PersistentVolumeClaim"):
        assert claim["protect"] and claim["retain_on_delete"], claim["name"]
    assert preview.named("kubernetes:core/v1:Namespace", "namespace")["protect"]


def test_only_prometheus_and_the_collector_read_the_api_and_only_read(prod):
    roles = of_kind(prod, "ClusterRole")
    assert set(roles) == {"monitoring-prod-prometheus", "monitoring-prod-alloy"}
    verbs = {verb for role in roles.values() for rule in role["rules"] for verb in rule["verbs"]}
    assert verbs <= {"get", "list", "watch"}
    prometheus_resources = {r for rule in roles["monitoring-prod-prometheus"]["rules"] for r in rule["resources"]}
    assert prometheus_resources == {"nodes", "nodes/metrics", "pods", "services", "endpoints", "endpointslices"}
    assert {r for rule in roles["monitoring-prod-alloy"]["rules"] for r in rule["resources"]} == {"pods"}
    bindings = of_kind(prod, "ClusterRoleBinding")
    assert {b["subjects"][0]["name"] for b in bindings.values()} == {"prometheus", "alloy"}
    # A token for those, and for the monitoring API, which keeps its one ConfigMap (a Role on that
    # object alone: tests/kubernetes/test_user_rules_rbac.py).
    for key, workload in workloads(prod).items():
        mounted = workload["spec"]["template"]["spec"]["automountServiceAccountToken"]
        assert mounted is (key.split("/")[1] in {"prometheus", "alloy", "monitoring-api"}), key
        assert workload["spec"]["template"]["spec"]["serviceAccountName"] == key.split("/")[1]


def test_rendered_documents_are_config_maps_mounted_read_only_and_hashed(prod):
    config_maps = of_kind(prod, "ConfigMap")
    prometheus = config_maps[f"{NAMESPACE}/prometheus-config"]["data"]
    assert "prometheus.yml" in prometheus and "rules__node.yml" in prometheus
    statefulset = of_kind(prod, "StatefulSet")[f"{NAMESPACE}/prometheus"]
    mounts = {m["mountPath"]: m for m in containers(statefulset)[0]["volumeMounts"] if m["name"] == "config"}
    assert mounts["/etc/prometheus/rules/node.yml"] == {
        "name": "config", "mountPath": "/etc/prometheus/rules/node.yml", "subPath": "rules__node.yml", "readOnly": True
    }
    assert statefulset["spec"]["template"]["metadata"]["annotations"][ANNOTATION_CONFIG_HASH]


def test_a_changed_document_changes_the_pod_template_and_nothing_else_does():
    settings = stack_settings("prod")
    spec = for_platform(settings, core_services(settings))["prometheus"]
    before, _ = pod_template(settings, spec, spec.image, {})
    changed_file = dataclasses.replace(spec.files[0], content=spec.files[0].content + "# changed\n")
    after, _ = pod_template(settings, dataclasses.replace(spec, files=(changed_file, *spec.files[1:])), spec.image, {})
    again, _ = pod_template(settings, spec, spec.image, {})
    assert before["metadata"]["annotations"][ANNOTATION_CONFIG_HASH] != after["metadata"]["annotations"][ANNOTATION_CONFIG_HASH]
    assert before == again


def test_secrets_are_files_from_a_secret_readable_by_the_service_group_only(prod):
    grafana = of_kind(prod, "Deployment")[f"{NAMESPACE}/grafana"]
    pod = grafana["spec"]["template"]["spec"]
    (secret_volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert secret_volume["secret"]["defaultMode"] == SECRET_FILE_MODE == 0o440
    # Prod serves TLS with basic auth (security.*): Grafana's certificate and key, the CA, and the
    # client user's password that guards its /metrics.
    files = {"grafana_admin_password": "grafana_admin_password", "tls.grafana.crt": "tls.crt",
             "tls.grafana.key": "tls.key", "tls.ca.crt": "ca.crt", "web_client_password": "web_client_password"}
    assert secret_volume["secret"]["items"] == [{"key": key, "path": path} for key, path in files.items()]
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
    secret = of_kind(prod, "Secret")[f"{NAMESPACE}/grafana-secrets"]
    assert secret["stringData"] == {key: "[secret]" for key in files}
    assert not any("PASSWORD" in e["name"] for e in containers(grafana)[0]["env"])


def test_host_agents_read_the_host_read_only(prod):
    daemonsets = of_kind(prod, "DaemonSet")
    node = daemonsets[f"{AGENTS}/node-exporter"]["spec"]["template"]["spec"]
    assert node["hostPID"] and node["hostNetwork"]
    assert all(m.get("readOnly") for m in containers(daemonsets[f"{AGENTS}/node-exporter"])[0]["volumeMounts"]
               if m["name"].startswith("host-"))
    collector = daemonsets[f"{AGENTS}/alloy"]["spec"]["template"]["spec"]
    host_paths = {v["hostPath"]["path"] for v in collector["volumes"] if "hostPath" in v}
    assert "/var/log/pods" in host_paths and "/var/run/docker.sock" not in host_paths
    assert not collector.get("hostNetwork") and not collector.get("hostPID")
    # Its own state on the node, and Promtail's read positions (a one-setting switch back) read-only.
    state = {
        v["name"]: v["hostPath"]["path"]
        for v in collector["volumes"]
        if "hostPath" in v and v["hostPath"]["path"].startswith("/var/lib/")
    }
    mounts = {m["name"]: m for m in containers(daemonsets[f"{AGENTS}/alloy"])[0]["volumeMounts"]}
    assert len(set(state.values())) == len(state) >= 2, "each state volume has a directory of its own"
    borrowed = [name for name, path in state.items() if "-promtail-" in path]
    assert borrowed and all(mounts[name].get("readOnly") for name in borrowed)
    # No privileged cAdvisor on a cluster: the kubelet serves its metrics.
    assert not any(key.endswith("/cadvisor") for key in workloads(prod))


def test_network_policies_deny_by_default_and_allow_exactly_the_flows(previews, prod):
    policies = of_kind(prod, "NetworkPolicy")
    for namespace in (NAMESPACE, AGENTS):
        deny = policies[f"{namespace}/default-deny"]["spec"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    loki = policies[f"{NAMESPACE}/loki"]["spec"]
    sources = {rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
               for rule in loki["ingress"] if "from" in rule}
    # With security.auth the gateway fronts Loki (render/gateway.py): Grafana and the monitoring API
    # reach it there; Prometheus scrapes /metrics, and the collector scrapes Loki's pprof endpoints.
    assert sources == {"prometheus", "alloy", "gateway"}
    alertmanager = policies[f"{NAMESPACE}/alertmanager"]["spec"]
    gossip = [r for r in alertmanager["ingress"] if r["ports"][0]["port"] == 9094]
    assert {r["ports"][0]["protocol"] for r in gossip} == {"TCP"}
    for key, workload in workloads(prod).items():
        if not workload["spec"]["template"]["spec"].get("hostNetwork"):
            assert key in policies, f"{key} has no NetworkPolicy of its own"


def test_images_are_pinned_and_grafana_waits_for_its_datasources_targets(previews, prod):
    preview = previews["prod"]
    built = preview.named("docker:index/image:Image", "mock-exporter")["inputs"]["imageName"]
    for key, workload in workloads(prod).items():
        for container in containers(workload):
            if container["image"] != built:
                _image(container["image"])  # raises on latest/untagged
    urn = {name: preview.named(kind, name)["urn"] for kind, name in (
        ("kubernetes:apps/v1:StatefulSet", "prometheus"), ("kubernetes:apps/v1:StatefulSet", "loki"),
        ("kubernetes:apps/v1:Deployment", "grafana"))}
    assert {urn["prometheus"], urn["loki"]} <= set(preview.named("kubernetes:apps/v1:Deployment", "grafana")["dependencies"])
    for datasource in preview.of_type("grafana:oss/dataSource:DataSource"):
        assert urn["grafana"] in datasource["dependencies"]
    assert previews["prod"].outputs["grafana_url"] == stack_settings("prod").grafana_url


def test_internal_grpc_ports_are_not_declared(prod):
    """Loki's, Tempo's and Pyroscope's gRPC listeners (9095) are bound to loopback and serve only the
    pod's own modules (logs/loki.py, traces/tempo.py, profiles/pyroscope.py): no container port,
    Service port or NetworkPolicy rule names them.

    Mutation checked: a PortSpec 9095 added to Tempo's ServiceSpec."""
    grpc = 9095
    for name in ("loki", "tempo", "pyroscope"):
        workload = workloads(prod)[f"{NAMESPACE}/{name}"]
        for container in containers(workload):
            assert grpc not in {p["containerPort"] for p in container.get("ports", [])}, name
    for key, service in of_kind(prod, "Service").items():
        if key.split("/")[1].split("-")[0] in ("loki", "tempo", "pyroscope"):
            assert grpc not in {p["port"] for p in service["spec"].get("ports", [])}, key
            assert grpc not in {p.get("targetPort") for p in service["spec"].get("ports", [])}, key
    for key, policy in of_kind(prod, "NetworkPolicy").items():
        for direction in ("ingress", "egress"):
            for rule in policy["spec"].get(direction, []):
                assert grpc not in {p.get("port") for p in rule.get("ports", [])}, (key, rule)
