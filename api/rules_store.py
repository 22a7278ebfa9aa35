"""User alert rules: one rule group a file in the user rules directory (which Prometheus' rule_files
globs, beside, never inside, the directory of the rules this program renders). Each rule is checked
as `promtool check rules` checks it (Prometheus' rulefmt validation: the expression parses, label
and annotation names are valid, `for` is a duration, annotation templates are balanced) before it is
written, and written atomically so Prometheus never reads half a file."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path
from typing import Callable, TypeVar

import yaml
from pydantic import BaseModel, Field

from api.errors import ApiError

RULE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Prometheus' model.ParseDuration units, largest first, each at most once.
DURATION = re.compile(r"^(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?$")
GROUP_PREFIX = "user:"
MAX_RULES = 500
T = TypeVar("T")


class AlertRuleBody(BaseModel):
    """A user alert rule, the fields of a Prometheus alerting rule."""

    name: str = Field(..., description="The alert name; also the rule's id", examples=["CheckoutErrorsHigh"])
    expr: str = Field(..., min_length=1, max_length=4096, examples=['rate(http_requests_total{code=~"5.."}[5m]) > 1'])
    for_: str = Field("0s", alias="for", max_length=20, description="How long the condition holds before it fires")
    labels: dict[str, str] = Field(default_factory=dict, max_length=32)
    annotations: dict[str, str] = Field(default_factory=dict, max_length=32)
    model_config = {"populate_by_name": True, "extra": "forbid"}


class RuleProblem(ApiError):
    def __init__(self, field: str, message: str):
        super().__init__(422, "invalid_rule", f"{field}: {message}")
        self.field, self.reason = field, message


def validate(rule: AlertRuleBody, by_promtool: bool = False) -> None:
    """rulefmt's checks on one alerting rule, and the API's own (the rule id, label names of the
    classic character set, no `__` or `alertname` label); the first problem, naming its field.
    `by_promtool`: leave the expression, `for` and templates to promtool (api/rules_check.py), which
    parses them with Prometheus' own code; otherwise promql-parser and these approximations check them."""
    if not RULE_ID.match(rule.name):
        raise RuleProblem("name", f"{rule.name[:80]!r} must be a letter then letters, digits or _ (at most 100)")
    if not by_promtool:
        import promql_parser

        try:
            promql_parser.parse(rule.expr)
        except ValueError as error:
            raise RuleProblem("expr", f"does not parse: {error}")
        if not rule.for_ or not DURATION.match(rule.for_):
            raise RuleProblem("for", f"{rule.for_!r} is not a duration like 5m, 1h30m or 0s")
    for kind, names in (("labels", rule.labels), ("annotations", rule.annotations)):
        for key, value in names.items():
            if not LABEL_NAME.match(key) or key.startswith("__"):
                raise RuleProblem(f"{kind}.{key[:80]}", "is not a valid name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)")
            if len(value) > 4096:
                raise RuleProblem(f"{kind}.{key}", "is longer than 4096 characters")
            if not by_promtool and value.count("{{") != value.count("}}"):
                raise RuleProblem(f"{kind}.{key}", "has unbalanced template delimiters {{ }}")
    if "alertname" in rule.labels:
        raise RuleProblem("labels.alertname", "is set from the rule's name")


def document(rule: AlertRuleBody) -> dict:
    entry = {"alert": rule.name, "expr": rule.expr, "for": rule.for_}
    if rule.labels:
        entry["labels"] = dict(rule.labels)
    if rule.annotations:
        entry["annotations"] = dict(rule.annotations)
    return {"groups": [{"name": f"{GROUP_PREFIX}{rule.name}", "rules": [entry]}]}


def rule_text(rule: AlertRuleBody) -> str:
    """One user rule as the file Prometheus reads: its own group, `user:<name>`."""
    return yaml.safe_dump(document(rule), sort_keys=True)


def rule_from_text(text: str) -> AlertRuleBody:
    entry = yaml.safe_load(text)["groups"][0]["rules"][0]
    return AlertRuleBody(name=entry["alert"], expr=entry["expr"], **{"for": entry.get("for", "0s")},
                         labels=entry.get("labels", {}), annotations=entry.get("annotations", {}))


def file_name(rule_id: str) -> str:
    return f"user-{rule_id}.yml"


def rule_id_of(name: str) -> str | None:
    """The rule id of a user rule file (`user-<id>.yml`), None for any other file or key."""
    if not (name.startswith("user-") and name.endswith(".yml")):
        return None
    rule_id = name[len("user-"):-len(".yml")]
    return rule_id if RULE_ID.match(rule_id) else None


# --- Changes, pure functions of the stored rules ({id: file text}) ----------------------------------

def _room(rules: dict[str, str], adding: int) -> None:
    if len(rules) + adding > MAX_RULES:
        raise ApiError(409, "too_many_rules", f"at most {MAX_RULES} user rules")


def create(rule: AlertRuleBody) -> Callable[[dict[str, str]], None]:
    def change(rules: dict[str, str]) -> None:
        if rule.name in rules:
            raise ApiError(409, "conflict", f"user rule {rule.name} exists: PUT /monitoring/alerts/rules/{rule.name} changes it")
        _room(rules, 1)
        rules[rule.name] = rule_text(rule)
    return change


def replace(rule: AlertRuleBody) -> Callable[[dict[str, str]], None]:
    def change(rules: dict[str, str]) -> None:
        if rule.name not in rules:
            raise ApiError(404, "not_found", f"no user rule {rule.name} (only user rules can be changed here)")
        rules[rule.name] = rule_text(rule)
    return change


def upsert(many: list[AlertRuleBody]) -> Callable[[dict[str, str]], tuple[list[str], list[str]]]:
    """Every rule of a file written, created or replaced: (created ids, replaced ids)."""
    def change(rules: dict[str, str]) -> tuple[list[str], list[str]]:
        created = [rule.name for rule in many if rule.name not in rules]
        _room(rules, len(created))
        replaced = [rule.name for rule in many if rule.name in rules]
        for rule in many:
            rules[rule.name] = rule_text(rule)
        return created, replaced
    return change


def remove(rule_id: str) -> Callable[[dict[str, str]], None]:
    def change(rules: dict[str, str]) -> None:
        if rule_id not in rules:
            raise ApiError(404, "not_found", f"no user rule {rule_id}")
        del rules[rule_id]
    return change


class RulesStore:
    """The user rules as files of a directory Prometheus globs (one Docker host). Changes take
    effect when the API asks Prometheus to reload (`propagation_seconds` None: at once)."""

    propagation_seconds: int | None = None

    def __init__(self, directory: Path | None):
        self.directory = directory
        self._lock = asyncio.Lock()

    def _dir(self) -> Path:
        if self.directory is None:
            raise ApiError(503, "rules_not_configured", "no user rules directory is configured (--rules-dir)")
        return self.directory

    def path(self, rule_id: str) -> Path:
        if not RULE_ID.match(rule_id):
            raise ApiError(404, "not_found", "no such user rule")
        return self._dir() / file_name(rule_id)

    def ids(self) -> list[str]:
        return sorted(i for p in self._dir().glob("user-*.yml") if (i := rule_id_of(p.name)))

    def exists(self, rule_id: str) -> bool:
        return self.path(rule_id).is_file()

    def read(self, rule_id: str) -> AlertRuleBody:
        return rule_from_text(self.path(rule_id).read_text())

    def _write_text(self, rule_id: str, text: str) -> None:
        handle, temporary = tempfile.mkstemp(dir=self._dir(), prefix=".user-", suffix=".tmp")
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, self.path(rule_id))

    def write(self, rule: AlertRuleBody) -> None:
        # Checked in full before (api/rules_check.py); here only what keeps the store's own shape.
        validate(rule, by_promtool=True)
        if not self.exists(rule.name) and len(self.ids()) >= MAX_RULES:
            raise ApiError(409, "too_many_rules", f"at most {MAX_RULES} user rules")
        self._write_text(rule.name, rule_text(rule))

    def delete(self, rule_id: str) -> None:
        path = self.path(rule_id)
        if not path.is_file():
            raise ApiError(404, "not_found", f"no user rule {rule_id}")
        path.unlink()

    async def change(self, mutate: Callable[[dict[str, str]], T]) -> T:
        """`mutate` applied to the stored rules, each changed file replaced atomically (Prometheus
        never reads half a file); one change at a time."""
        async with self._lock:
            current = {rule_id: self.path(rule_id).read_text() for rule_id in self.ids()}
            wanted = dict(current)
            result = mutate(wanted)
            for rule_id in current.keys() - wanted.keys():
                self.path(rule_id).unlink()
            for rule_id, text in wanted.items():
                if current.get(rule_id) != text:
                    self._write_text(rule_id, text)
            return result

    async def close(self) -> None:
        return None
