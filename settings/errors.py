"""Turn validation failures into one line per problem: key, bad value, what is allowed."""

from __future__ import annotations

import functools
import json
from typing import Any, Callable, Iterable, TypeVar

from pydantic import BaseModel, ValidationError

NAMESPACE = "monitoring"


class FieldProblem(ValueError):
    """A cross-field problem raised by a model validator, naming the field (dotted, relative to the
    model) and its value so the message points at the right key."""

    def __init__(self, field: str, value: Any, message: str):
        super().__init__(message)
        self.field = field
        self.value = value
        self.message = message


class FieldProblems(ValueError):
    """Every cross-field problem one model validator found, so that each is reported on its own line
    (a section with two problems shows both, not the first alone)."""

    def __init__(self, problems: Iterable[FieldProblem]):
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{problem.field} {problem.message}" for problem in self.problems))


Model = TypeVar("Model", bound=BaseModel)


def cross_field(check: Callable[[Model], Iterable[FieldProblem]]) -> Callable[[Model], Model]:
    """A model validator from a generator yielding each cross-field problem it finds: every check
    runs, and the problems are raised together (FieldProblems). Use under `@model_validator(mode="after")`."""

    @functools.wraps(check)
    def validate(self: Model) -> Model:
        if problems := list(check(self)):
            raise FieldProblems(problems)
        return self

    return validate


class SettingsError(Exception):
    """Invalid stack settings; `lines` holds one message per problem."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def config_key(path: tuple[Any, ...]) -> str:
    """`("prometheus", "retention")` -> `monitoring:prometheus.retention`; list indexes as `[0]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"{NAMESPACE}:{text}"


def show(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _model_at(model: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that owns the last element of `path`, to list its known keys."""
    current: Any = model
    for part in path:
        if isinstance(part, int) or current is None:
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            # A key of a mapping of models (e.g. rule_overrides.<alert>): the model stays the same.
            continue
        current = _inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


_REASONS = {
    "int_parsing": "is not a whole number",
    "int_type": "is not a whole number",
    "int_from_float": "is not a whole number",
    "float_parsing": "is not a number",
    "float_type": "is not a number",
    "bool_parsing": "is not true or false",
    "bool_type": "is not true or false",
    "string_type": "is not a string",
    "dict_type": "is not a mapping of keys to values",
    "model_type": "is not a mapping of settings",
    "model_attributes_type": "is not a mapping of settings",
    "list_type": "is not a list",
    "tuple_type": "is not a list",
    "finite_number": "is not a finite number",
    "missing": "is required",
}


def reason(error: dict[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "literal_error":
        return f"is not allowed; allowed: {ctx.get('expected')}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        limit = next(iter(ctx.values()), "?")
        return f"is out of range; must be {bound} {limit}"
    if kind in ("string_too_short", "too_short"):
        return "is too short"
    if kind in ("string_pattern_mismatch",):
        return f"does not match {ctx.get('pattern')}"
    return _REASONS.get(kind, error["msg"][0].lower() + error["msg"][1:])


def format_validation_error(model: type[BaseModel], exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        path = tuple(error["loc"])
        if path and path[-1] == "[key]":
            path = path[:-1]  # a bad mapping key: the line names the key itself
        key = config_key(path)
        problem = (error.get("ctx") or {}).get("error")
        if isinstance(problem, (FieldProblem, FieldProblems)):
            for each in problem.problems if isinstance(problem, FieldProblems) else (problem,):
                key = config_key(path + tuple(int(p) if p.isdigit() else p for p in each.field.split(".")))
                lines.append(f"{key}: {show(each.value)} {each.message}")
        elif error["type"] == "extra_forbidden":
            owner = _model_at(model, path[:-1])
            known = ", ".join(sorted(f.alias or n for n, f in owner.model_fields.items())) if owner else "see README"
            lines.append(f"{key}: unknown setting; known keys here: {known}")
        elif error["type"] == "missing":
            lines.append(f"{key}: is required")
        else:
            lines.append(f"{key}: {show(error.get('input'))} {reason(error)}")
    return lines
