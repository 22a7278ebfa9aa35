"""Parity: for the prod settings, the Docker and the Kubernetes platform deploy byte-identical rule
files and dashboards, and prometheus.yml files that differ only in discovery, the relabeling of
discovery labels and the replicas' external label (with what follows from it: the alerts leave
without it, to every Alertmanager peer). What staging proved on Docker is what prod runs."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from dashboards import render_dashboards
from render.dashboard_catalog import DASHBOARD_TITLES
from render.kubernetes_sd import kubelet_cadvisor
from render.prometheus import USER_RULES_DIR
from render.prometheus_ha import REPLICA_LABEL
from services.core import core_services
from tests.kubernetes.k8s_render import stack_on_platform

# Job fields that say how targets are found and reached: they differ by platform by design.
DISCOVERY_FIELDS = {"static_configs", "kubernetes_sd_configs", "file_sd_configs"}


@pytest.fixture(scope="module")
def platforms():
    return {platform: stack_on_platform("prod", platform) for platform in ("docker", "kubernetes")}


def deployed_files(settings) -> dict[str, str]:
    return {f.relpath: f.content for f in core_services(settings)["prometheus"].files}


def test_rule_files_are_byte_identical(platforms):
    docker, kubernetes = (deployed_files(platforms[p]) for p in ("docker", "kubernetes"))
    rules = sorted(name for name in docker if name.startswith("rules/"))
    assert len(rules) >= 8
    assert rules == sorted(name for name in kubernetes if name.startswith("rules/"))
    assert [docker[name] for name in rules] == [kubernetes[name] for name in rules]


def test_dashboards_are_byte_identical(platforms):
    docker, kubernetes = (render_dashboards(platforms[p]) for p in ("docker", "kubernetes"))
    assert docker.keys() == set(DASHBOARD_TITLES) == kubernetes.keys()
    for uid in docker:
        assert json.dumps(docker[uid], sort_keys=True) == json.dumps(kubernetes[uid], sort_keys=True), uid


def reads_discovery_labels(rule: dict[str, Any]) -> bool:
    """A relabeling of discovery labels: it reads only Kubernetes SD's `__meta_kubernetes_*` labels."""
    sources = rule.get("source_labels", [])
    return bool(sources) and all(s.startswith("__meta_kubernetes_") for s in sources)


def without_discovery(job: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A job with how it finds targets taken out (discovery blocks, relabeling of discovery labels),
    and the labels every one of its targets gets, whether from static_configs (Docker) or from
    relabeling without a source (Kubernetes, and the exporters' labels on both)."""
    job = copy.deepcopy(job)
    constant: dict[str, str] = {}
    for group in job.get("static_configs", []):
        constant.update(group.get("labels", {}))
    for key in DISCOVERY_FIELDS:
        job.pop(key, None)
    kept = []
    for rule in job.pop("relabel_configs", []):
        if reads_discovery_labels(rule):
            continue
        if "source_labels" not in rule and rule.get("action") == "replace":
            constant[rule["target_label"]] = rule["replacement"]
        else:
            kept.append(rule)
    if kept:
        job["relabel_configs"] = kept
    return job, constant


def test_prometheus_configs_differ_only_in_discovery_and_external_labels(platforms):
    docker, kubernetes = (yaml.safe_load(deployed_files(platforms[p])["prometheus.yml"]) for p in ("docker", "kubernetes"))

    # The replicas' own label, and the alerts leaving without it, to every peer of the mesh.
    assert kubernetes["global"]["external_labels"].pop(REPLICA_LABEL) == "${POD_NAME}"
    assert kubernetes["alerting"].pop("alert_relabel_configs") == [{"action": "labeldrop", "regex": REPLICA_LABEL}]
    docker_peers = docker["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    peers = kubernetes["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert len(docker_peers) == 1 and len(peers) == 3
    docker["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = peers

    # The monitoring API's user rules are globbed on both (its volume on Docker, its ConfigMap on a cluster).
    assert f"{USER_RULES_DIR}/*.yml" in kubernetes["rule_files"]
    docker_jobs = {job["job_name"]: job for job in docker.pop("scrape_configs")}
    kubernetes_jobs = {job["job_name"]: job for job in kubernetes.pop("scrape_configs")}
    assert docker == kubernetes
    assert list(docker_jobs) == list(kubernetes_jobs)

    # The kubelet is reached over HTTPS with the service account, where Docker's cAdvisor is plain HTTP,
    # and its container name is relabelled into `name`: the job fields kubelet_cadvisor adds.
    kubelet = kubelet_cadvisor(platforms["kubernetes"])
    cadvisor = kubernetes_jobs["cadvisor"]
    for field in ("scheme", "metrics_path", "authorization", "tls_config"):
        assert cadvisor.pop(field) == kubelet[field]
        docker_jobs["cadvisor"].pop(field, None)
    added = cadvisor["metric_relabel_configs"][-len(kubelet["metric_relabel_configs"]):]
    assert added == kubelet["metric_relabel_configs"]
    del cadvisor["metric_relabel_configs"][-len(added):]

    differing = {
        name: (without_discovery(docker_jobs[name]), without_discovery(kubernetes_jobs[name]))
        for name in docker_jobs
        if without_discovery(docker_jobs[name]) != without_discovery(kubernetes_jobs[name])
    }
    assert differing == {}
    # Not vacuous: the jobs do differ in discovery on the two platforms.
    assert all("kubernetes_sd_configs" in kubernetes_jobs[name] for name in ("node", "prometheus", "cadvisor-mock"))
    assert all("kubernetes_sd_configs" not in job for job in docker_jobs.values())
