"""The Docker job's scheduler loop: the same 5-field cron schedule a Kubernetes CronJob runs.

Evaluated in UTC. Day-of-month and day-of-week combine as cron does: when both are restricted, a
day matching either runs. A small matcher of our own rather than a dependency, for one function
the image would otherwise install a package for.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def _values(field: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in field.split(","):
        body, _, step = part.partition("/")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            start, end = map(int, body.split("-"))
        else:
            start = end = int(body)
            if step:
                end = high  # `5/15`: from 5 in steps of 15, as cron reads it
        values.update(range(start, end + 1, int(step) if step else 1))
    return frozenset(values)


def next_run(expression: str, after: datetime) -> datetime:
    """The first minute strictly after `after` (UTC) that the schedule selects."""
    fields = expression.split()
    minutes, hours, days, months, weekdays = (_values(f, lo, hi) for f, (lo, hi) in zip(fields, RANGES))
    day_any, weekday_any = fields[2] == "*", fields[4] == "*"
    moment = after.astimezone(timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(366 * 24 * 60):
        weekday = (moment.weekday() + 1) % 7  # cron: 0 is Sunday
        day_matches = (
            moment.day in days and weekday in weekdays if day_any or weekday_any
            else moment.day in days or weekday in weekdays
        )
        if moment.month in months and day_matches and moment.hour in hours and moment.minute in minutes:
            return moment
        moment += timedelta(minutes=1)
    raise ValueError(f"the schedule {expression!r} selects no minute within a year")


def run_forever(expression: str, job: Callable[[], int], now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                sleep: Callable[[float], None] = time.sleep) -> None:
    while True:
        due = next_run(expression, now())
        print(f"backup: next run at {due.isoformat()}", flush=True)
        while (remaining := (due - now()).total_seconds()) > 0:
            sleep(min(remaining, 60))
        job()


def serve_health(port: int) -> ThreadingHTTPServer:
    """`GET /-/healthy` answers 200 while the loop's process runs: the container's health check.
    Whether backups succeed is the Pushgateway's business (BackupFailed, BackupStale)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            status = 200 if self.path == "/-/healthy" else 404
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok\n" if status == 200 else b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
