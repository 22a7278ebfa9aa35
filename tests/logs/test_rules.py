"""LogQL rules: annotations, runbook sections, and syntax sanity (no Loki binary is available here,
so selectors, pipelines and range aggregations are checked structurally)."""

from __future__ import annotations

import re
from pathlib import Path

import re2
import yaml

from logs.loki import loki_rule_files
from logs.rules import log_alerts, runbook_url
from tests.logs.conftest import settings_for

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbooks" / "logs.md"
RANGE_FUNCTIONS = {"rate", "count_over_time", "bytes_rate", "bytes_over_time", "sum_over_time", "avg_over_time"}
AGGREGATIONS = {"sum", "avg", "max", "min", "count", "topk"}
LINE_FILTERS = ("|=", "!=", "|~", "!~")


def rule_groups(stack: str) -> list[dict]:
    (content,) = loki_rule_files(settings_for(stack)).values()
    return yaml.safe_load(content)["groups"]


def runbook_sections() -> set[str]:
    return {
        re.sub(r"[^a-z0-9 -]", "", line[3:].strip().lower()).replace(" ", "-")
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("## ")
    }


def test_every_alert_is_annotated_and_has_a_runbook_section(stack):
    alerts = [rule for group in rule_groups(stack) for rule in group["rules"] if "alert" in rule]
    assert {a["alert"] for a in alerts} == {"LogErrorRateHigh", "LogPanicDetected", "LogOomKillDetected", "LogAuthFailuresRepeated"}
    sections = runbook_sections()
    for alert in alerts:
        assert alert["labels"]["severity"] in ("critical", "warning", "info")
        for annotation in ("summary", "description", "runbook_url"):
            assert alert["annotations"][annotation], (alert["alert"], annotation)
        anchor = alert["annotations"]["runbook_url"].split("#")[1]
        assert alert["annotations"]["runbook_url"] == f"docs/runbooks/logs.md#{alert['alert'].lower()}"
        assert anchor in sections, f"docs/runbooks/logs.md has no section for {alert['alert']}"


def test_runbook_sections_cover_meaning_impact_diagnosis_mitigation():
    text = RUNBOOK.read_text()
    for alert in log_alerts(settings_for("staging")):
        section = text.split(f"## {alert.name}\n", 1)[1].split("\n## ", 1)[0]
        for heading in ("Meaning", "Impact", "Diagnosis", "Mitigation"):
            assert f"### {heading}" in section, (alert.name, heading)


def test_runbook_base_url_prefixes_links():
    settings = settings_for("staging")
    settings = settings.model_copy(update={"alerting": settings.alerting.model_copy(update={"runbook_base_url": "https://runbooks.example.org"})})
    assert runbook_url(settings, "LogPanicDetected") == "https://runbooks.example.org/docs/runbooks/logs.md#logpanicdetected"


def _selectors(expr: str) -> list[str]:
    return re.findall(r"\{[^{}]*\}", re.sub(r"`[^`]*`", "``", expr))


def check_logql(expr: str, environment: str) -> None:
    """Balanced brackets, every selector scoped to env with valid matchers, every range vector inside
    a known range function, every line filter a valid RE2 expression."""
    stripped = re.sub(r"`[^`]*`", "``", expr)
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', stripped)
    depth = {"(": 0, "{": 0, "[": 0}
    closing = {")": "(", "}": "{", "]": "["}
    for char in stripped:
        if char in depth:
            depth[char] += 1
        elif char in closing:
            depth[closing[char]] -= 1
            assert depth[closing[char]] >= 0, expr
    assert all(v == 0 for v in depth.values()), expr
    selectors = _selectors(expr)
    assert selectors, expr
    for selector in selectors:
        matchers = re.findall(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"', selector)
        assert matchers and ("env", "=", environment) in matchers, selector
        for _, op, value in matchers:
            if op in ("=~", "!~"):
                re2.compile(value)
    for function in re.findall(r"\b([a-z_]+)\s*\(\s*\{", stripped):
        assert function in RANGE_FUNCTIONS, (function, expr)
    for function in re.findall(r"\b([a-z_]+)\s+by\s*\(", stripped):
        assert function in AGGREGATIONS, (function, expr)
    assert len(re.findall(r"\[\d+[smhd]\]", stripped)) == len(re.findall(r"\b(?:%s)\s*\(" % "|".join(RANGE_FUNCTIONS), stripped))
    for op, pattern in re.findall(r"(\|=|!=|\|~|!~)\s*`([^`]*)`", expr):
        if "~" in op:
            re2.compile(pattern)


def test_logql_sanity(stack):
    settings = settings_for(stack)
    for group in rule_groups(stack):
        for rule in group["rules"]:
            check_logql(rule["expr"], settings.environment)


def test_logql_check_catches_mistakes():
    for broken in (
        'sum by (service) (rate({env="staging"}[5m])',  # unbalanced
        'sum by (service) (rate({service="api"}[5m]))',  # not scoped to env
        'sum by (service) (rat({env="staging"}[5m]))',  # unknown range function
        'sum by (service) (count_over_time({env="staging"} |~ `(?=x)` [5m]))',  # not RE2
    ):
        try:
            check_logql(broken, "staging")
        except Exception:
            continue
        raise AssertionError(f"not caught: {broken}")


def test_thresholds_and_windows_come_from_settings():
    settings = settings_for("staging", alerts={"auth_failures": 50, "window": "10m", "error_ratio": 0.1})
    exprs = {a.name: a.expr for a in log_alerts(settings)}
    assert exprs["LogAuthFailuresRepeated"].endswith("> 50")
    assert "> 0.1 and" in exprs["LogErrorRateHigh"]
    for expr in exprs.values():
        assert "[10m]" in expr and "[5m]" not in expr


def test_recording_rules_are_remote_written_series(stack):
    recordings = [rule for group in rule_groups(stack) for rule in group["rules"] if "record" in rule]
    assert recordings
    for rule in recordings:
        assert re.fullmatch(r"[a-z_]+:[a-z_]+:[a-z0-9_]+", rule["record"]), rule["record"]
        assert rule["labels"] == {"env": stack}
