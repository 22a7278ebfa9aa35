"""The pack without the CLI: every policy over a saved preview (`build/<stack>/resources.json`)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from policies.catalog import DEFAULT_CONFIG, MANDATORY, RESOURCE_POLICIES, STACK_POLICIES
from policies.model import Resource, StackView, stack_name


@dataclass(frozen=True)
class Finding:
    policy: str
    enforcement: str
    resource: str
    why: str
    fix: str

    def __str__(self) -> str:
        return f"[{self.enforcement}] {self.policy}: {self.resource}: {self.why}\n    fix: {self.fix}"


def load(resources_json: Path) -> list[Resource]:
    document = json.loads(Path(resources_json).read_text())
    return [Resource(r["type"], r["name"], r.get("inputs") or {}, r.get("urn", ""), bool(r.get("protect")),
                     r.get("retain_on_delete")) for r in document["resources"]]


def check(resources: Iterable[Resource], config: Mapping[str, Any] | None = None) -> list[Finding]:
    config = {**DEFAULT_CONFIG, **(config or {})}
    resources = tuple(resources)
    stacks = {stack_name(r.urn) for r in resources if r.urn}
    view = StackView(resources, bool(stacks & set(config["production_stacks"])), config)
    findings = [Finding(policy.name, policy.enforcement, resource.name, why, policy.fix)
                for resource in resources for policy in RESOURCE_POLICIES
                for why in policy.validate(resource.type, resource.props, config)]
    findings += [Finding(policy.name, policy.enforcement, name, why, policy.fix)
                 for policy in STACK_POLICIES for name, why in policy.validate(view)]
    return findings


def settings_config(stack_file: Path) -> dict[str, Any]:
    """The pack's settings that follow from a stack's settings (Pulumi.<stack>.yaml): how it publishes."""
    from preview.__main__ import read_stack_config
    from settings import parse_settings
    from settings.loader import namespace_config
    from settings.secrets import SECRET_KEYS

    flat, _, _ = read_stack_config(stack_file)
    settings = parse_settings(namespace_config(flat, SECRET_KEYS), stack_file.stem.split(".", 1)[1])
    service_type = settings.kubernetes.service_type
    return {"allowed_service_types": [] if service_type == "ClusterIP" else [service_type],
            "bind_address": str(settings.exposure.bind_address),
            "published_services": list(settings.exposure.publish),
            "auth_enabled": settings.security.auth.enabled,
            "publish_trace_receivers": settings.runs_traces and settings.traces.publish_receivers}


def main(argv: list[str]) -> int:
    from preview.__main__ import PLACEHOLDER  # the offline preview's stand-in for every secret value

    parser = argparse.ArgumentParser(prog="python -m policies check", description=__doc__)
    parser.add_argument("resources_json", type=Path)
    parser.add_argument("--stack-settings", type=Path, metavar="PULUMI_STACK_YAML",
                        help="read how the stack publishes its services from its Pulumi.<stack>.yaml")
    parser.add_argument("--config", type=Path, help="a JSON file of policy settings (see policies/catalog.py)")
    args = parser.parse_args(argv)
    config = {"secret_values": [PLACEHOLDER],
              **(settings_config(args.stack_settings) if args.stack_settings else {}),
              **(json.loads(args.config.read_text()) if args.config else {})}
    findings = check(load(args.resources_json), config)
    for finding in findings:
        print(finding)
    mandatory = sum(f.enforcement == MANDATORY for f in findings)
    print(f"{args.resources_json}: {len(findings)} violation(s), {mandatory} mandatory "
          f"({len(RESOURCE_POLICIES) + len(STACK_POLICIES)} policies)")
    return 1 if mandatory else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
