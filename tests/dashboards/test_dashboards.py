"""Every dashboard builds into a Grafana model that is complete, consistent and queries only what
the stack records: contract metrics, the rendered recording rules and the stack's own metrics."""

from __future__ import annotations

import re
from itertools import combinations

import pytest

from dashboards import DASHBOARDS, render_dashboards
from dashboards.common import EMPTY_WHEN, LOKI_UID, PROMETHEUS_UID, PROVISIONED_DATASOURCES, REFRESH, no_value_text
from tests.conftest import STACKS, stack_settings
from tests.dashboards.queries import (
    allowed_names,
    metric_names,
    panels,
    queries,
    recorded_names,
    substitute,
)

import promql_parser

EXPECTED_UIDS = (
    "stack-overview",
    "node",
    "containers",
    "gpu",
    "llm-serving",
    "logs",
    "alerts-slos",
    "data-validation",
    "meta-monitoring",
    "capacity",
    "services",
    "profiling",
)
# Variables each dashboard must offer (env everywhere it selects exporter or log series).
REQUIRED_VARIABLES = {
    "stack-overview": {"env", "source"},
    "node": {"env", "source", "instance"},
    "containers": {"env", "source", "instance", "container"},
    "gpu": {"env", "source", "hostname", "gpu_model"},
    "llm-serving": {"env", "source", "instance", "model"},
    "logs": {"env", "service", "search"},
    "alerts-slos": {"env", "slo", "severity"},
    "data-validation": {"env", "source"},
    "meta-monitoring": {"job"},
    "capacity": {"env", "resource"},
    "services": {"env", "service"},
    "profiling": {"service"},
}
LOKI_LABELS = {"env", "service", "container", "stream", "level", "job", "namespace"}


@pytest.fixture(scope="module", params=STACKS)
def stack(request):
    settings = stack_settings(request.param)
    return settings, render_dashboards(settings)


def test_exactly_the_nine_dashboards_with_stable_uids(stack):
    _, models = stack
    assert tuple(models) == EXPECTED_UIDS
    assert [model["uid"] for model in models.values()] == list(EXPECTED_UIDS)
    assert tuple(DASHBOARDS) == EXPECTED_UIDS


def test_rendering_is_deterministic(stack):
    settings, models = stack
    assert render_dashboards(settings) == models


def test_refresh_links_annotations_and_descriptions(stack):
    _, models = stack
    for uid, model in models.items():
        assert model["refresh"] == REFRESH, uid
        assert model.get("description"), uid
        linked = {link["url"] for link in model["links"]}
        assert linked == {f"/d/{other}" for other in EXPECTED_UIDS if other != uid}, uid
        annotation_exprs = [a.get("expr", "") for a in model["annotations"]["list"]]
        assert any("ALERTS{" in expr for expr in annotation_exprs), f"{uid} has no alert annotation"
        for panel in panels(model):
            if panel["type"] != "row":
                assert panel.get("description"), f"{uid} panel {panel['title']!r} has no description"


def test_variables(stack):
    _, models = stack
    for uid, model in models.items():
        names = {variable["name"] for variable in model["templating"]["list"]}
        assert REQUIRED_VARIABLES[uid] <= names, f"{uid} lacks {REQUIRED_VARIABLES[uid] - names}"
        for variable in model["templating"]["list"]:
            if variable["type"] == "query":
                assert variable["datasource"]["uid"] in PROVISIONED_DATASOURCES, (uid, variable["name"])


def test_ids_ref_ids_and_datasources(stack):
    _, models = stack
    for uid, model in models.items():
        ids = [panel["id"] for panel in panels(model)]
        assert all(isinstance(i, int) for i in ids), uid
        assert len(ids) == len(set(ids)), f"{uid} repeats panel ids"
        for panel in panels(model):
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] in PROVISIONED_DATASOURCES, (uid, panel["title"])
            ref_ids = [target["refId"] for target in panel["targets"]]
            assert panel["targets"] and all(ref_ids), (uid, panel["title"])
            assert len(ref_ids) == len(set(ref_ids)), (uid, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == panel["datasource"]["uid"], (uid, panel["title"])
                expected_type = PROVISIONED_DATASOURCES[target["datasource"]["uid"]]
                assert target["datasource"]["type"] == expected_type, (uid, panel["title"])


def test_panels_do_not_overlap_and_fit_the_grid(stack):
    _, models = stack
    for uid, model in models.items():
        boxes = [(panel["title"], panel["gridPos"]) for panel in panels(model)]
        for title, box in boxes:
            assert box["x"] >= 0 and box["w"] > 0 and box["h"] > 0 and box["x"] + box["w"] <= 24, (uid, title)
        for (title_a, a), (title_b, b) in combinations(boxes, 2):
            apart = (
                a["x"] + a["w"] <= b["x"]
                or b["x"] + b["w"] <= a["x"]
                or a["y"] + a["h"] <= b["y"]
                or b["y"] + b["h"] <= a["y"]
            )
            assert apart, f"{uid}: {title_a!r} overlaps {title_b!r}"


def test_units_and_thresholds_on_every_data_panel(stack):
    _, models = stack
    for uid, model in models.items():
        for panel in panels(model):
            if panel["type"] in ("row", "logs"):
                continue
            defaults = panel["fieldConfig"]["defaults"]
            assert defaults.get("unit"), (uid, panel["title"])
            assert defaults.get("thresholds", {}).get("steps"), (uid, panel["title"])


def test_every_promql_expression_parses_and_uses_known_metrics(stack):
    settings, models = stack
    allowed = allowed_names(settings)
    unknown = []
    for model in models.values():
        for query in queries(model):
            if query.datasource != PROMETHEUS_UID:
                continue
            expr = substitute(query.expr, settings)
            promql_parser.parse(expr)
            for name in metric_names(expr):
                if name not in allowed:
                    unknown.append(f"{query.dashboard} / {query.title}: {name}")
    assert not unknown, "metrics neither in a contract nor a recording rule:\n" + "\n".join(unknown)


def test_dashboards_use_the_rendered_recording_rules(stack):
    """The recording rules the dashboards rely on are rendered for this stack (not a copied list)."""
    settings, models = stack
    recorded = recorded_names(settings)
    used = {
        name
        for model in models.values()
        for query in queries(model)
        if query.datasource == PROMETHEUS_UID
        for name in metric_names(substitute(query.expr, settings))
        if ":" in name and not name.startswith("vllm:")
    }
    assert used, "dashboards use no recording rule at all"
    assert used <= recorded, f"not recorded: {sorted(used - recorded)}"


def test_exporter_series_are_selected_by_exporter_never_by_job(stack):
    _, models = stack
    for model in models.values():
        for query in queries(model):
            if query.datasource != PROMETHEUS_UID:
                continue
            for selector in re.findall(r"\{[^{}]*\}", query.expr):
                if "exporter=" in selector:
                    assert "job=" not in selector and "job!=" not in selector, (query.dashboard, query.title)
                    if 'exporter="' in selector:
                        assert 'env=~"$env"' in selector, (query.dashboard, query.title, selector)


def test_logql_queries_are_well_formed(stack):
    """No Loki binary here: check the LogQL structurally — a stream selector over the pipeline's
    labels, balanced brackets and a range on every range aggregation."""
    _, models = stack
    for model in models.values():
        for query in queries(model):
            if query.datasource != LOKI_UID:
                continue
            expr = query.expr
            assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr
            selectors = re.findall(r"\{([^{}]*)\}", expr)
            assert selectors, expr
            for selector in selectors:
                matchers = re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', selector)
                assert matchers and {label for label, _, _ in matchers} <= LOKI_LABELS, selector
                assert any(not re.fullmatch(r"\.\*|", value.replace("$env", "x").replace("$service", "x")) for _, _, value in matchers)
            for function in re.findall(r"(count_over_time|rate|bytes_over_time)\(", expr):
                assert re.search(rf"{function}\(.*\[\$__auto\]\)", expr), expr


def test_empty_panels_say_when(stack):
    _, models = stack
    for model in models.values():
        for panel in panels(model):
            description = panel.get("description", "")
            if EMPTY_WHEN in description:
                assert re.search(re.escape(EMPTY_WHEN) + r"\S.+\.$", description), panel["title"]


def test_problem_only_panels_say_the_healthy_state_instead_of_no_data(stack):
    """Exactly the panels whose description says "Empty when ..." carry a no-value text, and it is
    that healthy state ("None: every target is up"); every other panel keeps Grafana's "No data",
    which then really means something is wrong.

    Mutations caught: a factory that drops `no_value` for its empty-when panels (text absent), a
    no-value text on an always-populated panel (would hide a broken exporter), a text that drifts
    from the description's sentence."""
    _, models = stack
    problem_only = 0
    for uid, model in models.items():
        for panel in panels(model):
            if panel["type"] == "row":
                continue
            description = panel.get("description", "")
            no_value = panel.get("fieldConfig", {}).get("defaults", {}).get("noValue")
            if EMPTY_WHEN in description:
                problem_only += 1
                healthy = description.split(EMPTY_WHEN, 1)[1].removesuffix(".")
                assert no_value == no_value_text(healthy), (uid, panel["title"], no_value)
            else:
                assert no_value is None, f"{uid} / {panel['title']} hides an empty result behind {no_value!r}"
    assert problem_only >= 12, f"only {problem_only} problem-only panels found"
