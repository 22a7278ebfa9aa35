"""The settings model's keys, found by walking it: what the generators mutate.

Only keys inside sections that are always present (their default is a model, not None or a list)
are walked, so a mutation changes exactly one thing and never conjures a section with required keys.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from settings.model import StackSettings
from settings.types import _byte_size, _duration


@dataclass(frozen=True)
class Leaf:
    path: tuple[str, ...]
    field: FieldInfo

    @property
    def key(self) -> str:
        return ".".join(self.path)

    @property
    def container(self) -> type | None:
        """tuple or dict when the setting is a list or a mapping, else None."""
        annotation = self.field.annotation
        for candidate in (annotation, *typing.get_args(annotation)):
            origin = typing.get_origin(candidate)
            if origin in (tuple, list, dict):
                return dict if origin is dict else tuple
        return None

    @property
    def is_optional_section(self) -> bool:
        """An optional section (`receivers.slack`): unset by default, a mapping when set."""
        return any(isinstance(arg, type) and issubclass(arg, BaseModel) for arg in typing.get_args(self.field.annotation))

    def validators(self) -> set[typing.Callable]:
        found = set()
        for annotation in (self.field.annotation, *typing.get_args(self.field.annotation)):
            for item in [*self.field.metadata, *getattr(annotation, "__metadata__", ())]:
                if hasattr(item, "func"):
                    found.add(item.func)
        return found

    @property
    def is_duration(self) -> bool:
        return _duration in self.validators()

    @property
    def is_byte_size(self) -> bool:
        return _byte_size in self.validators()

    def bounds(self) -> list[object]:
        return [item for item in self.field.metadata if isinstance(item, (Ge, Gt, Le, Lt))]

    @property
    def is_int(self) -> bool:
        return self.field.annotation is int


def walk(model: type[BaseModel] = StackSettings, instance: BaseModel | None = None, prefix: tuple[str, ...] = ()):
    """(sections, leaves): every always-present section's path, and every key inside them."""
    sections: list[tuple[tuple[str, ...], type[BaseModel]]] = [(prefix, model)]
    leaves: list[Leaf] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        default = getattr(instance, name) if instance is not None else field.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            inner_sections, inner_leaves = walk(type(default), default, (*prefix, key))
            sections += inner_sections
            leaves += inner_leaves
        else:
            leaves.append(Leaf((*prefix, key), field))
    return sections, leaves


SECTIONS, LEAVES = walk()
DURATION_LEAVES = [leaf for leaf in LEAVES if leaf.is_duration]
SIZE_LEAVES = [leaf for leaf in LEAVES if leaf.is_byte_size]
BOUNDED_LEAVES = [leaf for leaf in LEAVES if leaf.bounds() and leaf.field.annotation in (int, float)]
