"""The proof with real binaries: a real Prometheus fed by the mocks and a real Alertmanager holding a
silence are backed up with real restic by `python -m backup create`, restored into fresh data
directories, and the restored Prometheus answers the same range query with the same samples while
the restored Alertmanager still silences a matching alert. Damaged and missing backups fail
`verify` and `restore` with a clear line; restore never overwrites data without `--force`.

The plan is the deployed one (`services.backup.render_plan` of the staging settings) pointed at
these processes and directories."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from exporters.contracts import CONTRACTS, check_exposition
from services.backup import JobPaths, render_plan
from services.topology import Endpoint
from tests.conftest import ROOT, stack_settings
from tests.e2e.procs import (
    PROMETHEUS_BINARY,
    Alertmanager,
    Processes,
    free_port,
    http_json,
    http_ok,
    start_alertmanager,
    start_mocks,
    wait_until,
    write_alertmanager_config,
    write_prometheus_config,
    fast_settings,
)

pytestmark = pytest.mark.e2e

PUSHGATEWAY_BINARY = "/usr/bin/prometheus-pushgateway"
STACK = "staging"
SILENCED = {"alertname": "BackupProofSilenced", "env": "e2e"}
# Seconds of 1 s scrapes the backed-up window holds.
FED_FOR_S = 8
QUERY = '{__name__=~"node_cpu_seconds_total|node_memory_MemAvailable_bytes|up"}'


@dataclass
class Proof:
    workdir: Path
    plan: Path
    processes: Processes
    prometheus_url: str
    pushgateway_url: str
    alertmanager: Alertmanager
    window: tuple[int, int]
    before: list
    grafana_rows: list
    created: subprocess.CompletedProcess


def backup_cli(*args: str, plan: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backup", *args, "--stack", STACK, "--plan", str(plan)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def start_prometheus(processes: Processes, config: Path, data: Path, workdir: Path) -> str:
    port = free_port()
    processes.start(
        [PROMETHEUS_BINARY, f"--config.file={config}", f"--storage.tsdb.path={data}",
         f"--web.listen-address=127.0.0.1:{port}", "--web.enable-admin-api", "--log.level=warn"],
        workdir / f"prometheus-{port}.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(f"{url}/-/ready"), 30, f"Prometheus on {data.name} ready")
    return url


def pushed_metrics(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        return response.read().decode()


def range_query(url: str, window: tuple[int, int]) -> list:
    query = urllib.parse.urlencode({"query": QUERY, "start": window[0], "end": window[1], "step": "1"})
    result = http_json(f"{url}/api/v1/query_range?{query}")["data"]["result"]
    return sorted(result, key=lambda series: json.dumps(series["metric"], sort_keys=True))


def make_grafana_database(directory: Path) -> list:
    directory.mkdir()
    with sqlite3.connect(directory / "grafana.db") as db:
        db.execute("CREATE TABLE dashboard (id INTEGER PRIMARY KEY, uid TEXT, title TEXT)")
        db.executemany("INSERT INTO dashboard (uid, title) VALUES (?, ?)", [("node", "Node"), ("gpu", "GPU")])
    db.close()
    return [(1, "node", "Node"), (2, "gpu", "GPU")]


def grafana_rows(database: Path) -> list:
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT id, uid, title FROM dashboard ORDER BY id").fetchall()
    db.close()
    return rows


@pytest.fixture(scope="module")
def proof(tmp_path_factory) -> Proof:
    workdir = tmp_path_factory.mktemp("backup")
    processes = Processes()
    try:
        settings = fast_settings()
        mocks = start_mocks(processes, settings, workdir)
        alertmanager = start_alertmanager(processes, write_alertmanager_config(
            settings, workdir, "http://127.0.0.1:9/webhook", {"slack_api_url": "http://127.0.0.1:9/slack"}), workdir, free_port())
        endpoints = {"alertmanager": Endpoint("127.0.0.1", int(alertmanager.url.rsplit(":", 1)[1])),
                     **{f"mock-{name}": Endpoint("127.0.0.1", mock.ports[0]) for name, mock in mocks.items()}}
        config = write_prometheus_config(settings, workdir, endpoints, ("prometheus", "alertmanager"), mocks)
        prometheus_url = start_prometheus(processes, config, workdir / "prometheus-data", workdir)
        pushgateway_port = free_port()
        # Memory only: the binary's default persistence file is shared by every run on the machine.
        processes.start([PUSHGATEWAY_BINARY, f"--web.listen-address=127.0.0.1:{pushgateway_port}", "--persistence.file="],
                        workdir / "pushgateway.log")
        pushgateway_url = f"http://127.0.0.1:{pushgateway_port}"
        wait_until(lambda: http_ok(f"{pushgateway_url}/-/ready"), 30, "Pushgateway ready")

        alertmanager.silence(SILENCED, minutes=120, comment="maintenance of the proof")
        rows = make_grafana_database(workdir / "grafana")
        (workdir / "loki" / "chunks" / "fake").mkdir(parents=True)
        (workdir / "loki" / "chunks" / "fake" / "chunk-1").write_bytes(b"compressed log lines")
        (workdir / "rendered" / "prometheus").mkdir(parents=True)
        shutil.copy(config, workdir / "rendered" / "prometheus" / "prometheus.yml")
        (workdir / "job-secrets").mkdir()
        (workdir / "job-secrets" / "backup_repository_password").write_text("correct horse battery staple\n")

        wait_until(lambda: http_json(f"{prometheus_url}/api/v1/query?query=node_cpu_seconds_total")["data"]["result"],
                   30, "the first scrape of the node mock")
        time.sleep(FED_FOR_S)
        end = int(time.time()) - 2
        window = (end - FED_FOR_S + 3, end)
        paths = JobPaths(
            sources={"prometheus": str(workdir / "prometheus-data"), "alertmanager": str(workdir / "alertmanager-data"),
                     "grafana": str(workdir / "grafana"), "loki": str(workdir / "loki")},
            rendered=str(workdir / "rendered"), repository=str(workdir / "repository"),
            secrets=str(workdir / "job-secrets"), scratch=str(workdir / "scratch"),
        )
        endpoints |= {"prometheus": Endpoint("127.0.0.1", int(prometheus_url.rsplit(":", 1)[1])),
                      "pushgateway": Endpoint("127.0.0.1", pushgateway_port)}
        plan = workdir / "plan.json"
        plan.write_text(json.dumps(render_plan(stack_settings(STACK), endpoints,
                                               ("prometheus", "alertmanager", "grafana", "loki", "config"), paths)))
        created = backup_cli("create", plan=plan)
        before = range_query(prometheus_url, window)
        yield Proof(workdir, plan, processes, prometheus_url, pushgateway_url, alertmanager, window, before, rows, created)
    finally:
        processes.stop_all()


def test_create_backs_up_every_service_and_pushes_its_result(proof):
    assert proof.created.returncode == 0, proof.created.stderr
    for service in ("prometheus", "alertmanager", "grafana", "loki", "config"):
        assert f"{service}: snapshot " in proof.created.stdout, proof.created.stdout
    # The job removed the TSDB snapshot it asked Prometheus for.
    assert not list((proof.workdir / "prometheus-data" / "snapshots").iterdir())
    pushed = pushed_metrics(proof.pushgateway_url)
    for service in ("prometheus", "alertmanager", "grafana", "loki", "config"):
        assert f'backup_last_run_success{{instance="",job="backup",service="{service}"}} 1' in pushed, service
        assert f'backup_last_success_timestamp_seconds{{instance="",job="backup",service="{service}"}}' in pushed, service
    # What the job pushes is the Pushgateway contract's `backup` feature (the families the alerts read).
    contract = CONTRACTS["pushgateway"].as_served(features=["backup"])
    backup_only = replace(contract, families=tuple(f for f in contract.families if f.feature == "backup"))
    assert check_exposition(backup_only, pushed) == []
    listed = backup_cli("list", plan=proof.plan)
    assert listed.returncode == 0 and {"prometheus", "alertmanager", "grafana", "loki", "config"} <= {
        line.split()[-1] for line in listed.stdout.splitlines()
    }, listed.stdout


def test_the_restored_prometheus_answers_the_same_range_query_with_the_same_samples(proof):
    restored = proof.workdir / "restored-prometheus"
    result = backup_cli("restore", "--service", "prometheus", "--to", str(restored), plan=proof.plan)
    assert result.returncode == 0, result.stderr
    # Prometheus' own snapshot: TSDB blocks (ULID directories) only, never a copy of the live
    # directory with its WAL, head chunks and lock.
    assert sorted(p.name for p in restored.iterdir() if len(p.name) != 26) == [], list(restored.iterdir())
    empty_config = proof.workdir / "empty.yml"
    empty_config.write_text("global: {scrape_interval: 1m}\n")
    url = start_prometheus(proof.processes, empty_config, restored, proof.workdir)
    lengths = {json.dumps(series["metric"], sort_keys=True): len(series["values"]) for series in proof.before}
    assert len(lengths) > 10 and max(lengths.values()) >= FED_FOR_S - 4, lengths
    assert range_query(url, proof.window) == proof.before


def test_the_restored_alertmanager_still_applies_the_silence(proof):
    fresh = proof.workdir / "restored-alertmanager"
    # The notification log first (read at start), then the silences through the new instance's API.
    result = backup_cli("restore", "--service", "alertmanager", "--to", str(fresh / "alertmanager-data"), plan=proof.plan)
    assert result.returncode == 0, result.stderr
    # Alertmanager writes its notification log only every 15 minutes and at shutdown: none yet here.
    assert (fresh / "alertmanager-data").is_dir()
    alertmanager = start_alertmanager(proof.processes, proof.workdir / "alertmanager" / "alertmanager.yml", fresh, free_port())
    assert http_json(f"{alertmanager.url}/api/v2/silences") == []
    result = backup_cli("restore", "--service", "alertmanager", "--alertmanager-url", alertmanager.url, plan=proof.plan)
    assert result.returncode == 0 and "1 silences created" in result.stdout, (result.stdout, result.stderr)
    http_json(f"{alertmanager.url}/api/v2/alerts", "POST", [{"labels": {**SILENCED, "severity": "warning"}}])
    http_json(f"{alertmanager.url}/api/v2/alerts", "POST", [{"labels": {"alertname": "NotSilenced", "env": "e2e"}}])

    def states():
        return {a["labels"]["alertname"]: a["status"]["state"] for a in http_json(f"{alertmanager.url}/api/v2/alerts")}

    assert wait_until(lambda: len(states()) == 2 and states(), 10, "both alerts received") == {
        "BackupProofSilenced": "suppressed", "NotSilenced": "active"}


def test_the_restored_grafana_database_holds_the_same_rows(proof):
    restored = proof.workdir / "restored-grafana"
    result = backup_cli("restore", "--service", "grafana", "--to", str(restored), plan=proof.plan)
    assert result.returncode == 0, result.stderr
    assert grafana_rows(restored / "grafana.db") == proof.grafana_rows


def test_verify_passes_on_a_sound_repository(proof):
    result = backup_cli("verify", plan=proof.plan)
    assert result.returncode == 0, result.stderr
    assert "prometheus:" in result.stdout and "TSDB blocks" in result.stdout and "1 silences" in result.stdout, result.stdout


def test_restore_never_overwrites_data_without_force(proof):
    target = proof.workdir / "occupied"
    target.mkdir()
    (target / "precious").write_text("live data")
    refused = backup_cli("restore", "--service", "grafana", "--to", str(target), plan=proof.plan)
    assert refused.returncode == 1 and "already holds data" in refused.stderr and "--force" in refused.stderr
    assert [p.name for p in target.iterdir()] == ["precious"]
    forced = backup_cli("restore", "--service", "grafana", "--to", str(target), "--force", plan=proof.plan)
    assert forced.returncode == 0, forced.stderr
    (aside,) = proof.workdir.glob("occupied.before-restore-*")
    assert (aside / "precious").read_text() == "live data" and (target / "grafana.db").is_file()
    # Not even --force touches the data directory of a running Prometheus (--to a live volume by mistake).
    running = backup_cli("restore", "--service", "prometheus", "--to", str(proof.workdir / "prometheus-data"),
                         "--force", plan=proof.plan)
    assert running.returncode == 1 and "in use by a running process" in running.stderr, running.stderr
    assert "prometheus" in running.stderr and not list(proof.workdir.glob("prometheus-data.before-restore-*"))


def _variant(proof, name: str, damage) -> Path:
    repository = proof.workdir / name
    shutil.copytree(proof.workdir / "repository", repository)
    damage(repository)
    plan = json.loads(proof.plan.read_text())
    plan["repository"] = str(repository)
    path = proof.workdir / f"plan-{name}.json"
    path.write_text(json.dumps(plan))
    return path


def _corrupt_packs(repository: Path) -> None:
    for pack in (repository / "data").rglob("*"):
        if pack.is_file():
            content = bytearray(pack.read_bytes())
            content[len(content) // 2] ^= 0xFF
            pack.chmod(0o600)
            pack.write_bytes(bytes(content))


def test_a_corrupted_backup_fails_verify_and_restore(proof):
    plan = _variant(proof, "corrupted", _corrupt_packs)
    verified = backup_cli("verify", plan=plan)
    assert verified.returncode == 1 and "checking the repository failed" in verified.stderr, verified.stderr
    restored = backup_cli("restore", "--service", "grafana", "--to", str(proof.workdir / "from-corrupted"), plan=plan)
    assert restored.returncode == 1 and "restoring grafana" in restored.stderr, restored.stderr


def test_a_missing_backup_fails_verify_and_restore(proof):
    def forget_snapshots(repository: Path) -> None:
        for snapshot in (repository / "snapshots").iterdir():
            snapshot.unlink()

    plan = _variant(proof, "no-snapshots", forget_snapshots)
    verified = backup_cli("verify", plan=plan)
    assert verified.returncode == 1 and "no backup of prometheus for stack staging" in verified.stderr, verified.stderr
    restored = backup_cli("restore", "--service", "prometheus", "--to", str(proof.workdir / "from-none"), plan=plan)
    assert restored.returncode == 1 and "no backup of prometheus" in restored.stderr, restored.stderr
    elsewhere = ["--repository", str(proof.workdir / "never-created")]
    for command in (["verify"], ["restore", "--service", "grafana", "--to", str(proof.workdir / "x")]):
        result = backup_cli(*command, *elsewhere, plan=proof.plan)
        assert result.returncode == 1 and "no restic repository at" in result.stderr, result.stderr


def test_a_failed_run_is_pushed_and_keeps_the_time_of_the_last_success(proof):
    plan = json.loads(proof.plan.read_text())
    plan["sources"]["prometheus"]["endpoint"] = f"http://127.0.0.1:{free_port()}"
    broken = proof.workdir / "plan-unreachable.json"
    broken.write_text(json.dumps(plan))
    result = backup_cli("create", "--only", "prometheus", plan=broken)
    assert result.returncode == 1 and "prometheus: FAILED: Prometheus refused a TSDB snapshot" in result.stderr, result.stderr
    pushed = pushed_metrics(proof.pushgateway_url)
    assert 'backup_last_run_success{instance="",job="backup",service="prometheus"} 0' in pushed
    assert 'backup_last_success_timestamp_seconds{instance="",job="backup",service="prometheus"}' in pushed


def test_retention_is_restics_forget_per_service(proof):
    """`backup.retention` (last 3, 7 daily, ...): four runs of one day keep the last three of that
    service, and no other service loses a backup."""
    for _ in range(3):
        result = backup_cli("create", "--only", "config", plan=proof.plan)
        assert result.returncode == 0, result.stderr
    listed = [line.split()[-1] for line in backup_cli("list", plan=proof.plan).stdout.splitlines()]
    assert listed.count("config") == 3 and listed.count("grafana") >= 1, listed


def test_the_restored_pushgateway_file_brings_back_the_pushed_groups(tmp_path):
    """The Pushgateway's persistence file, as the deployed plan backs it up: a real Pushgateway persists
    a pushed group, the job backs the file up, `restore` puts it into a fresh directory, and a new
    Pushgateway started on it serves the group again."""
    with Processes() as processes:
        data = tmp_path / "pushgateway-data"
        data.mkdir()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        processes.start([PUSHGATEWAY_BINARY, f"--web.listen-address=127.0.0.1:{port}",
                         f"--persistence.file={data / 'pushgateway.db'}", "--persistence.interval=1s"],
                        tmp_path / "pushgateway.log")
        wait_until(lambda: http_ok(f"{url}/-/ready"), 30, "Pushgateway ready")
        pushed = urllib.request.Request(f"{url}/metrics/job/proof_job/instance/proof", method="PUT",
                                        data=b"# TYPE proof_restored_metric gauge\nproof_restored_metric 42\n")
        urllib.request.urlopen(pushed, timeout=10).close()
        wait_until(lambda: (data / "pushgateway.db").is_file(), 30, "the Pushgateway's persistence file")
        (tmp_path / "job-secrets").mkdir()
        (tmp_path / "job-secrets" / "backup_repository_password").write_text("correct horse battery staple\n")
        paths = JobPaths(sources={"pushgateway": str(data)}, rendered=str(tmp_path / "rendered"),
                         repository=str(tmp_path / "repository"), secrets=str(tmp_path / "job-secrets"),
                         scratch=str(tmp_path / "scratch"))
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps(render_plan(stack_settings(STACK), {"pushgateway": Endpoint("127.0.0.1", port)},
                                               ("pushgateway",), paths)))
        created = backup_cli("create", plan=plan)
        assert created.returncode == 0 and "pushgateway: snapshot " in created.stdout, created.stdout + created.stderr
        verified = backup_cli("verify", plan=plan)
        assert verified.returncode == 0, verified.stdout + verified.stderr

        restored = tmp_path / "restored-pushgateway"
        result = backup_cli("restore", "--service", "pushgateway", "--to", str(restored), plan=plan)
        assert result.returncode == 0, result.stderr
        assert sorted(p.name for p in restored.iterdir()) == ["pushgateway.db"]
        fresh_port = free_port()
        fresh_url = f"http://127.0.0.1:{fresh_port}"
        processes.start([PUSHGATEWAY_BINARY, f"--web.listen-address=127.0.0.1:{fresh_port}",
                         f"--persistence.file={restored / 'pushgateway.db'}"], tmp_path / "pushgateway-restored.log")
        wait_until(lambda: http_ok(f"{fresh_url}/-/ready"), 30, "the restored Pushgateway ready")
        assert 'proof_restored_metric{instance="proof",job="proof_job"} 42' in pushed_metrics(fresh_url)
