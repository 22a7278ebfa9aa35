"""alertmanager.yml: valid for amtool, seed 004's routing table (checked with `amtool config routes
test`), inhibition, credentials only as files, templates with the links, and the service wiring."""

from __future__ import annotations

import pytest
import yaml

from alerting.alertmanager import (
    TEMPLATE_FILE,
    alertmanager_environment,
    alertmanager_files,
    alertmanager_secret_files,
    render_alertmanager_config,
)
from services.core import alertmanager_service
from settings import SettingsError, parse_settings
from tests.alerting.support import EVERY_RECEIVER, amtool, settings_with, write_local
from tests.conftest import STACKS, stack_settings

FULL = settings_with(EVERY_RECEIVER)
SMS = EVERY_RECEIVER["receivers"]["sms"]
NONE = settings_with({})


@pytest.mark.parametrize("name", ["every receiver", "no receiver", *STACKS])
def test_amtool_accepts_the_config(name, tmp_path):
    settings = {"every receiver": FULL, "no receiver": NONE}.get(name) or stack_settings(name)
    config = write_local(settings, tmp_path)
    result = amtool("check-config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout


def test_without_receivers_every_route_ends_in_a_null_receiver():
    document = render_alertmanager_config(NONE)
    assert all(set(receiver) == {"name"} for receiver in document["receivers"])
    names = {receiver["name"] for receiver in document["receivers"]}
    routes = [document["route"], *document["route"]["routes"]]
    assert all(route["receiver"] in names for route in routes)


# (labels of an alert, receivers it must reach, in order)
ROUTING_TABLE = [
    ({"severity": "critical", "alertname": "NodeTargetDown"}, "critical,escalation"),
    ({"severity": "warning", "alertname": "NodeHighCpuUtilisation"}, "warning"),
    ({"severity": "info", "alertname": "CapacityMemoryExhaustionForecast"}, "info"),
    ({"severity": "critical", "category": "security", "alertname": "X"}, "security"),
    ({"severity": "warning", "category": "security", "alertname": "X"}, "security"),
    ({"severity": "critical", "component": "gpu", "alertname": "GpuTemperatureCritical"}, "component-gpu,critical,escalation"),
    ({"severity": "warning", "component": "llm", "alertname": "LlmRequestQueueGrowing"}, "component-llm,warning"),
    ({"severity": "warning", "component": "node", "alertname": "NodeHighCpuUtilisation"}, "warning"),
    ({"severity": "info", "alertname": "Watchdog", "component": "stack"}, "heartbeat"),
    ({"alertname": "SomethingWithoutSeverity"}, "default"),
]


@pytest.mark.parametrize(("labels", "receivers"), ROUTING_TABLE, ids=[r for _, r in ROUTING_TABLE])
def test_routing_table(labels, receivers, tmp_path):
    config = write_local(FULL, tmp_path)
    result = amtool(
        "config", "routes", "test", f"--config.file={config}", f"--verify.receivers={receivers}",
        *(f"{k}={v}" for k, v in labels.items()),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_routing_without_escalation(tmp_path):
    settings = settings_with({**EVERY_RECEIVER, "escalation": {"enabled": False}})
    config = write_local(settings, tmp_path)
    result = amtool("config", "routes", "test", f"--config.file={config}", "--verify.receivers=critical",
                    "severity=critical", "alertname=X")
    assert result.returncode == 0, result.stdout + result.stderr


def test_route_timings_follow_seed_004():
    routes = {route["receiver"]: route for route in render_alertmanager_config(FULL)["route"]["routes"]}
    timings = {name: (routes[name].get("group_wait"), routes[name].get("repeat_interval")) for name in routes}
    assert timings["critical"] == ("5s", "4h")
    assert timings["warning"] == ("30s", "24h")
    assert timings["info"] == ("5m", "24h")
    assert timings["security"] == ("0s", "1h")
    # The escalation is the critical route's sibling, reached through continue, after the delay.
    assert routes["critical"]["continue"] is True
    assert routes["escalation"]["group_wait"] == "30m"


def test_info_notifications_never_send_resolved():
    info = next(r for r in render_alertmanager_config(FULL)["receivers"] if r["name"] == "info")
    configs = [c for key, items in info.items() if key.endswith("_configs") for c in items]
    assert configs and all(c["send_resolved"] is False for c in configs)


def test_receivers_combine_the_seed_channels():
    receivers = {r["name"]: set(k for k in r if k.endswith("_configs")) for r in render_alertmanager_config(FULL)["receivers"]}
    assert receivers["critical"] == {"pagerduty_configs", "sns_configs", "slack_configs", "webhook_configs"}
    assert receivers["warning"] == {"slack_configs", "webhook_configs"}
    assert receivers["info"] == {"slack_configs", "webhook_configs"}
    assert receivers["security"] == {"pagerduty_configs", "sns_configs", "email_configs", "slack_configs", "webhook_configs"}
    assert receivers["escalation"] == {"email_configs", "slack_configs", "webhook_configs"}


def test_inhibition_rules():
    rules = render_alertmanager_config(FULL)["inhibit_rules"]
    assert {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity=~"warning|info"'],
        "equal": ["env", "alertname", "instance"],
    } in rules
    down = next(r for r in rules if r["source_matchers"] == ['alertname=~".+TargetDown"'])
    assert down["equal"] == ["env", "job", "instance"]


def test_credentials_are_files_never_values():
    text = yaml.safe_dump(render_alertmanager_config(FULL))
    document = render_alertmanager_config(FULL)
    for receiver in document["receivers"]:
        for key, configs in receiver.items():
            for config in configs if key.endswith("_configs") else ():
                assert not {"api_url", "routing_key", "service_key", "auth_password", "url"} & set(config), receiver["name"]
                assert set(config.get("sigv4", {})) == ({"region"} if key == "sns_configs" else set()), receiver["name"]
    for field in ("api_url_file: /run/secrets/slack_api_url", "routing_key_file: /run/secrets/pagerduty_routing_key",
                  "auth_password_file: /run/secrets/email_auth_password", "url_file: /run/secrets/webhook_url"):
        assert field in text
    # The SNS notifier takes no key file: its AWS SDK reads the credentials file this names.
    assert alertmanager_environment(FULL) == {"AWS_SHARED_CREDENTIALS_FILE": "/run/secrets/sms_aws_credentials"}
    assert alertmanager_environment(NONE) == {}


def test_secret_files_are_those_of_configured_receivers():
    assert alertmanager_secret_files(NONE) == []
    assert sorted(alertmanager_secret_files(FULL)) == [
        ("email_auth_password", "email_auth_password"),
        ("pagerduty_routing_key", "pagerduty_routing_key"),
        ("slack_api_url", "slack_api_url"),
        ("sms_aws_secret_access_key", "sms_aws_credentials"),
        ("webhook_url", "webhook_url"),
    ]
    slack_only = settings_with({"receivers": {"slack": {"channel": "#alerts"}}})
    assert alertmanager_secret_files(slack_only) == [("slack_api_url", "slack_api_url")]


def test_service_receives_config_templates_and_secret_files():
    service = alertmanager_service(FULL)
    assert {f.relpath for f in service.files} == {"alertmanager.yml", TEMPLATE_FILE}
    assert service.file("alertmanager.yml").content == alertmanager_files(FULL)["alertmanager.yml"]
    assert {(s.secret_key, s.file_name) for s in service.secret_files} == set(alertmanager_secret_files(FULL))
    assert service.env == {"AWS_SHARED_CREDENTIALS_FILE": "/run/secrets/sms_aws_credentials"}
    assert alertmanager_service(NONE).env == {}


def test_templates_render_with_amtool(tmp_path):
    write_local(FULL, tmp_path)
    for name in ("monitoring.title", "monitoring.text", "monitoring.color", "monitoring.email.html", "monitoring.sms"):
        result = amtool("template", "render", f"--template.glob={tmp_path / 'templates' / '*.tmpl'}",
                        f'--template.text={{{{ template "{name}" . }}}}')
        assert result.returncode == 0 and result.stdout.strip(), name + result.stderr


@pytest.mark.parametrize(
    ("alerting", "line"),
    [
        (
            {"component_routes": {"gpu": {"slack_channel": "#gpu"}}},
            'monitoring:alerting.component_routes.gpu.slack_channel: "#gpu" needs receivers.slack to be configured',
        ),
        (
            {"escalation": {"email_to": "lead@example.org"}},
            'monitoring:alerting.escalation.email_to: "lead@example.org" needs receivers.email to be configured',
        ),
        (
            {"escalation": {"after": "5s"}},
            'monitoring:alerting.escalation.after: "5s" is not longer than routes.critical.group_wait 5s',
        ),
        (
            {"receivers": {"email": {"to": "nobody", "from_address": "a@b.org", "smarthost": "smtp:25"}}},
            'monitoring:alerting.receivers.email.to: "nobody" is not an e-mail address like oncall@example.org',
        ),
        (
            {"slos": [{"name": "api", "description": "d", "objective": 0.99, "bad": "sum(rate(errors[$window])",
                       "total": "sum(rate(requests[$window]))"}]},
            'monitoring:alerting.slos[0].bad: "sum(rate(errors[$window])" is not valid PromQL: unclosed left parenthesis',
        ),
        (
            {"slos": [{"name": "api", "description": "d", "objective": 0.99, "bad": "sum(rate(errors[5m]))",
                       "total": "sum(rate(requests[$window]))"}]},
            'monitoring:alerting.slos[0].bad: "sum(rate(errors[5m]))" has no $window where its range goes, '
            "e.g. rate(x[$window])",
        ),
        (
            {"routes": {"critical": {"group_wait": "soon", "group_interval": "5m", "repeat_interval": "4h"}}},
            'monitoring:alerting.routes.critical.group_wait: "soon" is not a duration like 0s, 30s, 5m or 1h',
        ),
        (
            {"receivers": {"sms": {**SMS, "phone_numbers": ["+14155550123", "0049 30 1234567"]}}},
            'monitoring:alerting.receivers.sms.phone_numbers[1]: "0049 30 1234567" is not a phone number in E.164 '
            "form like +14155550123",
        ),
        (
            {"receivers": {"sms": {**SMS, "phone_numbers": []}}},
            "monitoring:alerting.receivers.sms.phone_numbers: [] needs 1 to 20 phone numbers",
        ),
        (
            {"receivers": {"sms": {**SMS, "region": "Frankfurt"}}},
            'monitoring:alerting.receivers.sms.region: "Frankfurt" is not an AWS region like eu-west-1',
        ),
        (
            {"receivers": {"sms": {**SMS, "access_key_id": "my-key"}}},
            'monitoring:alerting.receivers.sms.access_key_id: "my-key" is not an AWS access key id like AKIAIOSFODNN7EXAMPLE',
        ),
        (
            {"receivers": {"sms": {**SMS, "secret_access_key": "x"}}},
            "monitoring:alerting.receivers.sms.secret_access_key: unknown setting; known keys here: access_key_id, "
            "api_url, phone_numbers, region",
        ),
    ],
)
def test_bad_alerting_setting_is_one_clear_line(alerting, line):
    with pytest.raises(SettingsError) as error:
        parse_settings({"alerting": alerting}, "test")
    assert error.value.lines == [line]
