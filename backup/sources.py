"""What is backed up for each service, how each capture stays consistent, and how each is restored.

- Prometheus: a TSDB snapshot through its admin API (`POST /api/v1/admin/tsdb/snapshot`, which
  needs `--web.enable-admin-api`): hard links to the immutable blocks plus the head written out as a
  block, taken by Prometheus itself, so it is consistent while Prometheus writes. The job reads it in
  place from the data volume and removes it afterwards. Restored, it is a data directory.
- Alertmanager: the silences through its API (`GET /api/v2/silences`: current to the second;
  the `silences` file is rewritten only every maintenance interval, 15 minutes), restored through
  the API (`POST /api/v2/silences`, which gives them new ids); and, where the job sees its volume,
  the notification log file, which Alertmanager replaces atomically (written aside, then renamed).
- Grafana: its SQLite database through SQLite's online backup API from a read-only connection: a
  transactionally consistent copy while Grafana runs (Grafana uses the rollback journal by default;
  the copy restarts when Grafana writes during it), checked with `PRAGMA integrity_check`.
- Loki: with filesystem storage, its object store directory (chunks and the shipped TSDB index,
  each object written once). The ingesters' WAL and the index being built are left out: a restored
  Loki has every line flushed before the backup. With object storage, nothing (the bucket is the
  store; back it up with the bucket's own versioning or replication): the run says so.
- Tempo: with local storage, its completed blocks (`blocks`: what the ingesters flushed and the
  compactor wrote; a block's objects are written once). The WAL (`wal`) and the metrics-generator's
  files are left out: a restored Tempo has the traces flushed to blocks before the backup. A block
  being flushed or compacted during the copy may be copied partially. With object storage
  (`traces.tempo.s3`), nothing: the run says so.
- Pyroscope: its completed blocks (`blocks`, the filesystem bucket; each block written once). The
  head (`head`, profiles not yet flushed) and the compactor's working directory are left out; a block
  being written during the copy may be copied partially.
- Pushgateway: its persistence file (`--persistence.file`), which the Pushgateway writes aside and
  renames into place, so a copy is one whole file as of its last write (every
  `--persistence.interval`, and at shutdown): groups pushed since are not in it. Before its first
  write there is nothing to back up, and the run says so.
- config: the rendered documents of every service as deployed, for reference (the source of truth
  is this repository and the stack's settings: `pulumi up` re-renders them).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from backup.client import request
from backup.plan import BackupError, Plan, Source

SILENCES_FILE = "silences.json"
NFLOG_FILE = "nflog"
GRAFANA_DB = "grafana.db"
LOKI_OBJECTS = "chunks"
# Tempo's local backend and Pyroscope's filesystem bucket: completed blocks (traces.tempo, profiles.pyroscope).
TEMPO_BLOCKS = "blocks"
PYROSCOPE_BLOCKS = "blocks"
# services.exporters: --persistence.file=/pushgateway/pushgateway.db, the data volume's one file.
PUSHGATEWAY_FILE = "pushgateway.db"
# Silences still in force; expired ones cannot be created again (and are history only).
LIVE_SILENCE_STATES = ("active", "pending")


@dataclass(frozen=True)
class Capture:
    """A directory to back up as it is, or a reason the service has nothing to back up."""

    directory: Path | None
    skipped: str | None = None


def _warn(message: str) -> None:
    print(f"backup: warning: {message}", file=sys.stderr)


def _require_endpoint(source: Source) -> None:
    if source.endpoint is None:
        raise BackupError(f"the plan gives no API address for {source.service}")


def _require_path(source: Source) -> Path:
    if not source.path:
        raise BackupError(f"the plan gives no data path for {source.service}")
    return Path(source.path)


@contextmanager
def capture_prometheus(source: Source, scratch: Path) -> Iterator[Capture]:
    _require_endpoint(source)
    data_dir = _require_path(source)
    try:
        answer = request(source.endpoint, "/api/v1/admin/tsdb/snapshot", "POST")
    except BackupError as exc:
        raise BackupError(f"Prometheus refused a TSDB snapshot (it needs --web.enable-admin-api): {exc}") from None
    snapshot = data_dir / "snapshots" / answer["data"]["name"]
    if not snapshot.is_dir():
        raise BackupError(f"Prometheus made snapshot {snapshot.name}, but it is not under {data_dir}/snapshots: "
                          "is Prometheus' data volume mounted there?")
    try:
        yield Capture(snapshot)
    finally:
        # Hard links: harmless now, but they would keep deleted blocks on disk after retention.
        try:
            shutil.rmtree(snapshot)
        except OSError as exc:
            _warn(f"could not remove the Prometheus snapshot {snapshot}: {exc}")


def live_silences(source: Source) -> list[dict]:
    _require_endpoint(source)
    return [s for s in request(source.endpoint, "/api/v2/silences") if s["status"]["state"] in LIVE_SILENCE_STATES]


@contextmanager
def capture_alertmanager(source: Source, scratch: Path) -> Iterator[Capture]:
    staged = _fresh(scratch / "alertmanager")
    (staged / SILENCES_FILE).write_text(json.dumps(live_silences(source), indent=1, sort_keys=True))
    if source.path:
        nflog = Path(source.path) / NFLOG_FILE
        if nflog.is_file():
            shutil.copyfile(nflog, staged / NFLOG_FILE)
    try:
        yield Capture(staged)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def check_sqlite(path: Path) -> None:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        result = connection.execute("PRAGMA integrity_check").fetchone()[0]
    connection.close()
    if result != "ok":
        raise BackupError(f"the SQLite database {path} fails its integrity check: {result}")


@contextmanager
def capture_grafana(source: Source, scratch: Path) -> Iterator[Capture]:
    database = _require_path(source) / GRAFANA_DB
    if not database.is_file():
        raise BackupError(f"no Grafana database at {database}")
    staged = _fresh(scratch / "grafana")
    copy = staged / GRAFANA_DB
    try:
        # mode=ro: the job never writes Grafana's database (its volume is mounted read-only).
        live = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        target = sqlite3.connect(copy)
        with target:
            live.backup(target)
        live.close()
        target.close()
    except sqlite3.Error as exc:
        raise BackupError(f"copying Grafana's database {database} failed: {exc}") from None
    check_sqlite(copy)
    try:
        yield Capture(staged)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def _directory_capture(source: Source, subdirectory: str, service: str, what: str) -> Capture:
    """A directory of write-once files (chunks, blocks) in a service's volume, or nothing when the
    service keeps them in object storage."""
    if source.object_storage:
        return Capture(None, skipped=f"{service} keeps {what} in object storage ({source.object_storage})")
    directory = _require_path(source) / subdirectory
    if not directory.is_dir():
        raise BackupError(f"no {service} {what} directory at {directory}")
    return Capture(directory)


@contextmanager
def capture_loki(source: Source, scratch: Path) -> Iterator[Capture]:
    yield _directory_capture(source, LOKI_OBJECTS, "Loki", "chunks and index")


@contextmanager
def capture_tempo(source: Source, scratch: Path) -> Iterator[Capture]:
    yield _directory_capture(source, TEMPO_BLOCKS, "Tempo", "blocks")


@contextmanager
def capture_pyroscope(source: Source, scratch: Path) -> Iterator[Capture]:
    # Pyroscope stores on its volume only (no object_storage in its plan source).
    yield _directory_capture(source, PYROSCOPE_BLOCKS, "Pyroscope", "blocks")


@contextmanager
def capture_pushgateway(source: Source, scratch: Path) -> Iterator[Capture]:
    directory = _require_path(source)
    if not directory.is_dir():
        raise BackupError(f"no Pushgateway data directory at {directory}: is its volume mounted there?")
    persisted = directory / PUSHGATEWAY_FILE
    if not persisted.is_file():
        yield Capture(None, skipped=f"the Pushgateway has not written {persisted} yet")
        return
    # Staged: the Pushgateway replaces the file by a rename, so this copy is one whole version of it.
    staged = _fresh(scratch / "pushgateway")
    shutil.copyfile(persisted, staged / PUSHGATEWAY_FILE)
    try:
        yield Capture(staged)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


@contextmanager
def capture_directory(source: Source, scratch: Path) -> Iterator[Capture]:
    directory = _require_path(source)
    if not directory.is_dir():
        raise BackupError(f"no {source.service} directory at {directory}")
    yield Capture(directory)


CAPTURES: dict[str, Callable[[Source, Path], "contextmanager[Capture]"]] = {
    "prometheus": capture_prometheus,
    "alertmanager": capture_alertmanager,
    "grafana": capture_grafana,
    "loki": capture_loki,
    "tempo": capture_tempo,
    "pyroscope": capture_pyroscope,
    "pushgateway": capture_pushgateway,
    "config": capture_directory,
}


def _fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


# --- Restore -----------------------------------------------------------------------------------


def prepare_target(target: Path, force: bool) -> Path | None:
    """Make `target` an empty directory to restore into. Existing data is never overwritten: without
    `force` a non-empty target is an error; with it, its entries move aside to a sibling directory
    (returned), nothing is deleted. A directory a running process has files open in (a live
    Prometheus, Grafana, Loki) is always refused."""
    if target.exists() and not target.is_dir():
        raise BackupError(f"the restore target {target} is a file, not a directory")
    target.mkdir(parents=True, exist_ok=True)
    entries = sorted(target.iterdir())
    if not entries:
        return None
    user = _process_using(target)
    if user:
        raise BackupError(f"{target} is in use by a running process ({user}): stop it first")
    if not force:
        raise BackupError(f"{target} already holds data ({len(entries)} entries): restore into an empty directory, "
                          "or pass --force to move the existing data aside first")
    aside = target.with_name(f"{target.name}.before-restore-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    aside.mkdir()
    for entry in entries:
        shutil.move(str(entry), aside / entry.name)
    return aside


def _process_using(directory: Path) -> str | None:
    """A process with a file open under `directory` (its WAL, its database...), as "pid N, name", or
    None. Reads /proc, so it sees what this user may see: every process, when run as root on the
    host (containers included)."""
    root = str(directory.resolve())
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            for fd in fd_dir.iterdir():
                opened = os.readlink(fd)
                if opened == root or opened.startswith(root + "/"):
                    pid = fd_dir.parent.name
                    return f"pid {pid}, {(fd_dir.parent / 'comm').read_text().strip()}"
        except OSError:
            continue  # gone, or not ours to inspect
    return None


def restore_silences(silences_file: Path, source: Source) -> int:
    """Create each backed-up silence still in force again; returns how many were created."""
    _require_endpoint(source)
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    created = 0
    for silence in json.loads(silences_file.read_text()):
        if silence["endsAt"] <= now:
            continue  # expired since the backup
        body = {key: silence[key] for key in ("matchers", "startsAt", "endsAt", "createdBy", "comment")}
        request(source.endpoint, "/api/v2/silences", "POST", body)
        created += 1
    return created
