"""The backup job: its plan (what `python -m backup` reads) and its service descriptions.

On one Docker host a single container runs the job on the schedule (its own loop: Docker has no
scheduler), with every service's volume mounted: read-only, except Prometheus' (the job removes the
snapshots it asks for). On a cluster each volume is a ReadWriteOnce claim, attachable to one node
at a time, so there is one CronJob per volume owner - Prometheus (replica 0's TSDB, with
Alertmanager's silences through its API and the rendered configuration), Grafana, Loki and Tempo
when they keep their data on a volume, Pyroscope and the Pushgateway - each running on its owner's node (the platform co-locates a pod
with the owner of a volume it borrows) as the owner's own user, and all writing to one S3
repository (restic allows concurrent backups; `--retry-lock` lets retention wait for the others).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from render.tls_clients import client_secret_files, requires_auth, serves_tls, server_name
from render.web_config import CA_FILE, CLIENT_PASSWORD_FILE
from services.high_availability import replicated
from services.spec import (
    ConfigFile,
    HttpHealthCheck,
    Resources,
    Schedule,
    SecretFile,
    Security,
    ServiceSpec,
    VolumeSpec,
)
from services.topology import EXPORTER_ALIASES, Endpoints
from settings.model import StackSettings

NAME = "backup"
IMAGE_NAME = "monitoring-backup"
CONFIG_DIR = "/etc/backup"
PLAN_FILE = "plan.json"
# The rendered documents of every service, kept in each backup for reference: rendered/<service>/<file>.
RENDERED_DIR = "rendered"
SECRETS_DIR = "/run/secrets"
REPOSITORY_DIR = "/repository"
SCRATCH_DIR = "/tmp/backup"
# The scheduler loop's health endpoint (Docker's health check; nothing else listens).
HEALTH_PORT = 8080
PASSWORD_SECRET = "backup_repository_password"
S3_SECRET = "backup_s3_secret_access_key"
# Where the job sees each service's data volume, and that volume's logical name in the owner's spec.
SOURCE_MOUNTS = {
    "prometheus": "/sources/prometheus",
    "alertmanager": "/sources/alertmanager",
    "grafana": "/sources/grafana",
    "loki": "/sources/loki",
    "tempo": "/sources/tempo",
    "pyroscope": "/sources/pyroscope",
    "pushgateway": "/sources/pushgateway",
}
DATA_VOLUME = "data"
# How long retention waits for another job's lock on a shared (S3) repository.
RETRY_LOCK = "30m"
# The images' own users (services.core): each cluster job runs as the owner of the data it reads.
OWNER_USERS = {"prometheus": "65534:65534", "grafana": "472:0", "loki": "10001:10001",
               # services.traces' IMAGE_USER; the Pushgateway runs as nobody (services.exporters).
               "tempo": "10001:10001", "pyroscope": "10001:10001", "pushgateway": "65534:65534"}
# On Docker one job reads every volume: Prometheus' and Alertmanager's user (owner of their files,
# so it may remove Prometheus' snapshots) in the root group, which Grafana's files belong to (the
# Grafana image runs as 472:0).
DOCKER_USER = "65534:0"


@dataclass(frozen=True)
class JobPaths:
    """Where the job finds things; the container's paths by default, a test's directories otherwise."""

    sources: Mapping[str, str | None] = field(default_factory=lambda: dict(SOURCE_MOUNTS))
    rendered: str = f"{CONFIG_DIR}/{RENDERED_DIR}"
    repository: str = REPOSITORY_DIR
    secrets: str = SECRETS_DIR
    scratch: str = SCRATCH_DIR


def repository(settings: StackSettings, paths: JobPaths) -> str:
    s3 = settings.backup.s3
    if s3 is None:
        return paths.repository
    return f"s3:https://{s3.endpoint}/{s3.bucket}" + (f"/{s3.prefix.strip('/')}" if s3.prefix.strip("/") else "")


def render_plan(
    settings: StackSettings, endpoints: Endpoints, services: tuple[str, ...], paths: JobPaths = JobPaths()
) -> dict[str, Any]:
    """The plan of a job backing up `services` (of backup.plan.SERVICES)."""
    backup = settings.backup
    sources: dict[str, dict[str, Any]] = {}
    if "prometheus" in services:
        sources["prometheus"] = {"endpoint": _endpoint(settings, endpoints, "prometheus", paths), "path": paths.sources["prometheus"]}
    if "alertmanager" in services:
        sources["alertmanager"] = {
            "endpoint": _endpoint(settings, endpoints, "alertmanager", paths), "path": paths.sources.get("alertmanager")
        }
    if "grafana" in services:
        sources["grafana"] = {"path": paths.sources["grafana"]}
    if "loki" in services:
        sources["loki"] = (
            {"object_storage": f"s3://{settings.logs.s3.bucket}"} if settings.logs.s3 else {"path": paths.sources["loki"]}
        )
    if "tempo" in services:
        tempo_s3 = settings.traces.tempo.s3
        sources["tempo"] = {"object_storage": f"s3://{tempo_s3.bucket}"} if tempo_s3 else {"path": paths.sources["tempo"]}
    if "pyroscope" in services:
        sources["pyroscope"] = {"path": paths.sources["pyroscope"]}
    if "pushgateway" in services:
        sources["pushgateway"] = {"path": paths.sources["pushgateway"]}
    if "config" in services:
        sources["config"] = {"path": paths.rendered}
    pushgateway = EXPORTER_ALIASES["pushgateway"]
    pushes = _runs_pushgateway(settings, endpoints)
    shared = backup.s3 is not None
    return {
        "stack": settings.environment,
        "repository": repository(settings, paths),
        "password_file": f"{paths.secrets}/{PASSWORD_SECRET}",
        "s3_access_key_id": backup.s3.access_key_id if shared else None,
        "s3_secret_access_key_file": f"{paths.secrets}/{S3_SECRET}" if shared else None,
        "retention": backup.retention.model_dump(),
        "pushgateway": _endpoint(settings, endpoints, pushgateway, paths) if pushes else None,
        "schedule": backup.schedule,
        "scratch_dir": paths.scratch,
        # A pod's scratch space is a small emptyDir: no local cache of a remote repository there.
        "cache": not replicated(settings),
        "retry_lock": RETRY_LOCK if shared and replicated(settings) else None,
        "sources": sources,
    }


def _runs_pushgateway(settings: StackSettings, endpoints: Endpoints) -> bool:
    """The stack runs the real Pushgateway (its persistence file is state; the job pushes to it)."""
    return EXPORTER_ALIASES["pushgateway"] in endpoints and settings.exporters.pushgateway.mode == "real"


def _endpoint(settings: StackSettings, endpoints: Endpoints, key: str, paths: JobPaths) -> dict[str, Any]:
    """How the job reaches a service: with TLS (security.tls) by the name its certificate carries,
    verified against the stack's CA; with basic auth (security.auth) as the stack's client user."""
    endpoint = endpoints[key]
    if not serves_tls(settings, key):
        return {"url": endpoint.url}
    found: dict[str, Any] = {
        "url": f"https://{server_name(settings, key)}:{endpoint.port}",
        "ca_file": f"{paths.secrets}/{CA_FILE}",
    }
    if requires_auth(settings, key):
        found |= {"username": settings.security.auth.client_user, "password_file": f"{paths.secrets}/{CLIENT_PASSWORD_FILE}"}
    return found


def _rendered_files(specs: Mapping[str, ServiceSpec]) -> tuple[ConfigFile, ...]:
    return tuple(
        ConfigFile(f"{RENDERED_DIR}/{spec.name}/{f.relpath}", f.content)
        for spec in specs.values()
        for f in spec.files
    )


def _job(
    settings: StackSettings, name: str, plan: dict[str, Any], security: Security, volumes: tuple[VolumeSpec, ...],
    files: tuple[ConfigFile, ...], image: str, only: tuple[str, ...] = (),
) -> ServiceSpec:
    run = ("--stack", settings.environment, "--plan", f"{CONFIG_DIR}/{PLAN_FILE}")
    secrets = (SecretFile(PASSWORD_SECRET, PASSWORD_SECRET),)
    if settings.backup.s3:
        secrets += (SecretFile(S3_SECRET, S3_SECRET),)
    # The stack's CA and client password, when its services serve TLS or ask for credentials.
    secrets += tuple(SecretFile(key, file_name) for key, file_name in client_secret_files(settings))
    return ServiceSpec(
        name=name,
        image=image,
        built_image=True,
        command=("create", *run, *(("--only", *only) if only else ())),
        schedule=Schedule(settings.backup.schedule, loop_command=("schedule", *run, "--health-port", str(HEALTH_PORT))),
        config_dir=CONFIG_DIR,
        files=(ConfigFile(PLAN_FILE, json.dumps(plan, indent=1, sort_keys=True) + "\n"), *files),
        secret_files=secrets,
        volumes=volumes,
        health=HttpHealthCheck(HEALTH_PORT, "/-/healthy"),
        # python-slim: no wget, but Python itself can probe the scheduler loop.
        health_command=(
            "python", "-c",
            f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{HEALTH_PORT}/-/healthy', timeout=5)",
        ),
        image_has_wget=False,
        resources=Resources(cpus=settings.backup.resources.cpus, memory_mb=settings.backup.resources.memory_mb),
        security=security,
        depends_on=("prometheus",) if "prometheus" in plan["sources"] else (),
    )


def _borrowed(service: str, writable: bool = False, replica: int | None = None) -> VolumeSpec:
    return VolumeSpec(
        DATA_VOLUME, SOURCE_MOUNTS[service], borrowed_from=service, borrowed_writable=writable, borrowed_replica=replica
    )


def backup_services(
    settings: StackSettings, endpoints: Endpoints, specs: Mapping[str, ServiceSpec], image: str
) -> dict[str, ServiceSpec]:
    """The backup job(s) of the stack, keyed by name; none when backups do not run.

    `specs` are the core services as the platform runs them: their rendered documents go into
    each backup for reference."""
    if not settings.runs_backups:
        return {}
    loki_on_volume = settings.logs.s3 is None
    # The other stateful services, when they run: Tempo (on a volume or in S3), Pyroscope, and the
    # Pushgateway when it is the real one (its persistence file).
    tempo = settings.runs_traces
    tempo_on_volume = tempo and settings.traces.tempo.s3 is None
    pyroscope = settings.runs_profiles
    pushgateway = _runs_pushgateway(settings, endpoints)
    rendered = _rendered_files(specs)
    if not replicated(settings):
        services = ("prometheus", "alertmanager", "grafana", "loki",
                    *(("tempo",) if tempo else ()), *(("pyroscope",) if pyroscope else ()),
                    *(("pushgateway",) if pushgateway else ()), "config")
        volumes = (
            _borrowed("prometheus", writable=True),
            _borrowed("alertmanager"),
            _borrowed("grafana"),
            *((_borrowed("loki"),) if loki_on_volume else ()),
            *((_borrowed("tempo"),) if tempo_on_volume else ()),
            *((_borrowed("pyroscope"),) if pyroscope else ()),
            *((_borrowed("pushgateway"),) if pushgateway else ()),
            # A local repository: on the stack's host, protected in prod like the data it holds.
            *(() if settings.backup.s3 else (VolumeSpec("repository", REPOSITORY_DIR),)),
        )
        plan = render_plan(settings, endpoints, services)
        return {NAME: _job(settings, NAME, plan, Security(user=DOCKER_USER), volumes, rendered, image)}
    # One job per volume owner, each on its owner's node, as its owner's user.
    paths = JobPaths(sources={**SOURCE_MOUNTS, "alertmanager": None})
    # Loki or Tempo in object storage has nothing to back up; the Prometheus job still reports it (as skipped).
    first = (("prometheus", "alertmanager", "config") + (() if loki_on_volume else ("loki",))
             + (("tempo",) if tempo and not tempo_on_volume else ()))
    jobs = {
        "prometheus": (first, _borrowed("prometheus", writable=True, replica=0), rendered),
        "grafana": (("grafana",), _borrowed("grafana"), ()),
    }
    if loki_on_volume:
        jobs["loki"] = (("loki",), _borrowed("loki", replica=0), ())
    # Tempo and Pyroscope are single StatefulSet replicas (services.cluster); the Pushgateway a Deployment.
    if tempo_on_volume:
        jobs["tempo"] = (("tempo",), _borrowed("tempo", replica=0), ())
    if pyroscope:
        jobs["pyroscope"] = (("pyroscope",), _borrowed("pyroscope", replica=0), ())
    if pushgateway:
        jobs["pushgateway"] = (("pushgateway",), _borrowed("pushgateway"), ())
    found = {}
    for owner, (services, volume, files) in jobs.items():
        name = f"{NAME}-{owner}"
        plan = render_plan(settings, endpoints, services, paths)
        security = Security(user=OWNER_USERS[owner])
        found[name] = _job(settings, name, plan, security, (volume,), files, image, only=services)
    return found


def reached_services(spec: ServiceSpec) -> list[tuple[str | None, int | None, str]]:
    """Whom a backup job talks to, read from its plan: (service, None, why) for the stack's services,
    (None, port, why) for the S3 endpoint outside; nothing for any other service."""
    plan_file = next((f for f in spec.files if f.relpath == PLAN_FILE), None) if spec.schedule else None
    if plan_file is None:
        return []
    plan = json.loads(plan_file.content)
    why = {"prometheus": "TSDB snapshots (admin API)", "alertmanager": "reads the silences (API)"}
    reached: list[tuple[str | None, int | None, str]] = [
        (service, None, why[service]) for service in why if plan["sources"].get(service, {}).get("endpoint")
    ]
    if plan["pushgateway"]:
        reached.append((EXPORTER_ALIASES["pushgateway"], None, "pushes each run's result"))
    if plan["repository"].startswith("s3:"):
        host = plan["repository"].split("/")[2]
        port = int(host.rsplit(":", 1)[1]) if ":" in host else 443
        reached.append((None, port, "the restic repository (S3)"))
    return reached
