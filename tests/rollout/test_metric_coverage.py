"""Every metric a rule or a dashboard reads exists: it is a sample name of a contract (an exporter,
one of the stack's own services, or a series Prometheus synthesises) or the output of a recording
rule of the same stack. Expressions are parsed with promql-parser, not searched as text, so a name
in a label value or a comment cannot pass for a metric, and `{__name__=~"..."}` selectors are
resolved against the known names (a regex that matches nothing is a violation too).

Loki ruler rules (logs/rules.py) are LogQL and dashboard targets on the Loki data source too: both
are left out here. Prometheus template variables are included: `label_values(<selector>, label)`
and `query_result(<expr>)` read metrics too (a wrong name leaves the drop-down empty)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Iterator

import promql_parser
import pytest
import re2

from dashboards import render_dashboards
from dashboards.common import PROMETHEUS_UID
from exporters.contracts import (
    CONTRACTS,
    GENERATED,
    SERVICE_CONTRACTS,
    SYNTHESISED,
    known_metric_names,
    sample_names,
)
from rules import render_rule_files
from settings.model import StackSettings
from tests.conftest import STACKS, stack_settings
from tests.dashboards.queries import queries, substitute


# Grafana's Prometheus variable queries that select metrics; `label_values(label)`, `label_names()`
# and `metrics(regex)` select none.
VARIABLE_QUERY = re.compile(
    r"\s*(?:label_values\((?P<selector>.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)|query_result\((?P<expr>.+)\))\s*", re.S
)


@dataclass(frozen=True)
class Expression:
    where: str
    expr: str
    is_recording_rule: bool = False


@dataclass(frozen=True)
class Selected:
    """What one expression selects: metric names given exactly, and `__name__` regexes."""

    names: frozenset[str]
    patterns: frozenset[str]


def selected(expr: str) -> Selected:
    """Names from selector names and `__name__` equality matchers (in `or` groups too), and the
    `__name__=~` regexes; negative `__name__` matchers name no metric and are not collected."""
    names: set[str] = set()
    patterns: set[str] = set()

    def visit(node: object) -> None:
        if not isinstance(node, promql_parser.VectorSelector):
            return
        if node.name:
            names.add(node.name)
        groups = [node.matchers.matchers, *node.matchers.or_matchers]
        for matcher in (m for group in groups for m in group if m.name == "__name__"):
            if matcher.op == promql_parser.MatchOp.Equal:
                names.add(matcher.value)
            elif matcher.op == promql_parser.MatchOp.Re:
                patterns.add(matcher.value)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return Selected(frozenset(names), frozenset(patterns))


def recorded_names(settings: StackSettings) -> frozenset[str]:
    return frozenset(
        rule["record"]
        for document in render_rule_files(settings).values()
        for group in document["groups"]
        for rule in group["rules"]
        if "record" in rule
    )


def rule_expressions(stack: str, settings: StackSettings) -> Iterator[Expression]:
    for file_name, document in sorted(render_rule_files(settings).items()):
        for group in document["groups"]:
            for rule in group["rules"]:
                kind, name = ("record", rule["record"]) if "record" in rule else ("alert", rule["alert"])
                where = f"{stack} rule file {file_name}, group {group['name']}, {kind} {name}"
                yield Expression(where, rule["expr"], is_recording_rule=kind == "record")


def dashboard_expressions(stack: str, settings: StackSettings) -> Iterator[Expression]:
    for uid, model in sorted(render_dashboards(settings).items()):
        for query in queries(model):
            if query.datasource != PROMETHEUS_UID:
                continue
            where = f"{stack} dashboard {uid}, panel {query.panel_id} {query.title!r}, target {query.ref_id}"
            yield Expression(where, substitute(query.expr, settings))


def variable_expressions(stack: str, settings: StackSettings) -> Iterator[Expression]:
    for uid, model in sorted(render_dashboards(settings).items()):
        for variable in model.get("templating", {}).get("list", []):
            datasource = variable.get("datasource") or {}
            query = variable.get("query")
            if variable.get("type") != "query" or datasource.get("uid") != PROMETHEUS_UID:
                continue
            text = query.get("query", "") if isinstance(query, dict) else query
            match = VARIABLE_QUERY.fullmatch(text or "")
            if match:
                where = f"{stack} dashboard {uid}, variable {variable['name']}"
                yield Expression(where, substitute(match.group("selector") or match.group("expr"), settings))


def violations(expressions: Iterable[Expression], known: frozenset[str]) -> list[str]:
    """One line per unknown name, listing every expression that uses it; then one line per
    `__name__` regex that matches no known name, and per expression that does not parse."""
    unknown: dict[str, list[str]] = defaultdict(list)
    problems: list[str] = []
    for expression in expressions:
        try:
            found = selected(expression.expr)
        except ValueError as error:
            problems.append(f"{expression.where}: does not parse as PromQL ({error}): {expression.expr}")
            continue
        for name in sorted(found.names - known):
            unknown[name].append(expression.where)
        for pattern in sorted(found.patterns):
            regex = re2.compile(pattern)
            if not any(regex.fullmatch(name) for name in known):
                problems.append(f'{expression.where}: __name__=~"{pattern}" matches no known metric')
    lines = [f"{name} — used by: {'; '.join(uses)}" for name, uses in sorted(unknown.items())]
    return lines + problems


def known_names(settings: StackSettings) -> frozenset[str]:
    return known_metric_names() | recorded_names(settings)


def all_expressions(stack: str) -> list[Expression]:
    settings = stack_settings(stack)
    return [
        *rule_expressions(stack, settings),
        *dashboard_expressions(stack, settings),
        *variable_expressions(stack, settings),
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_every_metric_of_rules_and_dashboards_is_in_a_contract_or_recorded(stack: str) -> None:
    expressions = all_expressions(stack)
    for kind in ("rule file", "panel", "variable"):
        assert any(f" {kind} " in e.where for e in expressions), f"no {kind} expression found"
    problems = violations(expressions, known_names(stack_settings(stack)))
    assert not problems, "metrics read by rules or dashboards but in no contract and no recording rule:\n" + "\n".join(problems)


@pytest.mark.parametrize("stack", STACKS)
def test_recording_rules_read_only_contract_metrics_or_other_recordings(stack: str) -> None:
    settings = stack_settings(stack)
    recording = [e for e in rule_expressions(stack, settings) if e.is_recording_rule]
    assert recording, "the stack renders no recording rule"
    problems = violations(recording, known_names(settings))
    assert not problems, "recording rules reading unknown metrics:\n" + "\n".join(problems)


@pytest.mark.parametrize("stack", STACKS)
def test_the_check_reaches_every_kind_of_known_name(stack: str) -> None:
    """The stack reads metrics of each kind, so an empty or wrong name set could not pass unseen."""
    settings = stack_settings(stack)
    used: set[str] = set()
    for expression in all_expressions(stack):
        used |= selected(expression.expr).names
    kinds = {
        "exporter contracts": {n for c in CONTRACTS.values() for f in c.families for n in sample_names(f)},
        "service contracts": {n for c in SERVICE_CONTRACTS.values() for f in c.families for n in sample_names(f)},
        "synthesised series": {n for f in SYNTHESISED.families for n in sample_names(f)},
        "series Tempo's generator writes": {n for f in GENERATED.families for n in sample_names(f)},
        "recording rules": set(recorded_names(settings)),
    }
    assert {kind for kind, names in kinds.items() if not used & names} == set()


def test_the_check_names_an_unknown_metric_and_where_it_is_used() -> None:
    known = frozenset({"up", "node_load1", "instance:node_load1:ratio"})
    fake = [
        Expression("fake panel A", 'rate(made_up_requests_total{env="x"}[5m]) / on() group_left up'),
        Expression("fake rule B", "max_over_time(made_up_requests_total[1h:1m]) > node_load1"),
        Expression("fake panel C", 'count({__name__="another_made_up_metric"}) + instance:node_load1:ratio'),
    ]
    assert violations(fake, known) == [
        "another_made_up_metric — used by: fake panel C",
        "made_up_requests_total — used by: fake panel A; fake rule B",
    ]


def test_the_check_resolves_name_regexes_against_known_names() -> None:
    known = frozenset({"up", "node_load1", "node_load5"})
    assert violations([Expression("ok", 'sum({__name__=~"node_load(1|5)"})')], known) == []
    assert violations([Expression("bad", '{__name__=~"node_load15?0", job="x"}')], known) == [
        'bad: __name__=~"node_load15?0" matches no known metric'
    ]
    # Prometheus anchors regexes: a prefix of a known name is not a match.
    assert violations([Expression("anchored", '{__name__=~"node_lo"}')], known) != []


def test_the_check_reports_an_expression_that_does_not_parse() -> None:
    [problem] = violations([Expression("broken", "rate(up[5m]")], frozenset({"up"}))
    assert problem.startswith("broken: does not parse as PromQL")


def test_selected_names_come_from_every_selector_form() -> None:
    found = selected(
        'sum by (job) (rate(a_total[5m])) / on() group_left max_over_time(b[1h:1m])'
        ' or {__name__="c"} or {__name__="d", x="1" or __name__="e"} or {__name__!="f", job="j"}'
        ' or {__name__=~"g|h"}'
    )
    assert found.names == {"a_total", "b", "c", "d", "e"}
    assert found.patterns == {"g|h"}
    # A label value that looks like a metric name is not a metric.
    assert selected('up{job="node_load1"}').names == {"up"}


def test_variable_queries_yield_their_selector() -> None:
    for query, expected in (
        ('label_values(up{exporter="node"}, instance)', 'up{exporter="node"}'),
        ("query_result(topk(5, sum by (job) (scrape_samples_scraped)))", "topk(5, sum by (job) (scrape_samples_scraped))"),
    ):
        match = VARIABLE_QUERY.fullmatch(query)
        assert match and (match.group("selector") or match.group("expr")) == expected
    assert VARIABLE_QUERY.fullmatch("label_values(env)") is None
    assert VARIABLE_QUERY.fullmatch("label_names()") is None
