"""python -m backup create|list|verify|restore|schedule --stack <stack> [--plan FILE] ...

Inside the backup job the plan is /etc/backup/plan.json; elsewhere `make preview STACK=<stack>`
writes it to build/<stack>/backup/plan.json (paths in it are the job's: give --repository and
--password-file, and the service paths or URLs, as this host sees them). Exit 0 on success; 1 with
one line per failure.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from backup import operations
from backup.plan import SERVICES, BackupError, Plan
from backup.schedule import run_forever, serve_health

JOB_PLAN = Path("/etc/backup/plan.json")


def _plan(args: argparse.Namespace) -> Plan:
    path = Path(args.plan) if args.plan else (JOB_PLAN if JOB_PLAN.is_file() else Path(f"build/{args.stack}/backup/plan.json"))
    plan = Plan.load(path)
    if plan.stack != args.stack:
        raise BackupError(f"the plan {path} is stack {plan.stack!r}, not {args.stack!r}")
    changes = {
        key: value
        for key, value in (
            ("repository", args.repository),
            ("password_file", args.password_file),
            ("s3_secret_access_key_file", args.s3_secret_access_key_file),
        )
        if value
    }
    return dataclasses.replace(plan, **changes)


def _create(plan: Plan, args: argparse.Namespace) -> int:
    results = operations.create(plan, args.only)
    for result in results:
        if result.skipped:
            print(f"{result.service}: nothing to back up: {result.skipped}")
        elif result.ok:
            print(f"{result.service}: snapshot {(result.snapshot_id or '')[:8]}, {result.bytes_added} bytes added "
                  f"of {result.bytes_processed}, {result.finished - result.started:.1f}s")
        else:
            print(f"{result.service}: FAILED: {result.error}", file=sys.stderr)
    return 0 if all(result.ok for result in results) else 1


def _list(plan: Plan, args: argparse.Namespace) -> int:
    snapshots = operations.list_snapshots(plan, args.service)
    for snapshot in snapshots:
        print(f"{snapshot.short_id}  {snapshot.time[:19]}Z  {snapshot.service}")
    if not snapshots:
        print(f"no backups of stack {plan.stack} in {plan.repository}")
    return 0


def _verify(plan: Plan, args: argparse.Namespace) -> int:
    for found in operations.verify(plan, args.only, read_data=not args.structure_only):
        print(f"{found.service}: {found.snapshot.short_id} ({found.snapshot.time[:19]}Z) ok: {found.detail}")
    return 0


def _restore(plan: Plan, args: argparse.Namespace) -> int:
    restored = operations.restore(
        plan, args.service, Path(args.to) if args.to else None, args.snapshot, args.force, args.alertmanager_url
    )
    print(f"{restored.service}: restored {restored.snapshot.short_id} ({restored.snapshot.time[:19]}Z)"
          + (f" into {restored.target}" if restored.target else "")
          + (f"; the previous data is in {restored.moved_aside}" if restored.moved_aside else "")
          + (f"; {restored.silences_created} silences created" if args.alertmanager_url else ""))
    return 0


def _schedule(plan: Plan, args: argparse.Namespace) -> int:
    if not plan.schedule:
        raise BackupError("the plan has no schedule")
    serve_health(args.health_port)
    run_forever(plan.schedule, lambda: _create(plan, args))
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m backup", description=__doc__.splitlines()[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", required=True, help="the stack whose backups these are (staging, prod)")
    common.add_argument("--plan", help="the job's plan (default: /etc/backup/plan.json, else build/<stack>/backup/plan.json)")
    common.add_argument("--repository", help="the restic repository, instead of the plan's")
    common.add_argument("--password-file", help="the repository password's file, instead of the plan's")
    common.add_argument("--s3-secret-access-key-file", help="the S3 secret key's file, instead of the plan's")
    commands = root.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", parents=[common], help="back up every service of the plan now")
    create.add_argument("--only", nargs="+", choices=SERVICES, help="only these services")
    listing = commands.add_parser("list", parents=[common], help="the stack's backups")
    listing.add_argument("--service", choices=SERVICES)
    verify = commands.add_parser("verify", parents=[common], help="check the repository and each latest backup")
    verify.add_argument("--only", nargs="+", choices=SERVICES)
    verify.add_argument("--structure-only", action="store_true", help="skip reading every pack (faster)")
    restore = commands.add_parser("restore", parents=[common], help="restore one service's backup")
    restore.add_argument("--service", required=True, choices=SERVICES)
    restore.add_argument("--snapshot", default="latest", help="a snapshot id (prefix) from `list`; default: the latest")
    restore.add_argument("--to", help="the data directory to restore into (empty, or see --force)")
    restore.add_argument("--force", action="store_true", help="move the data already in --to aside, then restore")
    restore.add_argument("--alertmanager-url", help="a running Alertmanager to re-create the silences in")
    schedule = commands.add_parser("schedule", parents=[common], help="run `create` on the plan's cron schedule, forever")
    schedule.add_argument("--health-port", type=int, default=8080, help="where GET /-/healthy answers while the loop runs")
    schedule.set_defaults(only=None)
    return root


COMMANDS = {"create": _create, "list": _list, "verify": _verify, "restore": _restore, "schedule": _schedule}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](_plan(args), args)
    except BackupError as exc:
        print(f"backup {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
