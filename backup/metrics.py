"""The run's result, pushed to the stack's Pushgateway for the BackupFailed and BackupStale alerts.

One group per service (`job="backup"`, `service=<service>`). A success pushes every metric; a
failure replaces only the run's own metrics (POST keeps the group's other metrics), so the time of
the last success survives failed runs, and a service that never succeeded reads as stale at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from backup.client import request
from backup.plan import Endpoint

JOB = "backup"


@dataclass(frozen=True)
class ServiceResult:
    service: str
    started: float
    finished: float
    ok: bool
    error: str | None = None
    skipped: str | None = None
    bytes_added: int = 0
    bytes_processed: int = 0
    snapshot_id: str | None = None


def exposition(result: ServiceResult) -> str:
    lines = [
        "# TYPE backup_last_run_timestamp_seconds gauge",
        f"backup_last_run_timestamp_seconds {result.finished:.3f}",
        "# TYPE backup_last_run_success gauge",
        f"backup_last_run_success {1 if result.ok else 0}",
        "# TYPE backup_last_run_duration_seconds gauge",
        f"backup_last_run_duration_seconds {result.finished - result.started:.3f}",
    ]
    if result.ok:
        lines += [
            "# TYPE backup_last_success_timestamp_seconds gauge",
            f"backup_last_success_timestamp_seconds {result.finished:.3f}",
            "# TYPE backup_last_added_bytes gauge",
            f"backup_last_added_bytes {result.bytes_added}",
            "# TYPE backup_last_processed_bytes gauge",
            f"backup_last_processed_bytes {result.bytes_processed}",
        ]
    return "\n".join(lines) + "\n"


def push(pushgateway: Endpoint, result: ServiceResult) -> None:
    request(pushgateway, f"/metrics/job/{JOB}/service/{result.service}", "POST",
            raw=exposition(result).encode(), content_type="text/plain; version=0.0.4")
