"""Each stack policy, called as CrossGuard calls it, on a compliant stack and on one that breaks it."""

from __future__ import annotations

import json

import pytest
from pulumi_policy import StackValidationArgs

from policies.catalog import STACK_POLICIES
from policies.crossguard import stack_validator
from tests.policies import builders as b

POLICIES = {policy.name: policy for policy in STACK_POLICIES}
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"
DATASOURCE = "grafana:oss/dataSource:DataSource"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
GRAFANA_INI = "[auth.anonymous]\nenabled = false\n[users]\nallow_sign_up = false\n"
LOKI_YML = "compactor:\n  retention_enabled: true\nlimits_config:\n  retention_period: 720h\n"
ALERT = {"alert": "BackupFailed", "expr": "up == 0", "labels": {"severity": "critical"},
         "annotations": {"summary": "s", "description": "d", "runbook_url": "docs/runbooks/backup.md#backupfailed",
                         "dashboard_url": "https://grafana/d/stack-overview"}}


def stack(**changes) -> dict:
    """A compliant production stack as (type, name, props, protect) entries, keyed for mutation."""
    grafana = b.k8s_workload(b.STATEFULSET, replicas=2)
    container = grafana["spec"]["template"]["spec"]["containers"][0]
    container["args"] = ["--storage.tsdb.retention.time=30d"]
    container["image"] = "prom/prometheus:v3.5.0"
    entries = {
        "workload": (b.STATEFULSET, "grafana", grafana, True),
        "netpol": (NETPOL, "grafana", {"metadata": {"namespace": "monitoring"}, "spec": {"podSelector": {"matchLabels": b.SELECTOR}}}, False),
        "pdb": (PDB, "grafana", {"metadata": {"namespace": "monitoring"}, "spec": {"selector": {"matchLabels": b.SELECTOR}}}, False),
        "config": (CONFIGMAP, "grafana-config", {"data": {
            "grafana.ini": GRAFANA_INI, "loki.yml": LOKI_YML, "plan.json": json.dumps({"sources": {"grafana": {}}}),
            "rules__backup.yml": json.dumps({"groups": [{"name": "g", "rules": [ALERT]}]})}}, False),
        "datasource": (DATASOURCE, "prometheus", {"uid": "prometheus", "url": "https://prometheus:9090", "basicAuthEnabled": True}, False),
        "ingress": (INGRESS, "grafana", {"spec": {"tls": [{"hosts": ["g.example.com"]}], "rules": [
            {"host": "g.example.com", "http": {"paths": [{"backend": {"service": {"name": "grafana"}}}]}}]}}, False),
        "dashboard": ("grafana:oss/dashboard:Dashboard", "node", {"configJson": json.dumps(
            {"panels": [{"datasource": {"uid": "prometheus"}, "targets": [{"datasource": {"uid": "${datasource}"}}]}]})}, False),
    }
    entries.update(changes)
    return entries


def violations(policy_name: str, entries: dict, stack_name: str = "prod") -> list[str]:
    resources = [b.stack_resource(t, n, p, stack_name, protect) for t, n, p, protect in entries.values() if t]
    found: list[str] = []
    stack_validator(POLICIES[policy_name])(StackValidationArgs(resources), lambda message, urn=None: found.append(message))
    return found


def replaced(key: str, edit) -> dict:
    entries = stack()
    type_, name, props, protect = entries[key]
    props = json.loads(json.dumps(props))
    result = edit(props)
    # An edit returning a (type, name, props, protect) tuple replaces the entry; any other edit is in place.
    entries[key] = result if isinstance(result, tuple) and len(result) == 4 else (type_, name, props, protect)
    return entries


def _config_data(edit):
    return lambda props: edit(props["data"])


CASES = [
    ("network-policies-cover-workloads", replaced("netpol", lambda p: p["spec"].update(podSelector={})), "no NetworkPolicy"),
    ("disruption-budgets", replaced("pdb", lambda p: (None, None, None, None)), "PodDisruptionBudget"),
    ("persistent-storage", replaced("workload", lambda p: p["spec"].pop("volumeClaimTemplates")), "persistent volume claim"),
    ("persistent-storage", replaced("workload", lambda p: (b.STATEFULSET, "grafana", p, False)), "not protected"),
    ("persistent-storage", replaced("workload", lambda p: p["spec"].pop("persistentVolumeClaimRetentionPolicy")), "retained"),
    ("backups-scheduled", replaced("config", _config_data(lambda d: d.update({"plan.json": '{"sources": {"loki": {}}}'}))), "grafana holds state"),
    ("retention", replaced("workload", lambda p: p["spec"]["template"]["spec"]["containers"][0].update(
        args=["--storage.tsdb.retention.time=15d"])), "15d is under 30 days"),
    ("retention", replaced("workload", lambda p: p["spec"]["template"]["spec"]["containers"][0].update(args=[])), "15 days"),
    ("retention", replaced("config", _config_data(lambda d: d.update({"loki.yml": LOKI_YML.replace("720h", "168h")}))), "168h"),
    ("grafana-login", replaced("config", _config_data(lambda d: d.update({"grafana.ini": GRAFANA_INI.replace(
        "enabled = false", "enabled = true")}))), "anonymous"),
    ("grafana-login", replaced("config", _config_data(lambda d: d.update({"grafana.ini": "[auth.anonymous]\nenabled = false\n"}))), "sign-up"),
    ("ingress-exposure", replaced("ingress", lambda p: p["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"].update(
        name="prometheus")), "'prometheus'"),
    ("tls-in-production", replaced("ingress", lambda p: p["spec"].pop("tls")), "without TLS"),
    ("tls-in-production", replaced("datasource", lambda p: p.update(url="http://prometheus:9090")), "not HTTPS"),
    ("tls-in-production", replaced("datasource", lambda p: p.pop("basicAuthEnabled")), "without credentials"),
    ("alert-rules-complete", replaced("config", _config_data(lambda d: d.update({"rules__backup.yml": json.dumps(
        {"groups": [{"name": "g", "rules": [{**ALERT, "annotations": {**ALERT["annotations"], "dashboard_url": ""}}]}]})}))),
     "no dashboard_url"),
    ("alert-rules-complete", replaced("config", _config_data(lambda d: d.update({"rules__backup.yml": json.dumps(
        {"groups": [{"name": "g", "rules": [{**ALERT, "labels": {}}]}]})}))), "no severity"),
    ("alert-rules-complete", replaced("config", _config_data(lambda d: d.update({"rules__backup.yml": json.dumps(
        {"groups": [{"name": "g", "rules": [{**ALERT, "annotations": {**ALERT["annotations"],
                                                                      "runbook_url": "docs/runbooks/backup.md#nosuchalert"}}]}]})}))),
     "no such section"),
    ("dashboards-use-provisioned-datasources", replaced("dashboard", lambda p: p.update(configJson=json.dumps(
        {"panels": [{"type": "row", "panels": [{"datasource": {"uid": "influx"}}]}]}))), "'influx'"),
]


@pytest.mark.parametrize(("policy", "entries", "says"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_violation_is_reported(policy, entries, says):
    found = violations(policy, entries)
    assert any(says in message for message in found), found


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_compliant_stack_passes(policy):
    assert violations(policy, stack()) == []


def test_every_stack_policy_has_a_violating_case():
    assert {case[0] for case in CASES} == set(POLICIES)


def test_production_only_policies_spare_other_stacks():
    unprotected = replaced("workload", lambda p: (b.STATEFULSET, "grafana", p, False))
    assert violations("persistent-storage", unprotected, stack_name="staging") == []
    no_tls = replaced("ingress", lambda p: p["spec"].pop("tls"))
    assert violations("tls-in-production", no_tls, stack_name="staging") == []
