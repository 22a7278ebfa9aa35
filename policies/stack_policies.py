"""Policies over a whole stack: plain functions of a `StackView` returning (resource, why) pairs.

They need every resource at once (a NetworkPolicy covers a workload declared elsewhere; a backup plan
names the services it captures) or the stack's kind (production)."""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from policies.model import Resource, StackView
from policies.workloads import K8S_WORKLOADS, docker_labels, pod_labels, pod_spec, workload

ROOT = Path(__file__).resolve().parent.parent
MIN_RETENTION_HOURS = 30 * 24  # seeds 003/004: 30 days of metrics and logs
ALERT_LABELS = ("severity",)
ALERT_ANNOTATIONS = ("summary", "description", "runbook_url", "dashboard_url")
# Grafana's built-in datasources, and references resolved from a dashboard variable.
BUILTIN_DATASOURCES = {"grafana", "-- Grafana --", "-- Mixed --", "-- Dashboard --", "__expr__"}
Found = list[tuple[str, str]]


# --- views of the stack ---------------------------------------------------------------------------

def documents(view: StackView) -> Iterator[tuple[str, str, str]]:
    """(resource name, document path, text) of every rendered document the stack ships."""
    for resource in view.resources:
        if resource.type == "docker:index/container:Container":
            for upload in resource.props.get("uploads") or ():
                if isinstance(upload.get("content"), str):
                    yield resource.name, upload.get("file", ""), upload["content"]
        elif resource.type == "kubernetes:core/v1:ConfigMap":
            for key, text in ((resource.props.get("data") or {}).items()):
                yield resource.name, key.replace("__", "/"), text


def backup_copy(path: str) -> bool:
    """The backup job carries a reference copy of every rendered document: checked at its origin."""
    return path.startswith("rendered/") or "/rendered/" in path


def workloads(view: StackView) -> Iterator[tuple[Resource, Any]]:
    for resource in view.resources:
        if (found := workload(resource.type, resource.props)) is not None:
            yield resource, found


def _namespace(resource: Resource) -> str:
    return (resource.props.get("metadata") or {}).get("namespace") or "default"


def _selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    match = (selector or {}).get("matchLabels") or {}
    return bool(match) and all(labels.get(key) == value for key, value in match.items())


def _k8s_workloads(view: StackView) -> list[Resource]:
    return [r for r in view.resources if r.type in K8S_WORKLOADS]


# --- Kubernetes -----------------------------------------------------------------------------------

def network_policies_cover_workloads(view: StackView) -> Found:
    """Every Kubernetes workload has a NetworkPolicy of its own (naming its flows), not just a default deny."""
    policies = view.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    return [(r.name, "no NetworkPolicy selects its pods") for r in _k8s_workloads(view)
            if not any(_namespace(p) == _namespace(r) and _selects((p.props.get("spec") or {}).get("podSelector"),
                                                                   pod_labels(r.type, r.props)) for p in policies)]


def disruption_budgets(view: StackView) -> Found:
    budgets = view.of_type("kubernetes:policy/v1:PodDisruptionBudget")
    return [(r.name, f"{r.props['spec']['replicas']} replicas and no PodDisruptionBudget selects them")
            for r in _k8s_workloads(view)
            if ((r.props.get("spec") or {}).get("replicas") or 1) > 1
            and not any(_namespace(b) == _namespace(r) and _selects((b.props.get("spec") or {}).get("selector"),
                                                                    pod_labels(r.type, r.props)) for b in budgets)]


# --- storage and backups --------------------------------------------------------------------------

def _claims(resource: Resource) -> list[str]:
    spec = resource.props.get("spec") or {}
    templates = [(t.get("metadata") or {}).get("name", "") for t in spec.get("volumeClaimTemplates") or ()]
    pod = pod_spec(resource.type, resource.props) or {}
    return templates + [v["persistentVolumeClaim"].get("claimName", "") for v in pod.get("volumes") or ()
                        if v.get("persistentVolumeClaim")]


def stateful_services(view: StackView) -> dict[str, Resource]:
    """Service name -> the resource holding its state: a StatefulSet or a workload with a claim on
    Kubernetes, a service's own `<service>-data` volume on Docker."""
    found: dict[str, Resource] = {}
    for resource in _k8s_workloads(view):
        if resource.type == "kubernetes:apps/v1:StatefulSet" or (
                _claims(resource) and resource.type != "kubernetes:batch/v1:CronJob"):
            found[pod_labels(resource.type, resource.props).get("app.kubernetes.io/name", resource.name)] = resource
    for volume in view.of_type("docker:index/volume:Volume"):
        service = docker_labels(volume.props).get("monitoring.service")
        if service and volume.name == f"{service}-data":
            found[service] = volume
    return found


def persistent_storage(view: StackView) -> Found:
    """StatefulSets claim persistent volumes; in production the state is protected and retained."""
    problems: Found = []
    for resource in view.of_type("kubernetes:apps/v1:StatefulSet"):
        spec = resource.props.get("spec") or {}
        if not _claims(resource):
            problems.append((resource.name, "a StatefulSet without a persistent volume claim"))
        if view.production:
            retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
            if any(retention.get(when) != "Retain" for when in ("whenDeleted", "whenScaled")):
                problems.append((resource.name, "its claims are not retained when it is deleted or scaled down"))
    if view.production:
        for resource in stateful_services(view).values():
            if resource.type.startswith("kubernetes:apps") and resource.type != "kubernetes:apps/v1:StatefulSet":
                continue  # a Deployment's state is its claim, checked below
            problems += _protection(resource)
        for claim in view.of_type("kubernetes:core/v1:PersistentVolumeClaim"):
            problems += _protection(claim)
    return problems


def _protection(resource: Resource) -> Found:
    problems = []
    if not resource.protect:
        problems.append((resource.name, "holds state in production and is not protected"))
    if resource.retain_on_delete is False:
        problems.append((resource.name, "holds state in production and is not retained on delete"))
    return problems


def backup_sources(view: StackView) -> set[str]:
    sources: set[str] = set()
    for _, path, text in documents(view):
        if path.endswith("plan.json") and not backup_copy(path):
            sources |= set((json.loads(text).get("sources") or {}))
    return sources


def backups_scheduled(view: StackView) -> Found:
    if not view.production:
        return []
    covered = backup_sources(view)
    return [(resource.name, f"{service} holds state and no backup plan captures it")
            for service, resource in sorted(stateful_services(view).items()) if service not in covered]


# --- retention ------------------------------------------------------------------------------------

DURATION_PART = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
UNIT_HOURS = {"y": 365 * 24, "w": 7 * 24, "d": 24, "h": 1, "m": 1 / 60, "s": 1 / 3600, "ms": 1 / 3_600_000}


def duration_hours(text: str) -> float | None:
    parts = DURATION_PART.findall(str(text))
    if not parts or "".join(a + b for a, b in parts) != str(text):
        return None
    return sum(int(amount) * UNIT_HOURS[unit] for amount, unit in parts)


def _arguments(found: Any) -> Iterator[str]:
    if found.kind == "docker":
        yield from found.pod.get("command") or ()
        return
    for container in found.containers:
        yield from [*(container.get("command") or ()), *(container.get("args") or ())]


def retention(view: StackView) -> Found:
    problems: Found = []
    for resource, found in workloads(view):
        images = [c.get("image", "") for c in found.containers]
        flags = [a.split("=", 1)[1] for a in _arguments(found) if str(a).startswith("--storage.tsdb.retention.time=")]
        if any("/prometheus:" in image for image in images) and not flags:
            problems.append((resource.name, "Prometheus without --storage.tsdb.retention.time keeps 15 days"))
        for flag in flags:
            if (duration_hours(flag) or 0) < MIN_RETENTION_HOURS:
                problems.append((resource.name, f"metric retention {flag} is under 30 days"))
    for name, path, text in documents(view):
        if path.endswith("loki.yml") and not backup_copy(path):
            config = yaml.safe_load(text) or {}
            period = (config.get("limits_config") or {}).get("retention_period", "0s")
            if not (config.get("compactor") or {}).get("retention_enabled"):
                problems.append((name, f"{path}: the compactor does not apply retention"))
            if (duration_hours(period) or 0) < MIN_RETENTION_HOURS:
                problems.append((name, f"{path}: log retention {period} is under 30 days"))
    return problems


# --- Grafana, exposure and TLS --------------------------------------------------------------------

def _truthy(value: str | None) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def _grafana_env(view: StackView) -> Iterator[tuple[str, str, str]]:
    for resource, found in workloads(view):
        if found.kind == "docker":
            yield from ((resource.name, *str(e).partition("=")[::2]) for e in found.pod.get("envs") or ())
        for container in found.containers:
            yield from ((resource.name, e.get("name", ""), str(e.get("value", ""))) for e in container.get("env") or ())


def grafana_login(view: StackView) -> Found:
    """Grafana requires a login: anonymous access and sign-up off, in grafana.ini and its environment."""
    problems: Found = []
    for name, path, text in documents(view):
        if not path.endswith("grafana.ini"):
            continue
        ini = configparser.ConfigParser(interpolation=None, strict=False)
        ini.read_string(text)
        if _truthy(ini.get("auth.anonymous", "enabled", fallback="false")):
            problems.append((name, f"{path}: anonymous access is on"))
        if _truthy(ini.get("users", "allow_sign_up", fallback="true")):
            problems.append((name, f"{path}: sign-up is not turned off"))
        if _truthy(ini.get("auth", "disable_login_form", fallback="false")) and not any(
                _truthy(ini.get(s, "enabled", fallback="false")) for s in ini.sections() if s.startswith("auth.")
                and s != "auth.anonymous"):
            problems.append((name, f"{path}: the login form is off and no other sign-in is on"))
    for name, key, value in _grafana_env(view):
        if key in ("GF_AUTH_ANONYMOUS_ENABLED", "GF_USERS_ALLOW_SIGN_UP") and _truthy(value):
            problems.append((name, f"environment {key}={value}"))
    return problems


def ingress_exposure(view: StackView) -> Found:
    """Only the services meant to be reachable (config `exposed_services`) sit behind an Ingress."""
    allowed = set(view.config.get("exposed_services", ("grafana",)))
    problems: Found = []
    for ingress in view.of_type("kubernetes:networking.k8s.io/v1:Ingress"):
        for rule in (ingress.props.get("spec") or {}).get("rules") or ():
            for path in (rule.get("http") or {}).get("paths") or ():
                service = ((path.get("backend") or {}).get("service") or {}).get("name")
                if service not in allowed:
                    problems.append((ingress.name, f"exposes service {service!r}, not one of {sorted(allowed)}"))
    return problems


def tls_in_production(view: StackView) -> Found:
    """In production every Ingress host serves TLS, Grafana reaches each datasource over HTTPS with
    credentials, and the collector pushes logs and profiles over HTTPS with credentials."""
    if not view.production:
        return []
    problems: Found = []
    for ingress in view.of_type("kubernetes:networking.k8s.io/v1:Ingress"):
        spec = ingress.props.get("spec") or {}
        secured = {host for tls in spec.get("tls") or () for host in tls.get("hosts") or ()}
        problems += [(ingress.name, f"host {rule.get('host')} is served without TLS")
                     for rule in spec.get("rules") or () if rule.get("host") not in secured]
    for source in view.of_type("grafana:oss/dataSource:DataSource"):
        props = source.props
        json_data = json.loads(props.get("jsonDataEncoded") or "{}") if props.get("jsonDataEncoded") != "[secret]" else {}
        if not str(props.get("url", "")).startswith("https://"):
            problems.append((source.name, f"datasource URL {props.get('url')} is not HTTPS"))
        if not (props.get("basicAuthEnabled") or json_data.get("httpHeaderName1") or json_data.get("tlsAuth")):
            problems.append((source.name, "datasource connects without credentials"))
    problems += _collector_writes(view)
    return problems


# A write endpoint in the collectors' configurations: Alloy's `url = "..."` inside a writer's
# `endpoint` block (loki.write, pyroscope.write), Promtail's `clients[].url`.
_ALLOY_ENDPOINT = re.compile(r'endpoint\s*\{\s*url\s*=\s*"([^"]+)"(.*?)\n  \}', re.S)


def _collector_writes(view: StackView) -> Found:
    """Every log and profile push of the collector goes over HTTPS with credentials."""
    problems: Found = []
    for name, path, text in documents(view):
        if backup_copy(path):
            continue
        if path.endswith(".alloy"):
            pushes = [(url, "basic_auth" in block or "bearer_token" in block) for url, block in _ALLOY_ENDPOINT.findall(text)]
        elif path.endswith("promtail.yml"):
            clients = (yaml.safe_load(text) or {}).get("clients") or ()
            pushes = [(c.get("url", ""), bool(c.get("basic_auth") or c.get("bearer_token_file"))) for c in clients]
        else:
            continue
        for url, credentials in pushes:
            if not url.startswith("https://"):
                problems.append((name, f"{path}: pushes to {url}, not HTTPS"))
            elif not credentials:
                problems.append((name, f"{path}: pushes to {url} without credentials"))
    return problems


# --- rules and dashboards -------------------------------------------------------------------------

def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def runbook_section_exists(url: str) -> bool:
    path, _, anchor = url.partition("#")
    if "docs/" not in path:
        return False
    file = ROOT / path[path.index("docs/"):]
    if not file.is_file():
        return False
    headings = [line.lstrip("#") for line in file.read_text().splitlines() if line.startswith("#")]
    return not anchor or anchor in {_anchor(h) for h in headings}


def alert_rules_complete(view: StackView) -> Found:
    problems: Found = []
    seen: set[tuple[str, str]] = set()
    for name, path, text in documents(view):
        if not path.endswith((".yml", ".yaml")) or backup_copy(path):
            continue
        document = yaml.safe_load(text)
        if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
            continue
        for group in document["groups"]:
            for rule in group.get("rules") or ():
                if "alert" not in rule or (path, rule["alert"]) in seen:
                    continue
                seen.add((path, rule["alert"]))
                where = f"{path}: alert {rule['alert']}"
                labels, annotations = rule.get("labels") or {}, rule.get("annotations") or {}
                problems += [(name, f"{where} has no {key} label") for key in ALERT_LABELS if not labels.get(key)]
                problems += [(name, f"{where} has no {key} annotation") for key in ALERT_ANNOTATIONS
                             if not annotations.get(key)]
                if annotations.get("runbook_url") and not runbook_section_exists(annotations["runbook_url"]):
                    problems.append((name, f"{where}: runbook {annotations['runbook_url']} has no such section"))
    return problems


def _datasource_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        reference = node.get("datasource")
        if isinstance(reference, dict) and reference.get("uid"):
            yield str(reference["uid"])
        elif isinstance(reference, str) and reference:
            yield reference
        for key, value in node.items():
            if key != "datasource":
                yield from _datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _datasource_refs(item)


def dashboards_use_provisioned_datasources(view: StackView) -> Found:
    provisioned = {s.props.get("uid") for s in view.of_type("grafana:oss/dataSource:DataSource")}
    problems: Found = []
    for dashboard in view.of_type("grafana:oss/dashboard:Dashboard"):
        config = json.loads(dashboard.props.get("configJson") or "{}")
        for uid in sorted(set(_datasource_refs(config.get("panels") or [])) | set(_datasource_refs(config.get("templating") or {}))):
            if uid not in provisioned and uid not in BUILTIN_DATASOURCES and not uid.startswith("$"):
                problems.append((dashboard.name, f"a panel uses datasource {uid!r}, which is not provisioned"))
    return problems
