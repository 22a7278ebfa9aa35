"""`promtool test rules` over every rule module: each alert fires with its labels and annotations on
data that should trigger it, and stays silent on data that should not. Expected severity, component
and dashboard come from the reviewed table (expected_alerts.yaml), not from the rules under test."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from rules import ALWAYS_FIRING, node, render_rule_files, rule_modules
from rules.common import RuleContext, stack_services
from rules.names import known_alert_names
from settings import parse_settings
from settings.alerting import DEFAULT_SLOS
from tests.rules.cases import promtool_tests, reviewed_alerts, with_changes
from tests.rules.support import ALL_ON, all_on_settings, promtool, write_documents

SETTINGS = all_on_settings()
REVIEWED = reviewed_alerts()
TESTS = promtool_tests(SETTINGS, REVIEWED)


def _run(tmp_path, domain: str, rule_files: dict, tests: dict):
    write_documents(tmp_path, rule_files)
    write_documents(tmp_path, tests)
    return promtool("test", "rules", f"{domain}.test.yml", cwd=tmp_path)


@pytest.mark.parametrize("test_file", sorted(TESTS))
def test_promtool_unit_tests_pass(test_file, tmp_path):
    domain = test_file.removesuffix(".test.yml")
    result = _run(tmp_path, domain, render_rule_files(SETTINGS), {test_file: TESTS[test_file]})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


COLLECTOR_ALERTS = {
    ("alloy", "targets"): {"AlloyTargetDown", "AlloyTargetAbsent"},
    ("alloy", "stack"): {"AlloyDroppingEntries", "AlloyConfigLoadFailed", "AlloyComponentsUnhealthy"},
    ("promtail", "targets"): {"PromtailTargetDown", "PromtailTargetAbsent"},
    ("promtail", "stack"): {"PromtailDroppingEntries"},
}


@pytest.mark.parametrize("collector, domain", sorted(COLLECTOR_ALERTS))
def test_the_log_collector_a_stack_runs_is_the_one_watched(tmp_path, collector, domain):
    """The collector a stack runs (Alloy by default, Promtail when chosen) gets target and health
    alerts, the other none, and their cases pass."""
    settings = parse_settings({**ALL_ON, "logs": {"collector": collector}}, "test")
    rule_files = render_rule_files(settings)
    alerts = {rule.get("alert") for group in rule_files[f"{domain}.yml"]["groups"] for rule in group["rules"]}
    expected = COLLECTOR_ALERTS[collector, domain]
    other = "Promtail" if collector == "alloy" else "Alloy"
    assert expected <= alerts
    assert not {name for name in alerts if name and name.startswith(other)}
    tests = promtool_tests(settings, REVIEWED)
    test_file = f"{domain}.test.yml"
    assert expected <= {entry["alertname"] for test in tests[test_file]["tests"] for entry in test["alert_rule_test"]}
    result = _run(tmp_path, domain, rule_files, {test_file: tests[test_file]})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_every_alert_has_a_firing_and_a_silent_case():
    missing = []
    for module in rule_modules(RuleContext.from_settings(SETTINGS)):
        for alert in module.alerts:
            fires = any(case.fires for case in alert.cases)
            silent = any(not case.fires for case in alert.cases) or alert.name in ALWAYS_FIRING
            if not (fires and silent):
                missing.append(alert.name)
    assert not missing, f"alerts without both a firing and a silent case: {missing}"


def test_every_alert_is_exercised_by_a_test_file():
    tested = {
        entry["alertname"]
        for document in TESTS.values()
        for test in document["tests"]
        for entry in test["alert_rule_test"]
    }
    deployed = RuleContext.from_settings(SETTINGS, stack_services(SETTINGS))
    alerts = {alert.name for module in rule_modules(deployed) for alert in module.alerts}
    assert alerts == tested


def test_the_unit_tests_catch_a_wrong_threshold(tmp_path):
    """A rule file whose threshold drifted from its cases fails promtool: the cases really check."""
    drifted = all_on_settings(rule_overrides={"NodeHighCpuUtilisation": {"threshold": 0.99}})
    result = _run(tmp_path, "node", render_rule_files(drifted), {"node.test.yml": TESTS["node.test.yml"]})
    assert result.returncode != 0
    assert "NodeHighCpuUtilisation" in result.stdout + result.stderr


def test_the_unit_tests_catch_a_wrong_annotation(tmp_path):
    tests = yaml.safe_load(yaml.safe_dump(TESTS["gpu.test.yml"]))
    firing = next(t for t in tests["tests"] if t["alert_rule_test"][0]["exp_alerts"])
    firing["alert_rule_test"][0]["exp_alerts"][0]["exp_annotations"]["summary"] = "something else"
    result = _run(tmp_path, "gpu", render_rule_files(SETTINGS), {"gpu.test.yml": tests})
    assert result.returncode != 0


# --- Expectations independent of the rules under test ------------------------------------------


def test_the_reviewed_table_names_every_alert_and_no_other():
    """Mutation caught: an alert added to rules/ without a reviewed severity, or a reviewed line left
    behind for an alert that was renamed or removed."""
    known = known_alert_names(tuple(slo.name for slo in DEFAULT_SLOS))
    assert not known - set(REVIEWED), f"alerts missing from expected_alerts.yaml: {sorted(known - set(REVIEWED))}"
    assert not set(REVIEWED) - known, f"expected_alerts.yaml names no such alert: {sorted(set(REVIEWED) - known)}"


def test_an_alert_without_a_reviewed_line_is_refused():
    """The generator refuses an alert the table does not know rather than guessing its labels."""
    without_watchdog = {name: entry for name, entry in REVIEWED.items() if name != "Watchdog"}
    with pytest.raises(KeyError, match="Watchdog is not in expected_alerts.yaml"):
        promtool_tests(SETTINGS, without_watchdog)


def _changed_rule(build, name: str, **changes):
    """`build` of a rule module, with alert `name` changed as a careless edit of rules/ would."""

    def mutated(ctx, config):
        module = build(ctx, config)
        groups = tuple(
            dataclasses.replace(group, rules=tuple(
                dataclasses.replace(rule, **changes) if getattr(rule, "name", None) == name else rule for rule in group.rules
            ))
            for group in module.groups
        )
        return dataclasses.replace(module, groups=groups)

    return mutated


@pytest.mark.parametrize(
    ("changes", "shows"),
    [
        ({"severity": "warning"}, 'severity="warning"'),
        ({"labels": {"component": "storage"}}, 'component="storage"'),
        ({"dashboard": "stack-overview"}, "/d/stack-overview"),
    ],
    ids=["severity", "component", "dashboard"],
)
def test_a_rule_changed_in_rules_fails_its_own_cases(monkeypatch, tmp_path, changes, shows):
    """Mutations caught: NodeFilesystemAlmostOutOfSpace critical -> warning in rules/node.py (and
    its component or dashboard changed). The rule file and the cases are both generated from the
    changed rule set, as in a real run; before the reviewed table the expected labels came from the
    same rule, so this passed."""
    monkeypatch.setattr(node, "build", _changed_rule(node.build, "NodeFilesystemAlmostOutOfSpace", **changes))
    rule_files = render_rule_files(SETTINGS)
    result = _run(tmp_path, "node", rule_files, {"node.test.yml": promtool_tests(SETTINGS, REVIEWED)["node.test.yml"]})
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "NodeFilesystemAlmostOutOfSpace" in output and shows in output, output[-3000:]


def test_severity_and_label_overrides_are_checked_against_the_test_s_own_expectation(tmp_path):
    """An override of severity or labels is still unit-tested: the test states what it expects.
    Mutation caught: the renderer ignoring a severity or label override (the stale expectation
    would then pass and the stated one fail)."""
    name = "NodeFilesystemAlmostOutOfSpace"
    settings = all_on_settings(rule_overrides={name: {"severity": "warning", "labels": {"team": "storage"}}})
    rule_files = render_rule_files(settings)
    expected = with_changes(REVIEWED, name, severity="warning", team="storage")
    tests = promtool_tests(settings, expected)["node.test.yml"]
    assert {entry["alertname"] for test in tests["tests"] for entry in test["alert_rule_test"]} >= {name}
    as_overridden = _run(tmp_path / "overridden", "node", rule_files, {"node.test.yml": tests})
    assert as_overridden.returncode == 0, as_overridden.stdout[-3000:] + as_overridden.stderr[-2000:]
    as_default = _run(tmp_path / "default", "node", rule_files,
                      {"node.test.yml": promtool_tests(settings, REVIEWED)["node.test.yml"]})
    assert as_default.returncode != 0 and name in as_default.stdout + as_default.stderr
