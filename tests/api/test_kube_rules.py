"""User rules on a cluster: the API keeps them in one ConfigMap through the Kubernetes API (a fake
API server on 127.0.0.1, tests/api/fake_kubernetes.py, answering GET/PUT with resourceVersions and
409 conflicts as the API defines them, and refusing what the Role does not grant). Create, update,
delete and a rule file answer 202 with how long until both Prometheus replicas evaluate them; a
conflict is retried from a fresh read without losing the other writer's change; the rule file the
ConfigMap holds passes the real `promtool check rules`.

Mutations checked (each fails a test here): no retry on 409 (the update fails with 502), a retry
that re-sends the stale object instead of re-reading (409 forever: 503), the other writer's key or
a key that is not a user rule dropped on write, the resourceVersion left out of the PUT (the fake
refuses it as a conflict), 201 instead of 202 on the ConfigMap store, the token not sent (401 from
the fake: 502), a missing ConfigMap not reported as such.
"""

from __future__ import annotations

import subprocess

import pytest

from api.kube_rules import CONFLICT_RETRIES
from api.rules_store import rule_from_text
from tests.api.fake import AUTH_READ, AUTH_WRITE, FakeUpstreams, api_client
from tests.api.fake_kubernetes import FakeKubernetes, FakeKubernetesServer

PROMTOOL = "/usr/bin/promtool"
TOKEN = "service-account-token-for-tests"
NAMESPACE, CONFIG_MAP = "monitoring", "monitoring-user-rules"
RULE = {"name": "CheckoutErrorsHigh", "expr": 'sum(rate(http_requests_total{code=~"5.."}[5m])) > 1', "for": "10m",
        "labels": {"severity": "warning"}, "annotations": {"summary": "{{ $value }} errors a second"}}


@pytest.fixture()
def cluster(tmp_path):
    fake = FakeKubernetes(TOKEN)
    # Created empty by the program; a key that is not a user rule stays as it is.
    fake.create(NAMESPACE, CONFIG_MAP, {"README": "written by the monitoring API\n"})
    fake.create(NAMESPACE, "some-other-configmap", {})
    fake.granted.discard((NAMESPACE, "some-other-configmap"))
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    with FakeKubernetesServer(fake) as server:
        client = api_client(FakeUpstreams(), None, promtool=PROMTOOL, rules_configmap=f"{NAMESPACE}/{CONFIG_MAP}",
                            kubernetes_api=server.url, kubernetes_token_file=token, rules_propagation_seconds=180)
        yield fake, client, tmp_path


def _rules(fake: FakeKubernetes) -> dict[str, str]:
    return {key: text for key, text in fake.data(NAMESPACE, CONFIG_MAP).items() if key.startswith("user-")}


def test_create_update_delete_through_the_configmap(cluster):
    fake, client, tmp_path = cluster
    created = client.post("/monitoring/alerts/rules", headers=AUTH_WRITE, json=RULE)
    assert created.status_code == 202, created.text
    assert created.json() == {"id": RULE["name"], "reloaded": False, "checked_by": "promtool", "applied_within_seconds": 180}
    data = fake.data(NAMESPACE, CONFIG_MAP)
    assert set(data) == {"README", "user-CheckoutErrorsHigh.yml"}
    # The file Prometheus reads from the mounted ConfigMap passes promtool.
    path = tmp_path / "user-CheckoutErrorsHigh.yml"
    path.write_text(data["user-CheckoutErrorsHigh.yml"])
    checked = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert client.post("/monitoring/alerts/rules", headers=AUTH_WRITE, json=RULE).status_code == 409

    updated = client.put(f"/monitoring/alerts/rules/{RULE['name']}", headers=AUTH_WRITE, json={**RULE, "for": "1h"})
    assert updated.status_code == 202 and updated.json()["applied_within_seconds"] == 180
    assert rule_from_text(_rules(fake)["user-CheckoutErrorsHigh.yml"]).for_ == "1h"
    assert client.put("/monitoring/alerts/rules/Nope", headers=AUTH_WRITE, json={**RULE, "name": "Nope"}).status_code == 404

    deleted = client.delete(f"/monitoring/alerts/rules/{RULE['name']}", headers=AUTH_WRITE)
    assert deleted.status_code == 202 and deleted.json() == {"id": RULE["name"], "deleted": True, "applied_within_seconds": 180}
    assert fake.data(NAMESPACE, CONFIG_MAP) == {"README": "written by the monitoring API\n"}
    assert client.delete(f"/monitoring/alerts/rules/{RULE['name']}", headers=AUTH_WRITE).status_code == 404
    # Only GET and PUT of that one ConfigMap ever reached the API server.
    assert {(method, path) for method, path in fake.requests} == {
        ("GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps/{CONFIG_MAP}"),
        ("PUT", f"/api/v1/namespaces/{NAMESPACE}/configmaps/{CONFIG_MAP}")}


def test_a_conflict_is_retried_from_a_fresh_read_keeping_the_other_writers_change(cluster):
    fake, client, _ = cluster
    assert client.post("/monitoring/alerts/rules", headers=AUTH_WRITE, json=RULE).status_code == 202
    fake.conflicts_to_inject = 2
    before = len(fake.requests)
    updated = client.put(f"/monitoring/alerts/rules/{RULE['name']}", headers=AUTH_WRITE, json={**RULE, "for": "30m"})
    assert updated.status_code == 202, updated.text
    assert [method for method, _ in fake.requests[before:]] == ["GET", "PUT", "GET", "PUT", "GET", "PUT"]
    rules = _rules(fake)
    assert set(rules) == {"user-CheckoutErrorsHigh.yml", "user-OtherWriter.yml"}
    assert rule_from_text(rules["user-CheckoutErrorsHigh.yml"]).for_ == "30m"
    assert "README" in fake.data(NAMESPACE, CONFIG_MAP)

    fake.conflicts_to_inject = CONFLICT_RETRIES + 1
    gave_up = client.put(f"/monitoring/alerts/rules/{RULE['name']}", headers=AUTH_WRITE, json={**RULE, "for": "2h"})
    assert gave_up.status_code == 503 and gave_up.json()["error"]["code"] == "conflict"
    assert rule_from_text(_rules(fake)["user-CheckoutErrorsHigh.yml"]).for_ == "30m"


def test_a_rule_file_lands_in_the_configmap(cluster):
    fake, client, _ = cluster
    text = ("groups:\n  - name: checkout\n    rules:\n      - alert: A\n        expr: up == 0\n"
            "      - alert: B\n        expr: vector(1)\n        for: 5m\n")
    written = client.put("/monitoring/alerts/rules", headers={**AUTH_WRITE, "Content-Type": "application/yaml"}, content=text)
    assert written.status_code == 202 and written.json()["applied_within_seconds"] == 180, written.text
    assert set(_rules(fake)) == {"user-A.yml", "user-B.yml"}
    bad = client.put("/monitoring/alerts/rules", headers={**AUTH_WRITE, "Content-Type": "application/yaml"},
                     content=text.replace("vector(1)", "vector(1"))
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("line 7: B.expr")


def test_failures_are_named(cluster, tmp_path):
    fake, client, _ = cluster
    fake.objects.pop((NAMESPACE, CONFIG_MAP))
    missing = client.post("/monitoring/alerts/rules", headers=AUTH_WRITE, json=RULE)
    assert missing.status_code == 503 and f"{NAMESPACE}/{CONFIG_MAP} is missing" in missing.json()["error"]["message"]
    fake.create(NAMESPACE, CONFIG_MAP)
    (tmp_path / "token").write_text("a-revoked-token")
    refused = client.post("/monitoring/alerts/rules", headers=AUTH_WRITE, json=RULE)
    assert refused.status_code == 502 and refused.json()["error"]["upstream"] == "kubernetes"
    assert client.post("/monitoring/alerts/rules", headers=AUTH_READ, json=RULE).status_code == 403
