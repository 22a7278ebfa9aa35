"""`promtool test rules` over every rule module: each alert fires with its labels and annotations on
data that should trigger it, and stays silent on data that should not."""

from __future__ import annotations

import pytest
import yaml

from rules import ALWAYS_FIRING, render_rule_files, render_rule_tests, rule_modules
from rules.common import RuleContext
from settings import parse_settings
from tests.rules.support import ALL_ON, all_on_settings, promtool, write_documents

SETTINGS = all_on_settings()
TESTS = render_rule_tests(SETTINGS)


def _run(tmp_path, domain: str, rule_files: dict, tests: dict):
    write_documents(tmp_path, rule_files)
    write_documents(tmp_path, tests)
    return promtool("test", "rules", f"{domain}.test.yml", cwd=tmp_path)


@pytest.mark.parametrize("test_file", sorted(TESTS))
def test_promtool_unit_tests_pass(test_file, tmp_path):
    domain = test_file.removesuffix(".test.yml")
    result = _run(tmp_path, domain, render_rule_files(SETTINGS), {test_file: TESTS[test_file]})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize("domain", ["targets", "stack"])
def test_the_log_collector_a_stack_runs_is_the_one_watched(tmp_path, domain):
    """With Alloy as the collector, Alloy (not Promtail) gets target and health alerts, and their
    cases pass."""
    settings = parse_settings({**ALL_ON, "logs": {"collector": "alloy"}}, "test")
    rule_files = render_rule_files(settings)
    alerts = {rule.get("alert") for group in rule_files[f"{domain}.yml"]["groups"] for rule in group["rules"]}
    expected = {"targets": {"AlloyTargetDown", "AlloyTargetAbsent"},
                "stack": {"AlloyDroppingEntries", "AlloyConfigLoadFailed", "AlloyComponentsUnhealthy"}}[domain]
    assert expected <= alerts
    assert not {name for name in alerts if name and name.startswith("Promtail")}
    tests = render_rule_tests(settings)
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
    alerts = {alert.name for module in rule_modules(RuleContext.from_settings(SETTINGS)) for alert in module.alerts}
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
