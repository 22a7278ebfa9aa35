"""The alerting pipeline end to end with the real binaries: mock exporters -> Prometheus (rendered
config and rules) -> Alertmanager (rendered routing tree and templates) -> a local webhook and a
local "Slack". Healthy data raises nothing but the Watchdog; a fault fires the right alert to the
right receivers with its links, escalates while unacknowledged, and resolves when cleared."""

from __future__ import annotations

import time

import pytest

from tests.e2e.procs import (
    LocalStack, fast_settings, judged_in_seconds, notification, start_local_stack, wait_until,
)

pytestmark = pytest.mark.e2e

SERVICES = ("prometheus", "alertmanager")
# 5m windows become 20s, matching the scaled `for`s, so healthy data is judged on full windows.
WINDOW_SCALE = 1 / 15
SETTINGS = fast_settings(
    alerting={
        "rule_overrides": {
            # Exporter targets down are warnings by default; paging on them shows the critical path.
            "NodeTargetDown": {"severity": "critical", "labels": {"team": "infra"}},
            "DcgmTargetDown": {"severity": "critical"},
        }
    }
)


@pytest.fixture(scope="module")
def stack(processes, receiver, tmp_path_factory) -> LocalStack:
    workdir = tmp_path_factory.mktemp("e2e-alerting")
    started = start_local_stack(
        processes, SETTINGS, workdir, webhook_url=f"{receiver.url}/webhook",
        secrets={"slack_api_url": f"{receiver.url}/slack"}, services=SERVICES, window_scale=WINDOW_SCALE,
    )
    wait_until(started.prometheus.targets_up, 30, "every target up")
    return started


def test_healthy_data_fires_nothing_but_the_watchdog(stack, receiver):
    # Long enough for every (scaled) rate window to fill and every scaled `for` of a false positive.
    time.sleep(25)
    active = judged_in_seconds(stack.prometheus.alerts())
    assert active == {("Watchdog", "firing")}, f"false positives: {sorted(active)}"
    heartbeat = receiver.wait_for(notification("Watchdog", "firing", "heartbeat"), 15, "Watchdog heartbeat")
    assert heartbeat.body["commonLabels"]["severity"] == "info"
    # The heartbeat goes to the dead man's switch only, never to the people's channels.
    assert not [d for d in receiver.received("/slack") if "Watchdog" in str(d.body)]


def test_fault_fires_escalates_and_resolves(stack, receiver):
    node = stack.mocks["node"]
    node.set_fault("down")
    fired = receiver.wait_for(notification("NodeTargetDown", "firing", "critical"), 30, "NodeTargetDown firing")
    alert = next(a for a in fired.body["alerts"] if a["labels"]["alertname"] == "NodeTargetDown")
    labels = alert["labels"]
    assert {k: labels[k] for k in ("severity", "component", "team", "exporter", "source", "env", "job")} == {
        "severity": "critical", "component": "node", "team": "infra", "exporter": "node", "source": "mock",
        "env": "e2e", "job": "node-mock",
    }
    assert labels["instance"] == node.targets[0]
    annotations = alert["annotations"]
    assert annotations["summary"] == f"node exporter target {node.targets[0]} is down."
    assert annotations["runbook_url"] == "docs/runbooks/targets.md#nodetargetdown"
    assert annotations["dashboard_url"] == f"{SETTINGS.grafana_url}/d/node"

    # The chat message is rendered from the template: summary, severity, runbook and dashboard.
    slack = receiver.wait_for(lambda d: "NodeTargetDown" in str(d.body), 15, "Slack message", path="/slack")
    text = slack.body["attachments"][0]["text"]
    assert annotations["summary"] in text and "Severity: critical" in text
    assert "Runbook: docs/runbooks/targets.md#nodetargetdown" in text and f"Dashboard: {SETTINGS.grafana_url}/d/node" in text

    # Unacknowledged (not silenced) and still firing after escalation.after: the escalation receiver.
    escalated = receiver.wait_for(notification("NodeTargetDown", "firing", "escalation"), 30, "escalation")
    assert escalated.received_at - fired.received_at >= 5

    node.clear_faults()
    receiver.wait_for(notification("NodeTargetDown", "resolved", "critical"), 30, "NodeTargetDown resolved")


def test_acknowledged_alert_does_not_escalate(stack, receiver):
    dcgm = stack.mocks["dcgm"]
    dcgm.set_fault("down")
    receiver.wait_for(notification("DcgmTargetDown", "firing", "critical"), 30, "DcgmTargetDown firing")
    # Acknowledging is silencing.
    stack.alertmanager.silence({"alertname": "DcgmTargetDown"})
    time.sleep(12)  # longer than escalation.after (8s) plus a group interval
    assert not [d for d in receiver.received() if notification("DcgmTargetDown", "firing", "escalation")(d)]
    dcgm.clear_faults()

