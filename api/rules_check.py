"""Checking user alert rules as `promtool check rules` checks them, naming the line at fault.

Two ways in: a JSON body (one rule, `api.rules_store.AlertRuleBody`) and a Prometheus rule-group
file (YAML). A file is composed with PyYAML's node marks, so every problem names its line: a YAML
syntax error its own line, a rule problem the line of the offending rule or field. Then, where
`promtool` is available (the image copies it from the pinned prom/prometheus image), promtool itself
checks the candidate file in a temporary directory, with a timeout: it is the authority (the same
code Prometheus loads rules with), and its errors are mapped back to lines and fields. Without
promtool the expression is parsed with promql-parser instead. Every answer says which one ran.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from api.errors import ApiError
from api.rules_store import AlertRuleBody, RuleProblem, document, validate

PROMTOOL = "promtool"
PROMQL_PARSER = "promql-parser"
# The checks the API makes itself whichever checker runs: shape, the rule id, label names.
OWN_CHECKS = "the API's own checks"
# What a rule-group file's entries may hold: user rules are alerting rules, each its own group.
GROUP_KEYS = ("name", "rules")
RULE_KEYS = ("alert", "expr", "for", "labels", "annotations")
FIELD_OF_KEY = {"alert": "name", "expr": "expr", "for": "for"}
MAX_FILE_RULES = 100


class RuleFileError(ApiError):
    """422 naming the line (when known), the field, and the checker that refused it."""

    def __init__(self, line: int | None, where: str, message: str, checked_by: str):
        at = f"line {line}: " if line else ""
        super().__init__(422, "invalid_rule", f"{at}{where}: {message} (checked by {checked_by})")
        self.line = line


@dataclass
class LocatedRule:
    """One alerting rule of a file, with the line of each of its fields (`name`, `expr`, `for`,
    `labels.<key>`, `annotations.<key>`; `rule` for the entry itself)."""

    rule: AlertRuleBody
    group: str
    index: int
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, where: str) -> int:
        return self.lines.get(where, self.lines["rule"])


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _mapping(node: yaml.Node, where: str, checked_by: str) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise RuleFileError(_line(node), where, "must be a mapping", checked_by)
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode):
            raise RuleFileError(_line(key), where, "keys must be strings", checked_by)
        if key.value in seen:
            raise RuleFileError(_line(key), f"{where}.{key.value}",
                                f"mapping key already defined at line {seen[key.value]}", checked_by)
        seen[key.value] = _line(key)
    return node.value


def _scalar(node: yaml.Node, where: str, checked_by: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        raise RuleFileError(_line(node), where, "must be a string", checked_by)
    return node.value


def _syntax(error: yaml.MarkedYAMLError) -> tuple[int | None, str, str]:
    """(line, "yaml", message) of a syntax error: the line where the problem was found, or where the
    unfinished construct began when the file ended inside it."""
    problem, context = error.problem_mark, error.context_mark
    message = error.problem or "not YAML"
    line = problem.line + 1 if problem else None
    if context is not None and error.context:
        if problem is None or "end" in (error.problem or "") and "stream" in (error.problem or ""):
            line = context.line + 1
            message = f"{error.context}: {message}"
        elif context.line != problem.line:
            message = f"{message} ({error.context} at line {context.line + 1})"
        else:
            message = f"{error.context}: {message}"
    return line, "yaml", message


def parse_rule_file(text: str, checked_by: str) -> list[LocatedRule]:
    """The alerting rules of a rule-group file, each with its lines; RuleFileError at the first
    problem of syntax or shape (not yet the rules' own checks: see `check_file`)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        raise RuleFileError(*_syntax(error), checked_by)
    except yaml.YAMLError as error:
        raise RuleFileError(None, "yaml", str(error).splitlines()[0], checked_by)
    if root is None:
        raise RuleFileError(None, "groups", "the file is empty", checked_by)
    top = dict((key.value, (key, value)) for key, value in _mapping(root, "file", checked_by))
    for name, (key, _) in top.items():
        if name != "groups":
            raise RuleFileError(_line(key), name, "unknown field (a rule file holds `groups`)", checked_by)
    if "groups" not in top:
        raise RuleFileError(_line(root), "groups", "is missing", checked_by)
    groups = top["groups"][1]
    if not isinstance(groups, yaml.SequenceNode):
        raise RuleFileError(_line(groups), "groups", "must be a list", checked_by)
    located: list[LocatedRule] = []
    group_lines: dict[str, int] = {}
    alert_lines: dict[str, int] = {}
    for g, group in enumerate(groups.value):
        where = f"groups[{g}]"
        entries = {key.value: (key, value) for key, value in _mapping(group, where, checked_by)}
        for name, (key, _) in entries.items():
            if name not in GROUP_KEYS:
                raise RuleFileError(_line(key), f"{where}.{name}",
                                    "not supported for user rules (each user rule is evaluated as its own group)", checked_by)
        if "name" not in entries:
            raise RuleFileError(_line(group), f"{where}.name", "is missing", checked_by)
        group_name = _scalar(entries["name"][1], f"{where}.name", checked_by)
        if group_name in group_lines:
            raise RuleFileError(_line(entries["name"][1]), f"{where}.name",
                                f"group name {group_name!r} is repeated (first at line {group_lines[group_name]})", checked_by)
        group_lines[group_name] = _line(entries["name"][1])
        rules = entries.get("rules", (None, None))[1]
        if not isinstance(rules, yaml.SequenceNode):
            raise RuleFileError(_line(rules or group), f"{where}.rules", "must be a list of rules", checked_by)
        for r, node in enumerate(rules.value):
            at = f"{where}.rules[{r}]"
            fields = {key.value: (key, value) for key, value in _mapping(node, at, checked_by)}
            lines = {"rule": _line(node)}
            for name, (key, value) in fields.items():
                if name == "record":
                    raise RuleFileError(_line(key), f"{at}.record", "user rules are alerting rules (`alert:`)", checked_by)
                if name not in RULE_KEYS:
                    raise RuleFileError(_line(key), f"{at}.{name}", f"unknown field (one of {', '.join(RULE_KEYS)})", checked_by)
                if name in FIELD_OF_KEY:
                    lines[FIELD_OF_KEY[name]] = _line(value)
            for required in ("alert", "expr"):
                if required not in fields:
                    raise RuleFileError(lines["rule"], f"{at}.{required}", "is missing", checked_by)
            values = {name: _scalar(value, f"{at}.{name}", checked_by)
                      for name, (_, value) in fields.items() if name in FIELD_OF_KEY}
            named: dict[str, dict[str, str]] = {}
            for kind in ("labels", "annotations"):
                named[kind] = {}
                if kind not in fields:
                    continue
                for key, value in _mapping(fields[kind][1], f"{at}.{kind}", checked_by):
                    lines[f"{kind}.{key.value}"] = _line(key)
                    named[kind][key.value] = _scalar(value, f"{at}.{kind}.{key.value}", checked_by)
            try:
                rule = AlertRuleBody(name=values["alert"], expr=values["expr"], **{"for": values.get("for", "0s")},
                                     labels=named["labels"], annotations=named["annotations"])
            except ValidationError as error:
                problem = error.errors()[0]
                key = str(problem["loc"][0]) if problem["loc"] else "rule"
                key = {"for_": "for"}.get(key, key)
                raise RuleFileError(lines.get(key, lines["rule"]), f"{at}.{'alert' if key == 'name' else key}",
                                    problem["msg"], checked_by)
            if rule.name in alert_lines:
                raise RuleFileError(lines["name"], f"{at}.alert",
                                    f"alert {rule.name!r} is repeated (first at line {alert_lines[rule.name]}); "
                                    "each user rule's name is its id", checked_by)
            alert_lines[rule.name] = lines["name"]
            located.append(LocatedRule(rule, group_name, r, lines))
    if not located:
        raise RuleFileError(_line(groups), "groups", "holds no alerting rule", checked_by)
    if len(located) > MAX_FILE_RULES:
        raise RuleFileError(None, "groups", f"at most {MAX_FILE_RULES} rules a file", checked_by)
    return located


def _yaml_key(where: str) -> str:
    """`name` is `alert` in a file."""
    return "alert" if where == "name" else where


# --- promtool -----------------------------------------------------------------------------------

_AT_LINE = re.compile(r"^(?:yaml: )?line (\d+): (.*)$")
_POSITION = re.compile(r"^(\d+):(\d+): (.*)$")
_RULE = re.compile(r'^group "(.*)", rule (\d+), "(.*?)": (.*)$')
_LABEL = re.compile(r"invalid label name: (\S+)|label name \"?([^\"\s]+)")
_ANNOTATION = re.compile(r'annotation "([^"]+)"|invalid annotation name: (\S+)')
_QUOTED = re.compile(r'"([^"]*)"')


@dataclass(frozen=True)
class PromtoolProblem:
    line: int | None
    message: str


def run_promtool(promtool: str, text: str, timeout: float) -> list[PromtoolProblem]:
    """`promtool check rules` on `text` as a file in a temporary directory: [] when it passes, else
    each error it printed with its line where it names one. 503 when promtool cannot run or is too slow:
    an unchecked rule is never written."""
    with tempfile.TemporaryDirectory(prefix="rules-check-") as directory:
        path = Path(directory) / "candidate.yml"
        path.write_text(text)
        try:
            done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True,
                                  timeout=timeout, cwd=directory)
        except subprocess.TimeoutExpired:
            raise ApiError(503, "rule_check_unavailable", f"promtool check rules took over {timeout:g}s; nothing written")
        except OSError as error:
            raise ApiError(503, "rule_check_unavailable", f"promtool could not run ({error.strerror}); nothing written")
    if done.returncode == 0:
        return []
    problems: list[PromtoolProblem] = []
    for raw in (done.stderr + "\n" + done.stdout).splitlines():
        line = raw.strip()
        if not line or line.startswith(("Checking ", "FAILED", "SUCCESS")):
            continue
        line = line.removeprefix(f"{path}: ").removeprefix(f"{path}:")
        if line == "yaml: unmarshal errors:":
            continue
        number = None
        if found := _POSITION.match(line):
            number, line = int(found.group(1)), found.group(3)
        elif found := _AT_LINE.match(line):
            number, line = int(found.group(1)), found.group(2)
        problem = PromtoolProblem(number, line)
        if problem not in problems:
            problems.append(problem)
    if not problems:
        # Never a silent pass: promtool failed without saying why.
        problems.append(PromtoolProblem(None, f"promtool check rules failed (exit {done.returncode})"))
    return problems


def _locate(problem: PromtoolProblem, rules: list[LocatedRule]) -> tuple[int | None, str, str]:
    """(line, field, message) of a promtool error, from its own position or from the rule and field it names."""
    message = problem.message
    found = _RULE.match(message)
    if found is None:
        # A bare error (`not a valid duration string: "5x"`): the field holding the quoted value.
        if problem.line is None:
            for value in _QUOTED.findall(message):
                for located in rules:
                    for where, text in (("for", located.rule.for_), ("expr", located.rule.expr), ("name", located.rule.name)):
                        if text == value:
                            return located.line_of(where), f"{located.rule.name}.{_yaml_key(where)}", message
        return problem.line, "rules", message
    group, index, _, detail = found.group(1), int(found.group(2)) - 1, found.group(3), found.group(4)
    located = next((r for r in rules if r.group == group and r.index == index), None)
    if located is None:
        return problem.line, f'group "{group}", rule {index + 1}', detail
    where = "rule"
    if detail.startswith("could not parse expression"):
        where = "expr"
    elif label := _LABEL.search(detail):
        where = f"labels.{label.group(1) or label.group(2)}"
    elif annotation := _ANNOTATION.search(detail):
        where = f"annotations.{annotation.group(1) or annotation.group(2)}"
    line = problem.line if problem.line is not None else located.line_of(where)
    return line, f"{located.rule.name}.{_yaml_key(where) if where != 'rule' else 'rule'}", detail


# --- The checks -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleChecker:
    """`promtool`: its path, or None for promql-parser only."""

    promtool: str | None = None
    timeout: float = 10.0

    @property
    def name(self) -> str:
        return PROMTOOL if self.promtool else PROMQL_PARSER

    def _own(self, rule: AlertRuleBody) -> None:
        """The API's own checks, and (without promtool) promql-parser's and the approximations of rulefmt's."""
        validate(rule, by_promtool=self.promtool is not None)

    def _by(self, problem: RuleProblem) -> str:
        if self.promtool is None:
            return PROMQL_PARSER if problem.field == "expr" else OWN_CHECKS
        return OWN_CHECKS

    def check_body(self, rule: AlertRuleBody) -> str:
        """A JSON rule: RuleProblem naming the field; the checker's name when it passes."""
        try:
            self._own(rule)
        except RuleProblem as problem:
            raise RuleProblem(problem.field, f"{problem.reason} (checked by {self._by(problem)})")
        if self.promtool:
            text = yaml.safe_dump(document(rule), sort_keys=True)
            located = parse_rule_file(text, OWN_CHECKS)
            problems = run_promtool(self.promtool, text, self.timeout)
            if problems:
                _, where, message = _locate(problems[0], located)
                field_name = where.split(".", 1)[1] if "." in where else where
                raise RuleProblem("name" if field_name == "alert" else field_name, f"{message} (checked by {self.name})")
        return self.name

    def check_file(self, text: str) -> tuple[list[AlertRuleBody], str]:
        """A rule-group file: its rules and the checker's name; RuleFileError naming the line at fault."""
        located = parse_rule_file(text, OWN_CHECKS)
        for entry in located:
            try:
                self._own(entry.rule)
            except RuleProblem as problem:
                where = problem.field
                raise RuleFileError(entry.line_of(where), f"{entry.rule.name}.{_yaml_key(where)}", problem.reason,
                                    self._by(problem))
        if self.promtool:
            problems = run_promtool(self.promtool, text, self.timeout)
            if problems:
                line, where, message = _locate(problems[0], located)
                more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
                raise RuleFileError(line, where, message + more, self.name)
        return [entry.rule for entry in located], self.name
