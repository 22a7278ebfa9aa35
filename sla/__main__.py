"""`python -m sla report --stack <stack> --period 2026-11 [--format md|csv|json] [--prometheus URL]`

Reads the SLAs from `Pulumi.<stack>.yaml` (or `--config-file`), queries Prometheus (by default the
stack's published port on this host) and writes the month's report to stdout or `--output`.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import yaml

from settings import SettingsError, parse_settings
from settings.loader import namespace_config
from settings.model import StackSettings
from settings.secrets import SECRET_KEYS
from sla.prometheus import Prometheus, PrometheusError
from sla.report import FORMATS, build_report, render

ROOT = Path(__file__).resolve().parent.parent


def stack_settings(stack: str, config_file: Path) -> StackSettings:
    document = yaml.safe_load(config_file.read_text()) or {}
    flat = {key: value if isinstance(value, str) else json.dumps(value) for key, value in (document.get("config") or {}).items()}
    return parse_settings(namespace_config(flat, SECRET_KEYS), stack)


def default_prometheus(settings: StackSettings) -> str:
    address = settings.exposure.bind_address
    host = "127.0.0.1" if str(address) == "0.0.0.0" else str(address)
    return f"http://{host}:{settings.prometheus.port}"


def moment(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone (e.g. 2026-11-30T12:00:00Z)")
    return value.astimezone(timezone.utc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sla", description=__doc__.split("\n\n")[1])
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="the monthly SLA report")
    report.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    report.add_argument("--period", required=True, help="calendar month, UTC: YYYY-MM")
    report.add_argument("--format", choices=FORMATS, default="md")
    report.add_argument("--prometheus", help="Prometheus URL (default: the stack's published port on this host)")
    report.add_argument("--config-file", type=Path, help="stack config (default Pulumi.<stack>.yaml)")
    report.add_argument("--output", type=Path, help="write here instead of stdout")
    # The report of a month in progress ends at this moment (default: now); pinned by tests.
    report.add_argument("--now", type=moment, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    config_file = args.config_file or ROOT / f"Pulumi.{args.stack}.yaml"
    try:
        settings = stack_settings(args.stack, config_file)
        prometheus = Prometheus(args.prometheus or default_prometheus(settings))
        built = build_report(settings, args.stack, args.period, prometheus, args.now or datetime.now(timezone.utc))
    except SettingsError as error:
        print("error: invalid stack settings:\n" + "\n".join(error.lines), file=sys.stderr)
        return 2
    except (OSError, ValueError, PrometheusError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    text = render(built, args.format)
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
