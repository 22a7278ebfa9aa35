"""restic, run as a program: the repository, its password file and S3 keys in restic's environment.

Every backup is one restic snapshot per service, tagged `stack:<stack>` and `service:<service>`
under the host name `<stack>`; retention (`forget --prune`) groups by host and tags, so it applies
per service whatever path a run read from (each Prometheus snapshot has its own directory).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from backup.plan import BackupError, Plan

RESTIC = os.environ.get("RESTIC_BINARY", "restic")
# restic's exit code when the repository does not exist (restic 0.14: 1 with this message; 0.17+: 10).
NO_REPOSITORY_MARKERS = ("Is there a repository at the following location", "repository does not exist")
WRONG_PASSWORD_MARKER = "wrong password or no key found"


@dataclass(frozen=True)
class Snapshot:
    id: str
    time: str
    service: str
    paths: tuple[str, ...]

    @property
    def short_id(self) -> str:
        return self.id[:8]


class Restic:
    def __init__(self, plan: Plan):
        self.plan = plan

    def _environment(self) -> dict[str, str]:
        plan = self.plan
        env = {**os.environ, "RESTIC_REPOSITORY": plan.repository, "RESTIC_PASSWORD_FILE": plan.password_file}
        if not Path(plan.password_file).is_file():
            raise BackupError(f"the repository password file {plan.password_file} does not exist")
        if plan.s3_access_key_id:
            secret_file = Path(plan.s3_secret_access_key_file or "")
            if not secret_file.is_file():
                raise BackupError(f"the S3 secret key file {plan.s3_secret_access_key_file} does not exist")
            env["AWS_ACCESS_KEY_ID"] = plan.s3_access_key_id
            env["AWS_SECRET_ACCESS_KEY"] = secret_file.read_text().strip()
        return env

    def run(self, args: Sequence[str], cwd: str | None = None, what: str = "restic") -> str:
        command = [RESTIC, *args] + ([] if self.plan.cache else ["--no-cache"])
        if self.plan.retry_lock:
            command += ["--retry-lock", self.plan.retry_lock]
        try:
            completed = subprocess.run(command, cwd=cwd, env=self._environment(), capture_output=True, text=True)
        except FileNotFoundError:
            raise BackupError(f"restic is not installed (looked for {RESTIC!r})") from None
        if completed.returncode != 0:
            error = completed.stderr.strip()
            if any(marker in error for marker in NO_REPOSITORY_MARKERS):
                raise BackupError(f"no restic repository at {self.plan.repository} (wrong repository, or no backup was ever made)")
            if WRONG_PASSWORD_MARKER in error:
                raise BackupError(f"the password in {self.plan.password_file} does not open the repository {self.plan.repository}")
            last_lines = " | ".join(error.splitlines()[-3:]) or f"exit code {completed.returncode}"
            raise BackupError(f"{what} failed: {last_lines}")
        return completed.stdout

    def exists(self) -> bool:
        try:
            self.run(["cat", "config"], what="reading the repository config")
        except BackupError as exc:
            if str(exc).startswith("no restic repository"):
                return False
            raise
        return True

    def init_if_missing(self) -> None:
        if not self.exists():
            self.run(["init"], what="creating the repository")

    def backup(self, service: str, directory: str) -> dict[str, Any]:
        """Back up the contents of `directory` (stored relative to it) as one snapshot of `service`."""
        output = self.run(
            ["backup", "--json", "--host", self.plan.stack, "--tag", f"stack:{self.plan.stack}",
             "--tag", f"service:{service}", "."],
            cwd=directory,
            what=f"backing up {service}",
        )
        summaries = [json.loads(line) for line in output.splitlines() if '"message_type":"summary"' in line]
        if not summaries:
            raise BackupError(f"backing up {service}: restic reported no summary")
        return summaries[-1]

    def snapshots(self, service: str | None = None) -> list[Snapshot]:
        tags = f"stack:{self.plan.stack}" + (f",service:{service}" if service else "")
        output = self.run(["snapshots", "--json", "--host", self.plan.stack, "--tag", tags], what="listing snapshots")
        found = []
        for item in json.loads(output or "[]"):
            service_tag = next((t.split(":", 1)[1] for t in item.get("tags", []) if t.startswith("service:")), "?")
            found.append(Snapshot(item["id"], item["time"], service_tag, tuple(item.get("paths", []))))
        return sorted(found, key=lambda s: s.time)

    def snapshot(self, service: str, snapshot_id: str = "latest") -> Snapshot:
        """The service's snapshot by id (or prefix), or its latest; a clear error when there is none."""
        candidates = self.snapshots(service)
        if not candidates:
            raise BackupError(f"no backup of {service} for stack {self.plan.stack} in {self.plan.repository}")
        if snapshot_id == "latest":
            return candidates[-1]
        matching = [s for s in candidates if s.id.startswith(snapshot_id)]
        if len(matching) != 1:
            raise BackupError(f"snapshot {snapshot_id} is not a backup of {service} for stack {self.plan.stack}")
        return matching[0]

    def restore(self, snapshot: Snapshot, target: str) -> None:
        # restic checks every blob's hash as it restores: a damaged pack fails here, not later.
        self.run(["restore", snapshot.id, "--target", target], what=f"restoring {snapshot.service} {snapshot.short_id}")

    def list_files(self, snapshot: Snapshot) -> list[str]:
        output = self.run(["ls", "--json", snapshot.id], what=f"listing {snapshot.service} {snapshot.short_id}")
        return [item["path"] for item in map(json.loads, output.splitlines()) if item.get("struct_type") == "node"]

    def check(self, read_data: bool) -> None:
        self.run(["check", *(["--read-data"] if read_data else [])], what="checking the repository")

    def forget(self, service: str) -> None:
        keep = [f"--keep-{kind}={count}" for kind, count in sorted(self.plan.retention.items()) if count]
        if not keep:
            return
        self.run(
            ["forget", "--prune", "--host", self.plan.stack, "--tag", f"stack:{self.plan.stack},service:{service}",
             "--group-by", "host,tags", *keep],
            what=f"applying retention to {service}",
        )
