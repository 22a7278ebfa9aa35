"""The catalog's policies as CrossGuard policies (pulumi_policy), without constructing the PolicyPack:
building the pack starts the policy server, which only `__main__.py` does."""

from __future__ import annotations

from typing import Any, Mapping

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.catalog import DEFAULT_CONFIG, MANDATORY, RESOURCE_POLICIES, STACK_POLICIES, ResourcePolicy, StackPolicy
from policies.model import Resource, StackView, stack_name

LEVELS = {MANDATORY: EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}
_STRINGS = {"type": "array", "items": {"type": "string"}}
# Declared so that `pulumi preview --policy-pack-config` may set them; unset keys keep DEFAULT_CONFIG.
CONFIG_SCHEMA = PolicyConfigSchema({
    "production_stacks": _STRINGS, "allowed_service_types": _STRINGS, "bind_address": {"type": "string"},
    "published_services": _STRINGS, "auth_enabled": {"type": "boolean"}, "publish_trace_receivers": {"type": "boolean"},
    "exposed_services": _STRINGS, "secret_values": _STRINGS,
})


def _config(args_config: Mapping[str, Any] | None) -> dict[str, Any]:
    return {**DEFAULT_CONFIG, **(args_config or {})}


def _message(why: str, fix: str) -> str:
    return f"{why}. Fix: {fix}"


def resource_validator(policy: ResourcePolicy):
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for why in policy.validate(args.resource_type, args.props, _config(args.get_config())):
            report_violation(_message(why, policy.fix), args.urn)
    return validate


def stack_validator(policy: StackPolicy):
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        config = _config(args.get_config())
        resources = tuple(Resource(r.resource_type, r.name, r.props, r.urn, bool(r.opts.protect))
                          for r in args.resources)
        production = bool({stack_name(r.urn) for r in resources} & set(config["production_stacks"]))
        urns = {r.name: r.urn for r in resources}
        for name, why in policy.validate(StackView(resources, production, config)):
            report_violation(_message(f"{name}: {why}", policy.fix), urns.get(name))
    return validate


def policies() -> list:
    return [
        *(ResourceValidationPolicy(p.name, p.description, resource_validator(p), LEVELS[p.enforcement],
                                   config_schema=CONFIG_SCHEMA, remediation_steps=p.fix) for p in RESOURCE_POLICIES),
        *(StackValidationPolicy(p.name, p.description, stack_validator(p), LEVELS[p.enforcement],
                                config_schema=CONFIG_SCHEMA, remediation_steps=p.fix) for p in STACK_POLICIES),
    ]
