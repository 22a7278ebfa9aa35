"""`python -m api` against real Prometheus and Alertmanager fed by the mocks: metrics and their
data, alerts with their fingerprints, ack as a silence Alertmanager applies and un-ack, rule CRUD
that changes what Prometheus evaluates, capacity and SLA answers, auth and a missing upstream."""

from __future__ import annotations

import httpx
import pytest

from tests.api.support import READ_TOKEN, WRITE_TOKEN, ApiStack, start_api_stack
from tests.e2e.procs import fast_settings, http_json, wait_until

pytestmark = pytest.mark.e2e

READ = {"Authorization": f"Bearer {READ_TOKEN}"}
WRITE = {"Authorization": f"Bearer {WRITE_TOKEN}"}


@pytest.fixture(scope="module")
def stack(processes, tmp_path_factory) -> ApiStack:
    started = start_api_stack(processes, fast_settings(), tmp_path_factory.mktemp("api-e2e"))
    wait_until(started.prometheus.targets_up, 30, "every target up")
    return started


@pytest.fixture(scope="module")
def client(stack):
    with httpx.Client(base_url=stack.api, timeout=10) as session:
        yield session


def test_metrics_list_and_data(client):
    listed = wait_until(lambda: client.get("/monitoring/metrics", params={"prefix": "node_cpu"}, headers=READ).json(),
                        20, "node metrics listed")
    names = {m["name"]: m for m in listed["metrics"]}
    assert names["node_cpu_seconds_total"]["type"] == "counter"
    assert all(name.startswith("node_cpu") for name in names)
    data = wait_until(lambda: client.get("/monitoring/metrics/node_cpu_seconds_total",
                                         params={"match": ["mode=idle"], "step": 1}, headers=READ).json()["series"],
                      20, "node_cpu data")
    assert data and all(s["labels"]["mode"] == "idle" and s["values"] for s in data)


def test_ack_is_a_silence_alertmanager_applies_and_unack_expires_it(client, stack):
    watchdog = wait_until(lambda: next((a for a in client.get("/monitoring/alerts", headers=READ).json()["alerts"]
                                        if a["name"] == "Watchdog"), None), 30, "Watchdog in the API's alerts")
    raw = {a["fingerprint"]: a for a in http_json(f"{stack.alertmanager.url}/api/v2/alerts")}
    assert raw[watchdog["id"]]["labels"] == watchdog["labels"]

    acked = client.post(f"/monitoring/alerts/{watchdog['id']}/ack", headers=WRITE,
                        json={"author": "oncall", "comment": "known, looking", "expires_in_minutes": 30})
    assert acked.status_code == 201, acked.text
    silence_id = acked.json()["silence_id"]
    silence = http_json(f"{stack.alertmanager.url}/api/v2/silence/{silence_id}")
    assert (silence["createdBy"], silence["comment"], silence["status"]["state"]) == ("oncall", "known, looking", "active")
    assert {(m["name"], m["value"], m["isRegex"], m.get("isEqual", True)) for m in silence["matchers"]} == {
        (k, v, False, True) for k, v in watchdog["labels"].items()}
    suppressed = wait_until(lambda: next((a for a in client.get("/monitoring/alerts", headers=READ).json()["alerts"]
                                          if a["id"] == watchdog["id"] and a["state"] == "suppressed"), None),
                            15, "the acknowledged alert suppressed")
    assert suppressed["silenced_by"] == [silence_id]

    unacked = client.delete(f"/monitoring/alerts/{watchdog['id']}/ack", headers=WRITE)
    assert unacked.json()["expired_silences"] == [silence_id]
    assert http_json(f"{stack.alertmanager.url}/api/v2/silence/{silence_id}")["status"]["state"] == "expired"
    wait_until(lambda: any(a["id"] == watchdog["id"] and a["state"] == "active"
                           for a in client.get("/monitoring/alerts", headers=READ).json()["alerts"]), 15, "active again")
    assert client.post("/monitoring/alerts/0123456789abcdef/ack", headers=WRITE,
                       json={"author": "a", "comment": "c"}).status_code == 404


def _evaluated(stack, name):
    groups = http_json(f"{stack.prometheus.url}/api/v1/rules?type=alert")["data"]["groups"]
    return next((rule for group in groups for rule in group["rules"] if rule["name"] == name), None)


def test_rule_crud_changes_what_prometheus_evaluates(client, stack):
    rule = {"name": "ApiE2eAlwaysFiring", "expr": "vector(1)", "for": "0s", "labels": {"severity": "info"},
            "annotations": {"summary": "from the API {{ $value }}"}}
    created = client.post("/monitoring/alerts/rules", headers=WRITE, json=rule)
    # promtool is on this machine's PATH, so `python -m api` checks with it (as the image does).
    assert created.status_code == 201 and created.json() == {"id": "ApiE2eAlwaysFiring", "reloaded": True,
                                                             "checked_by": "promtool", "applied_within_seconds": None}
    wait_until(lambda: (_evaluated(stack, "ApiE2eAlwaysFiring") or {}).get("state") == "firing", 20, "user rule firing")
    listed = {r["name"]: r for r in client.get("/monitoring/alerts/rules", headers=READ).json()["rules"]}
    assert listed["ApiE2eAlwaysFiring"]["user"] and listed["ApiE2eAlwaysFiring"]["id"] == "ApiE2eAlwaysFiring"
    assert listed["Watchdog"]["user"] is False and listed["Watchdog"]["id"] is None

    assert client.post("/monitoring/alerts/rules", headers=WRITE, json=rule).status_code == 409
    changed = client.put("/monitoring/alerts/rules/ApiE2eAlwaysFiring", headers=WRITE, json={**rule, "expr": "vector(1) > 2"})
    assert changed.status_code == 200, changed.text
    wait_until(lambda: (_evaluated(stack, "ApiE2eAlwaysFiring") or {}).get("query") == "vector(1) > 2", 20, "rule changed")
    wait_until(lambda: _evaluated(stack, "ApiE2eAlwaysFiring")["state"] == "inactive", 20, "changed rule inactive")

    bad = client.post("/monitoring/alerts/rules", headers=WRITE, json={**rule, "name": "ApiBad", "expr": "rate(x[5m"})
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("expr: could not parse expression")
    assert bad.json()["error"]["message"].endswith("(checked by promtool)")
    assert not (stack.rules_dir / "user-ApiBad.yml").exists()
    # A rule file: each alert its own user rule, evaluated after the reload; a bad line refused by number.
    yaml_headers = {**WRITE, "Content-Type": "application/yaml"}
    rule_file = ("groups:\n  - name: e2e\n    rules:\n      - alert: ApiE2eFromFile\n        expr: vector(1)\n"
                 "        labels: {severity: info}\n")
    from_file = client.put("/monitoring/alerts/rules", headers=yaml_headers, content=rule_file)
    assert from_file.status_code == 200 and from_file.json()["created"] == ["ApiE2eFromFile"], from_file.text
    wait_until(lambda: (_evaluated(stack, "ApiE2eFromFile") or {}).get("state") == "firing", 20, "file rule firing")
    refused = client.put("/monitoring/alerts/rules", headers=yaml_headers, content=rule_file.replace("vector(1)", "vector(1"))
    assert refused.status_code == 422 and refused.json()["error"]["message"].startswith("line 5: ApiE2eFromFile.expr")
    assert client.delete("/monitoring/alerts/rules/ApiE2eFromFile", headers=WRITE).status_code == 200
    # The rules this program renders are not the API's to change.
    assert client.delete("/monitoring/alerts/rules/Watchdog", headers=WRITE).status_code == 404

    assert client.delete("/monitoring/alerts/rules/ApiE2eAlwaysFiring", headers=WRITE).status_code == 200
    wait_until(lambda: _evaluated(stack, "ApiE2eAlwaysFiring") is None, 20, "user rule gone")
    assert list(stack.rules_dir.iterdir()) == []


def test_capacity_and_sla_from_the_recording_rules(client):
    def memory_rows():
        rows = client.get("/monitoring/capacity", headers=READ).json()["resources"]
        return [r for r in rows if r["labels"]["resource"] == "memory" and None not in (r["usage_ratio"], r["size"])]

    # The node mock's memory: usage ratio, size and headroom joined from three recordings.
    memory = wait_until(memory_rows, 30, "memory capacity")
    assert all(0 < r["usage_ratio"] < 1 and r["size"] > 0 and abs(r["headroom_ratio"] - (1 - r["usage_ratio"])) < 1e-9
               for r in memory)
    assert client.get("/monitoring/capacity/forecast", headers=READ).status_code == 200
    slas = wait_until(lambda: client.get("/monitoring/sla", headers=READ).json()["slas"], 30, "SLA states")
    # The default SLA (llm-api) over the vLLM mock's healthy data.
    assert {s["sla"]: s["state"] for s in slas}["llm-api"] in ("operational", "degraded")
    assert client.get("/monitoring/sla/reports", headers=READ).status_code == 200


def test_auth_and_missing_upstream(client):
    assert client.get("/monitoring/alerts").status_code == 401
    wrong = client.get("/monitoring/alerts", headers={"Authorization": "Bearer not-a-token-at-all"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
    forbidden = client.post("/monitoring/alerts/rules", headers=READ, json={"name": "X", "expr": "vector(1)"})
    assert forbidden.status_code == 403
    missing = client.get("/monitoring/dashboards", headers=READ)
    assert missing.status_code == 503 and missing.json()["error"]["upstream"] == "grafana"


def test_readme_examples_run(stack):
    """The README's API examples, as written, against this stack."""
    import os
    import re
    import subprocess

    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- api-examples -->\n```sh\n(.*?)```", readme, re.S).group(1)
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", block], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "API": stack.api, "READ_TOKEN": READ_TOKEN, "WRITE_TOKEN": WRITE_TOKEN})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "/monitoring/alerts/{alert_id}/ack" in ran.stdout.splitlines()
    assert '"silence_id"' in ran.stdout and '"expired_silences"' in ran.stdout
    assert not any(stack.rules_dir.iterdir())
