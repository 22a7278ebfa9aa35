"""Backups (`monitoring:backup`): when the backup job runs, where restic keeps the backups, how many it keeps.

restic does storage, encryption, deduplication and retention; the stack only says where (a Docker
volume on the stack's host, or an S3 bucket), when (a cron schedule, the same on both platforms) and
how many to keep. The repository password and the S3 secret key are secrets delivered as files.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from settings.types import Duration, Resources, Strict

# Five cron fields (minute hour day-of-month month day-of-week): numbers, `*`, ranges, lists, steps.
_CRON_FIELD = r"(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*"
_CRON = re.compile(rf"^{_CRON_FIELD}( {_CRON_FIELD}){{4}}$")
CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def cron_problem(expression: str) -> str | None:
    """Why a cron expression is not one both platforms run (Kubernetes CronJob, backup's loop), or None."""
    if not isinstance(expression, str) or not _CRON.match(expression):
        return "is not a 5-field cron schedule like '30 2 * * *' (minute hour day month weekday)"
    for text, (low, high) in zip(expression.split(" "), CRON_RANGES):
        for number in re.findall(r"\d+", re.sub(r"/\d+", "", text)):
            if not low <= int(number) <= high:
                return f"has {number} outside {low}-{high} in field {text!r}"
    return None


class S3Repository(Strict):
    """An S3-compatible bucket for the restic repository (required on Kubernetes)."""

    # host[:port] of the S3 API (AWS: s3.<region>.amazonaws.com), reached over HTTPS.
    endpoint: str = Field(pattern=r"^[A-Za-z0-9.-]+(:\d+)?$")
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    # Folder in the bucket, so several stacks can share one bucket.
    prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._/-]*$")
    access_key_id: str = Field(min_length=1)


class BackupRetention(Strict):
    """restic's `forget --keep-*` policy, applied per service after each run (then `prune`)."""

    last: int = Field(default=3, ge=1, le=1000)
    daily: int = Field(default=7, ge=0, le=1000)
    weekly: int = Field(default=4, ge=0, le=1000)
    monthly: int = Field(default=6, ge=0, le=1000)


class BackupSettings(Strict):
    # Unset: on wherever the repository has a home without more settings (Docker: a volume), and on
    # a cluster once `s3` is set; true insists (and says what is missing), false turns backups off.
    enabled: bool | None = None
    # When the job runs (UTC on Docker; the cluster's time zone on Kubernetes, UTC by default).
    schedule: str = "30 2 * * *"
    # Where restic keeps the repository; unset: a Docker volume on the stack's host (Docker only, and
    # then on the same disk as the data: set s3 for backups that survive the host).
    s3: S3Repository | None = None
    retention: BackupRetention = BackupRetention()
    # BackupStale fires when the last successful run is older than this.
    stale_after: Duration = "26h"
    resources: Resources = Resources(cpus=0.5, memory_mb=512)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        problem = cron_problem(value)
        if problem:
            raise ValueError(problem)
        return value
