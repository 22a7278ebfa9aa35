"""The settings reference of the README, generated from the model so it cannot drift."""

from __future__ import annotations

import json
import typing
from enum import Enum
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from settings.model import StackSettings


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(names) + (" or unset" if type(None) in args else "")
    if origin in (tuple, list):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


def _default(value: Any) -> str:
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, tuple):
        value = list(value)
    try:
        text = json.dumps(value, default=str)
    except TypeError:
        text = str(value)
    # A `|` would end the Markdown table cell, even inside a code span.
    return f"`{text}`".replace("|", "\\|")


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _nested_model(arg)
        if found is not None and typing.get_origin(annotation) not in (dict, tuple, list):
            return found
    return None


# Defaults that are computed rather than fixed.
COMPUTED_DEFAULTS = {"environment": "the stack name", "name_prefix": "`monitoring-<environment>`"}


def rows(
    model: type[BaseModel] = StackSettings, prefix: str = "", instance: BaseModel | None = None
) -> list[tuple[str, str, str]]:
    """(key, type, default) of every setting; nested defaults come from the parent's default instance."""
    result = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        nested = _nested_model(field.annotation)
        if instance is not None:
            default = getattr(instance, name)
        else:
            default = field.default_factory() if field.default_factory else field.default
        if key in COMPUTED_DEFAULTS:
            result.append((key, _type_name(field.annotation), COMPUTED_DEFAULTS[key]))
        elif nested is not None and (isinstance(default, BaseModel) or default is None):
            if default is None:
                result.append((key, f"{_type_name(field.annotation)}", "unset"))
            result.extend(rows(nested, f"{key}.", default if isinstance(default, BaseModel) else None))
        else:
            result.append((key, _type_name(field.annotation), _default(default)))
    return result


def markdown_reference() -> str:
    lines = ["| key (`monitoring:` namespace) | type | default |", "|---|---|---|"]
    lines += [f"| `{key}` | {kind} | {default} |" for key, kind, default in rows()]
    return "\n".join(lines) + "\n"
