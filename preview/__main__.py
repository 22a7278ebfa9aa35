"""`python -m preview STACK`: run the Pulumi program offline and write what it would deploy.

Reads `Pulumi.yaml` and `Pulumi.<stack>.yaml` as the CLI does, runs `stack/__main__.py` under the
SDK's mock engine with `preview=False` (so every `apply` runs), prints the resource tree and writes
`build/<stack>/resources.json` plus every rendered document exactly as the containers receive it.
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLACEHOLDER = "offline-preview-placeholder"


def read_stack_config(config_file: Path) -> tuple[dict[str, str], list[str], list[str]]:
    """Flat config map as the engine hands it to the program, its secret keys, and notices."""
    document = yaml.safe_load(config_file.read_text()) or {}
    config = document.get("config") or {}
    flat: dict[str, str] = {}
    secret_keys: list[str] = []
    notices: list[str] = []
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            notices.append(f"{key} is encrypted and cannot be decrypted offline; using a placeholder")
            flat[key] = f"{PLACEHOLDER}-{key.split(':')[-1]}"
            secret_keys.append(key)
        elif isinstance(value, str):
            flat[key] = value
        else:
            flat[key] = json.dumps(value)
    return flat, secret_keys, notices


def add_missing_secrets(stack: str, flat: dict[str, str], secret_keys: list[str]) -> list[str]:
    from settings import SettingsError, parse_settings
    from settings.loader import namespace_config
    from settings.secrets import SECRET_KEYS, needed_secrets, set_secret_command

    try:
        settings = parse_settings(namespace_config(flat, SECRET_KEYS), stack)
    except SettingsError:
        return []  # the program itself reports the bad settings, exactly as `pulumi preview` would
    notices = []
    for spec in needed_secrets(settings):
        key = f"monitoring:{spec.key}"
        if key not in flat:
            flat[key] = spec.placeholder(settings, PLACEHOLDER) if spec.placeholder else f"{PLACEHOLDER}-{spec.key}"
            secret_keys.append(key)
            notices.append(
                f"{key} is not set; previewing with a placeholder. For a real deployment: "
                f"{set_secret_command(spec.key, stack)}"
            )
    return notices


def run(stack: str, config_file: Path, out_dir: Path, quiet: bool = False, strict_secrets: bool = False) -> int:
    import pulumi
    from pulumi.runtime.settings import get_root_resource
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    from preview.engine import RecordingMonitor, StackMocks
    from preview.output import print_tree, write_build

    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"]
    if not config_file.exists():
        print(f"error: {config_file} does not exist (stacks: staging, prod)", file=sys.stderr)
        return 2
    flat, secret_keys, notices = read_stack_config(config_file)
    if not strict_secrets:
        notices += add_missing_secrets(stack, flat, secret_keys)
    for notice in notices:
        print(f"notice: {notice}", file=sys.stderr)

    pulumi.runtime.set_all_config(flat, secret_keys)
    mocks = StackMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    program = str(ROOT / "stack" / "__main__.py")
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(program, run_name="__main__")))
        # The mock engine finished the root stack before the program ran: resolve its exports here.
        for name, value in get_root_resource().outputs.items():
            monitor.stack_outputs[name] = _sync_await(pulumi.Output.from_input(value).future())
    except pulumi.RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    write_build(out_dir, monitor)
    if not quiet:
        print_tree(monitor)
        print(f"\n{len(monitor.registrations)} resources; outputs: {json.dumps(monitor.stack_outputs, sort_keys=True)}")
        print(f"wrote {out_dir}/resources.json and the rendered documents under {out_dir}/")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preview", description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack name: staging or prod")
    parser.add_argument("--config-file", type=Path, help="stack config (default Pulumi.<stack>.yaml)")
    parser.add_argument("--out", type=Path, help="output directory (default build/<stack>)")
    parser.add_argument("--quiet", action="store_true", help="do not print the resource tree")
    parser.add_argument(
        "--strict-secrets", action="store_true", help="fail on a missing secret as `pulumi preview` does (no placeholder)"
    )
    args = parser.parse_args(argv)
    config_file = args.config_file or ROOT / f"Pulumi.{args.stack}.yaml"
    out_dir = args.out or ROOT / "build" / args.stack
    return run(args.stack, config_file, out_dir, args.quiet, args.strict_secrets)


if __name__ == "__main__":
    sys.exit(main())
