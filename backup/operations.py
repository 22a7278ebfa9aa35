"""The four operations: create, list, verify and restore a stack's backups."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from backup import metrics, sources
from backup.plan import SERVICES, BackupError, Endpoint, Plan, Source
from backup.restic import Restic, Snapshot


def _selected(plan: Plan, only: Sequence[str] | None) -> list[str]:
    wanted = list(only) if only else [name for name in SERVICES if name in plan.sources]
    missing = [name for name in wanted if name not in plan.sources]
    if missing:
        raise BackupError(f"the plan of stack {plan.stack} does not back up {', '.join(missing)}; "
                          f"it backs up {', '.join(plan.sources)}")
    return wanted


def create(plan: Plan, only: Sequence[str] | None = None) -> list[metrics.ServiceResult]:
    """Back up each service as its own restic snapshot, apply retention, push each result."""
    restic = Restic(plan)
    scratch = Path(plan.scratch_dir)
    scratch.mkdir(parents=True, exist_ok=True)
    results = []
    setup_error: str | None = None
    try:
        restic.init_if_missing()
    except BackupError as exc:
        setup_error = str(exc)
    for service in _selected(plan, only):
        started = time.time()
        try:
            if setup_error:
                raise BackupError(setup_error)
            with sources.CAPTURES[service](plan.sources[service], scratch) as capture:
                if capture.directory is None:
                    result = metrics.ServiceResult(service, started, time.time(), True, skipped=capture.skipped)
                else:
                    summary = restic.backup(service, str(capture.directory))
                    result = metrics.ServiceResult(
                        service, started, time.time(), True,
                        bytes_added=int(summary.get("data_added", 0)),
                        bytes_processed=int(summary.get("total_bytes_processed", 0)),
                        snapshot_id=summary.get("snapshot_id"),
                    )
            if capture.directory is not None:
                restic.forget(service)
        except BackupError as exc:
            result = metrics.ServiceResult(service, started, time.time(), False, error=str(exc))
        results.append(result)
        if plan.pushgateway:
            try:
                metrics.push(plan.pushgateway, result)
            except BackupError as exc:
                print(f"backup: warning: the result of {service} did not reach the Pushgateway: {exc}")
    return results


def list_snapshots(plan: Plan, service: str | None = None) -> list[Snapshot]:
    return Restic(plan).snapshots(service)


@dataclass(frozen=True)
class Verified:
    service: str
    snapshot: Snapshot
    detail: str


def verify(plan: Plan, only: Sequence[str] | None = None, read_data: bool = True) -> list[Verified]:
    """The repository's integrity (restic check, reading every pack with `read_data`), then each
    service's latest backup: present, and what it holds usable (TSDB blocks complete, Grafana's
    database passing SQLite's integrity check, the silences readable, the Pushgateway's file there)."""
    restic = Restic(plan)
    restic.check(read_data)
    found = []
    for service in _selected(plan, only):
        if plan.sources[service].object_storage:
            continue
        snapshot = restic.snapshot(service)
        found.append(Verified(service, snapshot, _verify_content(restic, snapshot)))
    return found


def _verify_content(restic: Restic, snapshot: Snapshot) -> str:
    files = restic.list_files(snapshot)
    if snapshot.service == "prometheus":
        blocks = {path.split("/")[1] for path in files if path.count("/") >= 2}
        for block in blocks:
            for part in ("meta.json", "index", "chunks"):
                if f"/{block}/{part}" not in files:
                    raise BackupError(f"the Prometheus backup {snapshot.short_id} lacks {block}/{part}")
        return f"{len(blocks)} TSDB blocks"
    if snapshot.service == "pushgateway":
        if f"/{sources.PUSHGATEWAY_FILE}" not in files:
            raise BackupError(f"the Pushgateway backup {snapshot.short_id} lacks {sources.PUSHGATEWAY_FILE}")
        return "the persistence file"
    if snapshot.service in ("grafana", "alertmanager"):
        with tempfile.TemporaryDirectory() as scratch:
            restic.restore(snapshot, scratch)
            if snapshot.service == "grafana":
                sources.check_sqlite(Path(scratch) / sources.GRAFANA_DB)
                return "database passes its integrity check"
            silences = json.loads((Path(scratch) / sources.SILENCES_FILE).read_text())
            return f"{len(silences)} silences"
    return f"{len(files)} entries"


@dataclass(frozen=True)
class Restored:
    service: str
    snapshot: Snapshot
    target: Path | None
    moved_aside: Path | None
    silences_created: int = 0


def restore(plan: Plan, service: str, target: Path | None, snapshot_id: str = "latest", force: bool = False,
            alertmanager_url: str | None = None) -> Restored:
    """Restore one service's backup into `target` (a fresh data directory, or with `force` one whose
    data is moved aside first); Alertmanager's silences go to a running Alertmanager's API."""
    if service not in SERVICES:
        raise BackupError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    if service == "alertmanager" and not (target or alertmanager_url):
        raise BackupError("restoring alertmanager needs --alertmanager-url (silences) and/or --to (notification log)")
    if service != "alertmanager" and target is None:
        raise BackupError(f"restoring {service} needs --to <empty directory>")
    restic = Restic(plan)
    snapshot = restic.snapshot(service, snapshot_id)
    if service != "alertmanager":
        aside = sources.prepare_target(target, force)
        restic.restore(snapshot, str(target))
        if service == "grafana":
            sources.check_sqlite(target / sources.GRAFANA_DB)
        return Restored(service, snapshot, target, aside)
    with tempfile.TemporaryDirectory() as scratch:
        restic.restore(snapshot, scratch)
        aside = None
        if target is not None:
            nflog = Path(scratch) / sources.NFLOG_FILE
            aside = sources.prepare_target(target, force)
            if nflog.is_file():
                shutil.copyfile(nflog, target / sources.NFLOG_FILE)
        created = 0
        if alertmanager_url:
            # The plan's TLS and credentials, at the address given (another host's Alertmanager).
            planned = plan.sources["alertmanager"].endpoint if "alertmanager" in plan.sources else None
            endpoint = dataclasses.replace(planned, url=alertmanager_url) if planned else Endpoint(alertmanager_url)
            created = sources.restore_silences(Path(scratch) / sources.SILENCES_FILE, Source("alertmanager", endpoint))
    return Restored(service, snapshot, target, aside, created)
