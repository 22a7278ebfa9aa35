"""User alert rules: one rule group a file in the user rules directory (which Prometheus' rule_files
globs, beside, never inside, the directory of the rules this program renders). Each rule is checked
as `promtool check rules` checks it (Prometheus' rulefmt validation: the expression parses, label
and annotation names are valid, `for` is a duration, annotation templates are balanced) before it is
written, and written atomically so Prometheus never reads half a file."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from api.errors import ApiError

RULE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Prometheus' model.ParseDuration units, largest first, each at most once.
DURATION = re.compile(r"^(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?$")
GROUP_PREFIX = "user:"
MAX_RULES = 500


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


def validate(rule: AlertRuleBody) -> None:
    """rulefmt's checks on one alerting rule; the first problem, naming its field."""
    import promql_parser

    if not RULE_ID.match(rule.name):
        raise RuleProblem("name", f"{rule.name[:80]!r} must be a letter then letters, digits or _ (at most 100)")
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
            if value.count("{{") != value.count("}}"):
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


class RulesStore:
    def __init__(self, directory: Path | None):
        self.directory = directory

    def _dir(self) -> Path:
        if self.directory is None:
            raise ApiError(503, "rules_not_configured", "no user rules directory is configured (--rules-dir)")
        return self.directory

    def path(self, rule_id: str) -> Path:
        if not RULE_ID.match(rule_id):
            raise ApiError(404, "not_found", "no such user rule")
        return self._dir() / f"user-{rule_id}.yml"

    def ids(self) -> list[str]:
        return sorted(p.stem.removeprefix("user-") for p in self._dir().glob("user-*.yml"))

    def exists(self, rule_id: str) -> bool:
        return self.path(rule_id).is_file()

    def read(self, rule_id: str) -> AlertRuleBody:
        entry = yaml.safe_load(self.path(rule_id).read_text())["groups"][0]["rules"][0]
        return AlertRuleBody(name=entry["alert"], expr=entry["expr"], **{"for": entry.get("for", "0s")},
                             labels=entry.get("labels", {}), annotations=entry.get("annotations", {}))

    def write(self, rule: AlertRuleBody) -> None:
        validate(rule)
        target = self.path(rule.name)
        if not target.exists() and len(self.ids()) >= MAX_RULES:
            raise ApiError(409, "too_many_rules", f"at most {MAX_RULES} user rules")
        handle, temporary = tempfile.mkstemp(dir=self._dir(), prefix=".user-", suffix=".tmp")
        with os.fdopen(handle, "w") as out:
            yaml.safe_dump(document(rule), out, sort_keys=True)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)

    def delete(self, rule_id: str) -> None:
        path = self.path(rule_id)
        if not path.is_file():
            raise ApiError(404, "not_found", f"no user rule {rule_id}")
        path.unlink()
