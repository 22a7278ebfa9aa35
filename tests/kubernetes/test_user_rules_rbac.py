"""The monitoring API's user rules on a cluster, as the prod preview declares them: one ConfigMap
the program creates empty and never overwrites, a namespaced Role allowing get, update and patch on
that one ConfigMap (resourceNames) bound to the API's ServiceAccount and nothing broader, the API's
token mounted (only it and the discovering services get one), both Prometheus replicas mounting the
ConfigMap read-only as their user rules directory and reloading by themselves, and the API's
NetworkPolicy letting it reach the API server. (The same manifests pass the strict schema validation
and checkov's default checks: test_manifests_schema.py, test_manifests_scan.py.)

Mutations each caught by an assertion here (reasoned from the assertions, not run: the platform
files are edited concurrently by others): a ClusterRole (or a Role without resourceNames, or with
create/list/delete), the binding to another account, the ConfigMap without `ignore_changes` on its
data, the Prometheus mount writable or missing, the auto-reload flags missing, the API's egress to
the API server missing, automountServiceAccountToken off for the API.
"""

from __future__ import annotations

from render.prometheus import USER_RULES_DIR
from services.api import USER_RULES_CONFIG_MAP
from tests.kubernetes.platform_support import containers, manifests, of_kind, workloads

API = "monitoring-api"


def test_one_configmap_created_empty_and_never_overwritten(previews):
    preview = previews["prod"]
    documents = manifests(preview)
    kept = {key: doc for key, doc in of_kind(documents, "ConfigMap").items() if key.endswith(f"/{USER_RULES_CONFIG_MAP}")}
    assert len(kept) == 1
    (key, config_map), = kept.items()
    assert not config_map.get("data")
    registered = [r for r in preview.of_type("kubernetes:core/v1:ConfigMap") if r["name"] == f"{API}-{USER_RULES_CONFIG_MAP}"]
    assert len(registered) == 1 and set(registered[0].get("ignore_changes", [])) >= {"data", "binaryData"}


def test_the_role_allows_only_that_configmap_and_those_verbs(previews):
    documents = manifests(previews["prod"])
    roles = {key: doc for key, doc in of_kind(documents, "Role").items() if doc["metadata"]["name"].startswith(API)}
    assert len(roles) == 1
    (key, role), = roles.items()
    namespace = role["metadata"]["namespace"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [USER_RULES_CONFIG_MAP],
                              "verbs": ["get", "update", "patch"]}]
    # Nothing cluster-wide for the API.
    assert not any(API in doc["metadata"]["name"] for doc in of_kind(documents, "ClusterRole").values())
    assert not any(subject["name"] == API for doc in of_kind(documents, "ClusterRoleBinding").values()
                   for subject in doc.get("subjects", []))
    bindings = [doc for doc in of_kind(documents, "RoleBinding").values()
                if doc["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]}]
    assert len(bindings) == 1 and bindings[0]["metadata"]["namespace"] == namespace
    assert bindings[0]["subjects"] == [{"kind": "ServiceAccount", "name": API, "namespace": namespace}]
    # The only Role granting writes anywhere in the stack.
    writers = [doc for doc in of_kind(documents, "Role").values()
               if any(set(rule["verbs"]) - {"get", "list", "watch"} for rule in doc["rules"])]
    assert writers == [role]
    api = workloads(documents)[f"{namespace}/{API}"]
    assert api["spec"]["template"]["spec"]["automountServiceAccountToken"] is True
    command = containers(api)[0].get("args", []) + containers(api)[0].get("command", [])
    assert f"{namespace}/{USER_RULES_CONFIG_MAP}" in command and "--rules-dir" not in command


def test_both_prometheus_replicas_mount_it_read_only_and_reload_by_themselves(previews):
    documents = manifests(previews["prod"])
    prometheus = next(doc for key, doc in workloads(documents).items() if key.endswith("/prometheus"))
    assert prometheus["spec"]["replicas"] == 2
    pod = prometheus["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v.get("configMap", {}).get("name") == USER_RULES_CONFIG_MAP)
    container = containers(prometheus)[0]
    mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
    assert mount == {"name": volume["name"], "mountPath": USER_RULES_DIR, "readOnly": True}
    flags = container.get("args", []) + container.get("command", [])
    assert "--enable-feature=auto-reload-config" in flags
    assert any(flag.startswith("--config.auto-reload-interval=") for flag in flags)
    assert "--web.enable-lifecycle" not in flags
    config = next(doc for doc in of_kind(documents, "ConfigMap").values() if "prometheus.yml" in (doc.get("data") or {}))
    assert f"{USER_RULES_DIR}/*.yml" in config["data"]["prometheus.yml"]


def test_the_api_may_reach_the_api_server(previews):
    documents = manifests(previews["prod"])
    policy = next(doc for key, doc in of_kind(documents, "NetworkPolicy").items() if key.endswith(f"/{API}"))
    ports = {port["port"] for rule in policy["spec"].get("egress", []) for port in rule.get("ports", [])
             if not rule.get("to") or any("ipBlock" in peer for peer in rule["to"])}
    assert {443, 6443} <= ports, policy["spec"].get("egress")
