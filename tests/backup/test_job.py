"""The backup job as each platform declares it (the staging preview on Docker, the prod preview's
manifests on Kubernetes), its plan, its settings and its schedule. No process runs here."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timezone

import pytest

from backup.metrics import ServiceResult, exposition
from backup import sources
from backup.plan import BackupError, Plan, Source
from backup.schedule import next_run
from components.backup import context_files
from render.tls_clients import server_name
from rules import backup as rules_backup
from rules.common import RuleContext
from services.backup import backup_services, reached_services, render_plan
from services.cluster import for_platform
from services.core import core_services
from services.exporters import pushgateway
from services.traces import signal_services
from services.topology import internal_endpoints
from settings import parse_settings
from settings.errors import SettingsError
from tests.conftest import stack_raw_config, stack_settings
from tests.kubernetes.platform_support import manifests, of_kind

CONTAINER = "docker:index/container:Container"
EVERY_SOURCE = {"prometheus", "alertmanager", "grafana", "loki", "tempo", "pyroscope", "pushgateway", "config"}
# Each cluster job and the owner of the volume it reads.
JOBS = {"backup-prometheus": "prometheus", "backup-grafana": "grafana", "backup-loki": "loki", "backup-tempo": "tempo",
        "backup-pyroscope": "pyroscope", "backup-pushgateway": "pushgateway"}
CLUSTER = {"platform": "kubernetes", "grafana": {"url": "http://g:3000"},
           "exporters": {"mock_image": {"registry": "registry.example.com/monitoring"}}}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("cron", "after", "due"),
    [
        ("30 2 * * *", "2026-11-26T13:00", "2026-11-27T02:30"),
        ("30 2 * * *", "2026-11-26T02:29:59", "2026-11-26T02:30"),
        ("*/15 * * * *", "2026-11-26T13:00", "2026-11-26T13:15"),
        ("0 6-18/6 * * 1-5", "2026-11-27T18:00", "2026-11-30T06:00"),  # Friday evening -> Monday
        # Day of month and weekday both restricted: either one selects the day, as in cron.
        ("0 0 1 * 0", "2026-11-26T00:00", "2026-11-29T00:00"),
    ],
)
def test_the_docker_loop_runs_on_the_cronjob_schedule(cron, after, due):
    assert next_run(cron, utc(after)) == utc(due)


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        ({"backup": {"schedule": "daily"}}, "monitoring:backup.schedule: \"daily\" is not a 5-field cron schedule"),
        ({"backup": {"schedule": "61 2 * * *"}}, "has 61 outside 0-59"),
        ({"backup": {"retention": {"daily": -1}}}, "monitoring:backup.retention.daily: -1"),
        ({"backup": {"s3": {"bucket": "b", "access_key_id": "k"}}}, "monitoring:backup.s3.endpoint: is required"),
        ({"backup": {"keep": 3}}, "monitoring:backup.keep: unknown setting"),
        ({**CLUSTER, "backup": {"enabled": True}},
         "monitoring:backup.s3: null is unset while backup.enabled is true"),
    ],
)
def test_bad_backup_settings_fail_with_one_line(raw, line):
    with pytest.raises(SettingsError) as failure:
        parse_settings(raw, "staging")
    assert any(line in problem for problem in failure.value.lines), failure.value.lines


def test_backups_run_by_default_on_docker_and_on_a_cluster_once_it_has_a_bucket():
    assert stack_settings("staging").runs_backups and stack_settings("prod").runs_backups
    cluster = parse_settings(CLUSTER, "prod")
    assert not cluster.runs_backups and not backup_services(cluster, internal_endpoints(cluster), {}, "image:1")
    off = parse_settings({"backup": {"enabled": False}}, "staging")
    assert not backup_services(off, internal_endpoints(off), {}, "image:1")


def specs_of(stack: str, overrides: dict | None = None):
    settings = stack_settings(stack) if overrides is None else parse_settings(overrides, stack)
    core = for_platform(settings, core_services(settings))
    return settings, backup_services(settings, internal_endpoints(settings), core, "monitoring-backup:1")


def test_the_docker_plan_backs_up_every_service_to_a_local_repository():
    settings, specs = specs_of("staging")
    (spec,) = specs.values()
    plan = Plan.from_dict(json.loads(spec.file("plan.json").content))
    assert plan.stack == "staging" and plan.repository == "/repository" and set(plan.sources) == EVERY_SOURCE
    assert plan.sources["prometheus"].endpoint.url == "http://prometheus:9090"
    # Each file source where the one job mounts its owner's volume (services.backup.SOURCE_MOUNTS).
    for service in ("loki", "tempo", "pyroscope", "pushgateway"):
        assert plan.sources[service].path == f"/sources/{service}" and not plan.sources[service].object_storage, service
    assert plan.pushgateway.url == "http://pushgateway:9091"
    assert plan.retention == {"last": 3, "daily": 7, "weekly": 4, "monthly": 6}
    # The rendered documents of every core service, for reference.
    assert spec.file("rendered/prometheus/prometheus.yml").content == core_services(settings)["prometheus"].file("prometheus.yml").content
    assert spec.schedule.cron == "30 2 * * *" and spec.schedule.loop_command[0] == "schedule"


def test_on_a_cluster_each_volume_owner_has_its_own_job_on_its_node():
    settings, specs = specs_of("prod")
    assert set(specs) == set(JOBS)
    only = {name: spec.command[spec.command.index("--only") + 1:] for name, spec in specs.items()}
    assert only == {"backup-prometheus": ("prometheus", "alertmanager", "config"),
                    "backup-grafana": ("grafana",), "backup-loki": ("loki",), "backup-tempo": ("tempo",),
                    "backup-pyroscope": ("pyroscope",), "backup-pushgateway": ("pushgateway",)}
    # Each job runs as its owner's own user, the one the owner's spec runs as.
    users = {name: spec.security.user for name, spec in specs.items()}
    assert users == {"backup-prometheus": "65534:65534", "backup-grafana": "472:0", "backup-loki": "10001:10001",
                     "backup-tempo": "10001:10001", "backup-pyroscope": "10001:10001", "backup-pushgateway": "65534:65534"}
    core = core_services(settings)
    owners = {**core, **signal_services(settings, internal_endpoints(settings)), "pushgateway": pushgateway(settings)}
    assert all(users[name] == owners[owner].security.user for name, owner in JOBS.items()), users
    # Each plan names exactly what its job backs up, at the borrowed volume's mount.
    for name, owner in JOBS.items():
        if owner == "prometheus":
            continue
        (volume,) = specs[name].volumes
        assert volume.borrowed_from == owner and not volume.borrowed_writable
        assert json.loads(specs[name].file("plan.json").content)["sources"] == {owner: {"path": volume.mount_path}}
    plan = json.loads(specs["backup-prometheus"].file("plan.json").content)
    assert plan["repository"] == "s3:https://s3.eu-west-1.amazonaws.com/monitoring-prod-backups/restic"
    assert plan["s3_secret_access_key_file"] == "/run/secrets/backup_s3_secret_access_key" and not plan["cache"]
    # TLS and basic auth (prod's security settings): by the certificate's name, as the client user.
    endpoint = plan["sources"]["prometheus"]["endpoint"]
    if settings.security.tls.enabled:
        assert endpoint["url"] == f"https://{server_name(settings, 'prometheus')}:9090"
        assert endpoint["ca_file"].startswith("/run/secrets/")


def test_with_tempo_in_object_storage_there_is_no_tempo_job_and_tempo_is_reported_skipped():
    def with_tempo_s3(stack: str) -> dict:
        raw = copy.deepcopy(stack_raw_config(stack))
        raw["traces"]["tempo"]["s3"] = {"endpoint": "minio:9000", "bucket": "traces", "access_key_id": "tempo"}
        return raw

    _, docker = specs_of("staging", with_tempo_s3("staging"))
    assert json.loads(docker["backup"].file("plan.json").content)["sources"]["tempo"] == {"object_storage": "s3://traces"}
    assert not any(v.borrowed_from == "tempo" for v in docker["backup"].volumes)
    assert any(v.borrowed_from == "pyroscope" for v in docker["backup"].volumes)
    _, cluster = specs_of("prod", with_tempo_s3("prod"))
    assert "backup-tempo" not in cluster and {"backup-pyroscope", "backup-pushgateway"} <= set(cluster)
    first = cluster["backup-prometheus"]
    assert "tempo" in first.command[first.command.index("--only") + 1:]
    assert json.loads(first.file("plan.json").content)["sources"]["tempo"] == {"object_storage": "s3://traces"}


def test_services_that_do_not_run_are_not_backed_up():
    _, specs = specs_of("staging", {"traces": {"enabled": False}, "profiles": {"enabled": False},
                                    "exporters": {"pushgateway": {"mode": "off"}}})
    sources = set(json.loads(specs["backup"].file("plan.json").content)["sources"])
    assert sources == EVERY_SOURCE - {"tempo", "pyroscope", "pushgateway"}
    assert not {"tempo", "pyroscope", "pushgateway"} & {v.borrowed_from for v in specs["backup"].volumes}


def test_with_loki_in_object_storage_there_is_no_loki_job_and_loki_is_reported_skipped():
    raw = {"logs": {"s3": {"endpoint": "minio:9000", "bucket": "loki", "access_key_id": "loki"}}}
    _, specs = specs_of("staging", raw)
    assert json.loads(specs["backup"].file("plan.json").content)["sources"]["loki"] == {"object_storage": "s3://loki"}
    assert not any(v.borrowed_from == "loki" for v in specs["backup"].volumes)


def test_a_failed_run_pushes_no_success_time():
    ok = exposition(ServiceResult("grafana", 100.0, 103.5, True, bytes_added=10, bytes_processed=20))
    failed = exposition(ServiceResult("grafana", 100.0, 103.5, False, error="boom"))
    assert "backup_last_success_timestamp_seconds 103.500" in ok and "backup_last_run_success 1" in ok
    assert "backup_last_success_timestamp_seconds" not in failed and "backup_last_run_success 0" in failed


def test_the_image_context_is_the_package_and_its_dockerfile():
    files = context_files()
    assert "backup/__main__.py" in files and "images/backup/Dockerfile" in files
    assert not any("__pycache__" in f or f.startswith("tests/") for f in files)


# --- Docker: the staging preview -------------------------------------------------------------


def test_the_docker_job_is_a_hardened_container_running_its_schedule(previews):
    preview = previews["staging"]
    job = preview.named(CONTAINER, "backup")
    inputs = job["inputs"]
    assert inputs["command"][:1] == ["schedule"] and "--health-port" in inputs["command"]
    assert inputs["user"] == "65534:0" and inputs["capabilities"]["drops"] == ["ALL"]
    assert "python" in inputs["healthcheck"]["tests"] and inputs["restart"] == "unless-stopped"
    mounts = {m["target"]: m for m in inputs["mounts"]}
    prefix = stack_settings("staging").prefix
    for service in ("prometheus", "alertmanager", "grafana", "loki", "tempo", "pyroscope", "pushgateway"):
        mount = mounts[f"/sources/{service}"]
        assert mount["source"] == f"{prefix}-{service}-data"
        # Only Prometheus' is writable: the job removes the snapshots it asked for.
        assert bool(mount.get("readOnly")) is (service != "prometheus"), service
    assert mounts["/repository"]["type"] == "volume"
    uploads = {u["file"]: u for u in inputs["uploads"]}
    assert "/etc/backup/plan.json" in uploads
    assert uploads["/run/secrets/backup_repository_password"]["permissions"] == "0400"
    built = preview.named("docker:index/image:Image", "backup")
    assert built["inputs"]["build"]["dockerfile"].endswith("images/backup/Dockerfile")
    assert inputs["image"] == built["inputs"]["imageName"]
    prometheus = preview.named(CONTAINER, "prometheus")
    assert "--web.enable-admin-api" in prometheus["inputs"]["command"]


# --- Kubernetes: the prod manifests ----------------------------------------------------------


@pytest.fixture(scope="module")
def prod(previews):
    return manifests(previews["prod"])


def test_each_job_is_a_restricted_cronjob_on_its_owners_node(prod):
    jobs = of_kind(prod, "CronJob")
    assert set(jobs) == {f"monitoring/{name}" for name in JOBS}
    claims = {"backup-prometheus": ("data-prometheus-0", "prometheus-0"), "backup-grafana": ("grafana-data", None),
              "backup-loki": ("data-loki-0", "loki-0"), "backup-tempo": ("data-tempo-0", "tempo-0"),
              "backup-pyroscope": ("data-pyroscope-0", "pyroscope-0"),
              "backup-pushgateway": ("pushgateway-data", None)}
    for key, job in jobs.items():
        name = key.split("/")[1]
        spec = job["spec"]
        assert spec["schedule"] == "30 2 * * *" and spec["timeZone"] == "Etc/UTC"
        assert spec["concurrencyPolicy"] == "Forbid"
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
        (container,) = pod["containers"]
        assert container["args"][0] == "create" and "livenessProbe" not in container
        context = container["securityContext"]
        assert context["runAsNonRoot"] and context["readOnlyRootFilesystem"] and context["capabilities"]["drop"] == ["ALL"]
        assert not context["allowPrivilegeEscalation"] and context["seccompProfile"] == {"type": "RuntimeDefault"}
        claim, pod_name = claims[name]
        (volume,) = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
        assert volume["persistentVolumeClaim"]["claimName"] == claim
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
        assert mount["mountPath"] == f"/sources/{JOBS[name]}"
        assert bool(mount.get("readOnly")) is (name != "backup-prometheus"), name
        (term,) = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        owner = name.removeprefix("backup-")
        assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/name"] == owner
        assert term["labelSelector"]["matchLabels"].get("statefulset.kubernetes.io/pod-name") == pod_name
    # The claims named are the owners' own: the StatefulSets' templates and Grafana's claim.
    statefulsets = of_kind(prod, "StatefulSet")
    for owner in ("prometheus", "loki", "tempo", "pyroscope"):
        assert [t["metadata"]["name"] for t in statefulsets[f"monitoring/{owner}"]["spec"]["volumeClaimTemplates"]] == ["data"]
    claims_declared = of_kind(prod, "PersistentVolumeClaim")
    assert "monitoring/grafana-data" in claims_declared and "monitoring/pushgateway-data" in claims_declared
    assert not [key for key in of_kind(prod, "Service") if "backup" in key], "a job serves nothing"


def test_the_jobs_network_flows_are_exactly_their_peers(prod):
    policies = of_kind(prod, "NetworkPolicy")

    def egress(name: str) -> set[tuple[str, int]]:
        found = set()
        for rule in policies[f"monitoring/{name}"]["spec"]["egress"]:
            selectors = [p.get("podSelector", {}).get("matchLabels", {}) for p in rule.get("to", [{}])]
            peers = [labels.get("app.kubernetes.io/name") or labels.get("k8s-app") or "*" for labels in selectors]
            found |= {(peer, port["port"]) for peer in peers for port in rule["ports"] if "port" in port}
        return found

    dns = {("kube-dns", 53)}
    assert egress("backup-prometheus") == dns | {("prometheus", 9090), ("alertmanager", 9093), ("pushgateway", 9091), ("*", 443)}
    # The file-only jobs reach the Pushgateway (their results) and S3, nothing else.
    for name in ("backup-grafana", "backup-loki", "backup-tempo", "backup-pyroscope", "backup-pushgateway"):
        assert egress(name) == dns | {("pushgateway", 9091), ("*", 443)}, name
        assert not policies[f"monitoring/{name}"]["spec"]["ingress"], name
    ingress_to_prometheus = [
        rule for rule in policies["monitoring/prometheus"]["spec"]["ingress"]
        if any(p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name") == "backup-prometheus"
               for p in rule.get("from", []))
    ]
    assert ingress_to_prometheus and ingress_to_prometheus[0]["ports"] == [{"port": 9090, "protocol": "TCP"}]
    assert not policies["monitoring/backup-prometheus"]["spec"]["ingress"], "nothing connects to a job"


def test_only_backup_jobs_reach_out_from_their_plan():
    settings = stack_settings("staging")
    assert all(not reached_services(spec) for spec in core_services(settings).values())
    plan = render_plan(settings, internal_endpoints(settings), ("grafana",))
    assert set(plan["sources"]) == {"grafana"} and plan["sources"]["grafana"] == {"path": "/sources/grafana"}


# --- What each file capture takes (backup/sources.py), on directories shaped like the volumes ------


def test_tempo_and_pyroscope_captures_take_the_completed_blocks_only(tmp_path):
    for service, head in (("tempo", "wal"), ("pyroscope", "head")):
        volume = tmp_path / service
        (volume / "blocks" / "tenant" / "block-1").mkdir(parents=True)
        (volume / head).mkdir()
        with sources.CAPTURES[service](Source(service, path=str(volume)), tmp_path / "scratch") as capture:
            assert capture.directory == volume / "blocks" and capture.skipped is None, service
    with pytest.raises(BackupError, match="no Pyroscope blocks directory"):
        with sources.capture_pyroscope(Source("pyroscope", path=str(tmp_path / "nowhere")), tmp_path / "scratch"):
            pass
    with sources.capture_tempo(Source("tempo", object_storage="s3://traces"), tmp_path / "scratch") as capture:
        assert capture.directory is None and "object storage (s3://traces)" in capture.skipped


def test_the_pushgateway_capture_stages_its_persistence_file_alone(tmp_path):
    volume = tmp_path / "pushgateway"
    volume.mkdir()
    source = Source("pushgateway", path=str(volume))
    # Before its first write there is nothing to back up: reported, not a failure.
    with sources.capture_pushgateway(source, tmp_path / "scratch") as capture:
        assert capture.directory is None and "has not written" in capture.skipped
    (volume / "pushgateway.db").write_bytes(b"groups")
    (volume / "pushgateway.db.in_progress.123").write_bytes(b"half")
    with sources.capture_pushgateway(source, tmp_path / "scratch") as capture:
        assert sorted(p.name for p in capture.directory.iterdir()) == ["pushgateway.db"]
        assert (capture.directory / "pushgateway.db").read_bytes() == b"groups"
    assert not capture.directory.exists(), "the staged copy is removed after the backup"
    with pytest.raises(BackupError, match="no Pushgateway data directory"):
        with sources.capture_pushgateway(Source("pushgateway", path=str(tmp_path / "unmounted")), tmp_path / "scratch"):
            pass


def test_backup_missing_expects_a_report_from_each_service_that_is_backed_up():
    def expected(raw_stack: str, overrides: dict | None = None) -> set[str]:
        settings = stack_settings(raw_stack) if overrides is None else parse_settings(overrides, raw_stack)
        (rule,) = [r for r in rules_backup.build(RuleContext.from_settings(settings)).groups[0].rules
                   if r.name == "BackupMissing"]
        return set(re.findall(r'service="([a-z]+)"', rule.expr))

    # Exactly the services the job backs up (and reports on, skipped ones included).
    _, specs = specs_of("staging")
    assert expected("staging") == set(json.loads(specs["backup"].file("plan.json").content)["sources"]) == EVERY_SOURCE
    assert expected("staging", {"traces": {"enabled": False}, "profiles": {"enabled": False}}) == EVERY_SOURCE - {
        "tempo", "pyroscope"}
