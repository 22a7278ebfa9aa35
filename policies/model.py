"""What every policy sees (one resource as Pulumi sends it) and what it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Resource:
    """One resource of a preview: its type token, name, inputs (camelCase) and the options that matter.

    `retain_on_delete` is None where it is not known (CrossGuard does not pass it to policies)."""

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    protect: bool = False
    retain_on_delete: bool | None = None


@dataclass(frozen=True)
class Violation:
    policy: str
    resource: str
    why: str
    fix: str


@dataclass(frozen=True)
class StackView:
    """All resources of one stack, and whether it is a production stack."""

    resources: tuple[Resource, ...]
    production: bool
    config: Mapping[str, Any] = field(default_factory=dict)

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]


def stack_name(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::...` -> `<stack>`."""
    parts = urn.split(":")
    return parts[2] if len(parts) > 2 else ""
