"""User rules as a Prometheus rule-group file (`PUT /monitoring/alerts/rules`, application/yaml):
every refusal names the line at fault, and where promtool is present it is promtool that decides
(the real `promtool check rules`, run by the API on the candidate file), with promql-parser the
fallback; the answer says which one ran. The JSON path keeps working and says its checker too.

Mutations checked (each fails a test here): YAML syntax errors without their mark's line; a rule
problem reported without the line of its field (labels.<key>, for, expr); promtool not run when
configured (`checked_by` stays promql-parser, the template only promtool refuses is accepted);
promtool's output not mapped back to a line; its timeout not enforced (a hanging promtool would
hang the request instead of a 503); dry_run writing; the content type not checked; the same alert
twice in one file accepted.
"""

from __future__ import annotations

import stat
import subprocess

import pytest
import yaml

from api.rules_check import RuleChecker, RuleFileError, run_promtool
from api.rules_store import RulesStore
from tests.api.fake import AUTH_WRITE, FakeUpstreams, api_client

PROMTOOL = "/usr/bin/promtool"
YAML = {**AUTH_WRITE, "Content-Type": "application/yaml"}
GOOD = """\
groups:
  - name: checkout
    rules:
      - alert: CheckoutErrorsHigh
        expr: sum(rate(http_requests_total{code=~"5.."}[5m])) > 1
        for: 10m
        labels:
          severity: warning
        annotations:
          summary: "{{ $value }} errors a second"
      - alert: CheckoutDown
        expr: up{job="checkout"} == 0
"""

# (file, line at fault, words the message holds): one of each kind of problem.
BAD = {
    "malformed yaml": ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n       for: 5m\n", 6, "yaml"),
    "unclosed quote": ('groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: "up\n', 5, "yaml"),
    "bad expression": ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"
                       "      - alert: B\n        expr: rate(x[5m]\n", 7, "B.expr"),
    "bad for": ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 10 minutes\n", 6, "for"),
    "bad label name": ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels:\n"
                       "          severity: page\n          bad-name: x\n", 8, "labels.bad-name"),
    "recording rule": ("groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum(up)\n", 4, "record"),
    "alert twice": ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"
                    "  - name: h\n    rules:\n      - alert: A\n        expr: up\n", 8, "repeated"),
}


def _client(tmp_path, promtool: str | None = PROMTOOL, **config):
    return api_client(FakeUpstreams(), tmp_path, promtool=promtool, **config)


@pytest.mark.parametrize("promtool", [PROMTOOL, None], ids=["promtool", "promql-parser"])
@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_rule_file_is_refused_naming_its_line(tmp_path, case, promtool):
    text, line, words = BAD[case]
    response = _client(tmp_path, promtool).put("/monitoring/alerts/rules", headers=YAML, content=text)
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert message.startswith(f"line {line}: ") and words in message, message
    assert "(checked by " in message
    assert list(tmp_path.iterdir()) == []
    if promtool and case in ("bad expression", "bad for"):
        # promtool decided, and promtool itself refuses the file.
        assert message.endswith("(checked by promtool)"), message
        assert subprocess.run([PROMTOOL, "check", "rules", "/dev/stdin"], input=text.encode(),
                              capture_output=True).returncode != 0
    if promtool is None and case == "bad expression":
        assert message.endswith("(checked by promql-parser)"), message


def test_a_good_file_writes_one_user_rule_per_alert_that_promtool_accepts(tmp_path):
    client = _client(tmp_path)
    dry = client.put("/monitoring/alerts/rules", headers=YAML, content=GOOD, params={"dry_run": "true"})
    assert dry.status_code == 200 and dry.json()["dry_run"] and dry.json()["checked_by"] == "promtool"
    assert list(tmp_path.iterdir()) == []
    written = client.put("/monitoring/alerts/rules", headers=YAML, content=GOOD)
    assert written.status_code == 200, written.text
    body = written.json()
    assert body["ids"] == ["CheckoutErrorsHigh", "CheckoutDown"] and sorted(body["created"]) == sorted(body["ids"])
    assert body["replaced"] == [] and body["checked_by"] == "promtool"
    assert RulesStore(tmp_path).ids() == ["CheckoutDown", "CheckoutErrorsHigh"]
    for path in tmp_path.glob("user-*.yml"):
        checked = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    assert RulesStore(tmp_path).read("CheckoutErrorsHigh").annotations == {"summary": "{{ $value }} errors a second"}
    again = client.put("/monitoring/alerts/rules", headers=YAML, content=GOOD.replace("for: 10m", "for: 1h"))
    assert again.json()["created"] == [] and sorted(again.json()["replaced"]) == ["CheckoutDown", "CheckoutErrorsHigh"]
    assert RulesStore(tmp_path).read("CheckoutErrorsHigh").for_ == "1h"


def test_a_rule_file_needs_the_yaml_content_type(tmp_path):
    response = _client(tmp_path).put("/monitoring/alerts/rules", headers={**AUTH_WRITE, "Content-Type": "application/json"},
                                     content=GOOD)
    assert response.status_code == 415 and "application/yaml" in response.json()["error"]["message"]


def test_promtool_is_the_authority_where_it_runs(tmp_path):
    """A template promtool's parser refuses but the fallback's balance check lets through: only
    promtool catches it (so it really ran), on both paths, mapped to the annotation's line."""
    text = ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n"
            "          runbook: 'https://runbooks.example.com/A'\n          summary: '{{ $value | nosuchfunc }}'\n")
    assert _client(tmp_path, None).put("/monitoring/alerts/rules", headers=YAML, content=text,
                                       params={"dry_run": "true"}).status_code == 200
    refused = _client(tmp_path).put("/monitoring/alerts/rules", headers=YAML, content=text)
    message = refused.json()["error"]["message"]
    assert refused.status_code == 422 and message.startswith("line 8: A.annotations.summary") and "promtool" in message, message
    body = {"name": "A", "expr": "up", "annotations": {"summary": "{{ $value | nosuchfunc }}"}}
    assert _client(tmp_path, None).post("/monitoring/alerts/rules", headers=AUTH_WRITE, json=body).status_code == 201
    (tmp_path / "user-A.yml").unlink()
    json_refused = _client(tmp_path).post("/monitoring/alerts/rules", headers=AUTH_WRITE, json=body)
    assert json_refused.status_code == 422
    assert json_refused.json()["error"]["message"].startswith("annotations.summary: ")
    assert json_refused.json()["error"]["message"].endswith("(checked by promtool)")


def test_the_json_path_still_works_and_names_its_checker(tmp_path):
    rule = {"name": "ApiJson", "expr": "vector(1) > 0", "for": "1m", "labels": {"severity": "info"}}
    created = _client(tmp_path).post("/monitoring/alerts/rules", headers=AUTH_WRITE, json=rule)
    assert created.status_code == 201 and created.json()["checked_by"] == "promtool", created.text
    assert created.json()["applied_within_seconds"] is None
    bad = _client(tmp_path).put("/monitoring/alerts/rules/ApiJson", headers=AUTH_WRITE, json={**rule, "expr": "rate(x[5m"})
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("expr: could not parse expression")
    fallback = _client(tmp_path, None).put("/monitoring/alerts/rules/ApiJson", headers=AUTH_WRITE, json={**rule, "for": "2m"})
    assert fallback.status_code == 200 and fallback.json()["checked_by"] == "promql-parser"


def test_a_hanging_promtool_times_out_and_nothing_is_written(tmp_path):
    slow = tmp_path / "bin" / "promtool"
    slow.parent.mkdir()
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(slow.stat().st_mode | stat.S_IXUSR)
    rules = tmp_path / "rules"
    rules.mkdir()
    response = api_client(FakeUpstreams(), rules, promtool=str(slow), promtool_timeout=0.5).put(
        "/monitoring/alerts/rules", headers=YAML, content=GOOD)
    assert response.status_code == 503 and "over 0.5s" in response.json()["error"]["message"]
    assert list(rules.iterdir()) == []


def test_promtool_output_maps_to_lines():
    text = BAD["bad expression"][0]
    problems = run_promtool(PROMTOOL, text, 10)
    assert problems and problems[0].line == 7 and "could not parse expression" in problems[0].message
    assert run_promtool(PROMTOOL, GOOD, 10) == []
    with pytest.raises(RuleFileError) as refused:
        RuleChecker(PROMTOOL).check_file(BAD["bad for"][0].replace("10 minutes", "5x"))
    assert refused.value.line == 6 and "not a valid duration" in refused.value.detail.message
    assert yaml.safe_load(GOOD)  # the example stays a valid file


def test_the_openapi_document_holds_the_rule_file_endpoint(tmp_path):
    from api.app import OPENAPI_PATH

    document = _client(tmp_path).get(OPENAPI_PATH).json()
    put = document["paths"]["/monitoring/alerts/rules"]["put"]
    assert set(put["requestBody"]["content"]) == {"application/yaml", "application/x-yaml", "text/yaml"}
    assert put["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/RulesWritten")
    assert "202" in put["responses"] and "202" in document["paths"]["/monitoring/alerts/rules"]["post"]["responses"]
    assert {p["name"] for p in put["parameters"]} == {"dry_run"}
    written = document["components"]["schemas"]["RuleWritten"]["properties"]
    assert {"checked_by", "applied_within_seconds"} <= set(written)
