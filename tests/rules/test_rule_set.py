"""The rendered rule files: valid for promtool, the recording contract, alert conventions, a rule set
that follows what the stack deploys, overrides by name, and no window or selector outside the config."""

from __future__ import annotations

import dataclasses
import re

import pytest

from rules import MODULES as RULE_MODULES, backup, capacity, containers, gpu, integrity, llm, node, render_rule_files, rule_modules, signals, slo, stack, targets, traces
from rules.common import RuleContext
from rules.model import DASHBOARD_UIDS, AlertRule
from settings import SettingsError, parse_settings
from settings.alerting import SloSettings
from settings.types import duration_seconds
from tests.conftest import STACKS, stack_settings
from tests.rules.support import ALL_ON, all_alerts, all_on_settings, all_rules, durations, matchers, promtool, selectors, write_documents

CONTRACT = {
    "instance:node_cpu_utilisation:rate5m",
    "instance:node_memory_utilisation:ratio",
    "instance:node_load1_per_cpu:ratio",
    "instance:node_network_receive_bytes_excluding_lo:rate5m",
    "instance:node_network_transmit_bytes_excluding_lo:rate5m",
    "instance_device:node_disk_io_time_seconds:rate5m",
    "instance_mountpoint:node_filesystem_avail_bytes:ratio",
    "container:container_cpu_usage_seconds:rate5m",
    "container:container_memory_working_set_bytes:ratio_limit",
    "gpu:dcgm_gpu_utilisation:avg5m",
    "gpu:dcgm_framebuffer_used:ratio",
    "model_name:vllm_time_to_first_token_seconds:histogram_quantile",
    "model_name:vllm_e2e_request_latency_seconds:histogram_quantile",
    "model_name:vllm_generation_tokens:rate5m",
    "model_name:vllm_prompt_tokens:rate5m",
    "model_name:vllm_request_errors:ratio_rate5m",
    "exporter_source:up:sum",
    "exporter_source:scrape_samples_scraped:sum",
    "exporter:scrape_samples_mock_real:ratio",
    "monitoring:exporter_mode:info",
    "slo:objective:ratio",
    "slo:error_budget_remaining:ratio",
    *(f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")),
}
STACK_JOBS = ("prometheus", "alertmanager", "grafana", "loki", "promtail")


def rendered(stack: str) -> dict:
    return render_rule_files(stack_settings(stack) if stack != "all-on" else all_on_settings())


@pytest.mark.parametrize("stack", [*STACKS, "all-on"])
def test_promtool_accepts_every_rule_file(stack, tmp_path):
    paths = write_documents(tmp_path, rendered(stack))
    result = promtool("check", "rules", *map(str, paths))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stack", [*STACKS, "all-on"])
def test_recording_contract_names_exist(stack):
    documents = rendered(stack)
    records = {rule["record"] for _, rule in all_rules(documents) if "record" in rule}
    settings = stack_settings(stack) if stack != "all-on" else all_on_settings()
    expected = set(CONTRACT)
    # Domain recordings exist where their exporter runs.
    for exporter, prefix in (("node", "instance"), ("cadvisor", "container:"), ("dcgm", "gpu:"), ("vllm", "model_name:")):
        if settings.exporters.mode(exporter) == "off":
            expected = {name for name in expected if not name.startswith(prefix)}
    assert expected <= records, sorted(expected - records)
    quantiles = {
        rule["labels"]["quantile"]
        for _, rule in all_rules(documents)
        if rule.get("record") == "model_name:vllm_time_to_first_token_seconds:histogram_quantile"
    }
    if settings.exporters.mode("vllm") != "off":
        assert quantiles == {"0.5", "0.95", "0.99"}


def test_exporter_mode_info_follows_the_rollout_state():
    settings = all_on_settings()
    modes = {
        rule["labels"]["exporter"]: rule["labels"]["mode"]
        for _, rule in all_rules(render_rule_files(settings))
        if rule.get("record") == "monitoring:exporter_mode:info"
    }
    assert modes == {name: spec["mode"] for name, spec in ALL_ON["exporters"].items()}


@pytest.mark.parametrize("stack", [*STACKS, "all-on"])
def test_every_alert_follows_the_conventions(stack):
    settings = stack_settings(stack) if stack != "all-on" else all_on_settings()
    for file_name, rule in all_rules(rendered(stack)):
        if "alert" not in rule:
            continue
        name = rule["alert"]
        domain = file_name.removesuffix(".yml")
        assert re.fullmatch(r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+|Watchdog", name), name
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
        assert rule["labels"]["component"], name
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url", "dashboard_url"}, name
        assert annotations["runbook_url"] == f"docs/runbooks/{domain}.md#{name.lower()}"
        uid = annotations["dashboard_url"].rsplit("/d/", 1)[1]
        assert annotations["dashboard_url"] == f"{settings.grafana_url}/d/{uid}" and uid in DASHBOARD_UIDS, name
        assert "{threshold}" not in annotations["summary"] + annotations["description"] + rule["expr"], name


def test_runbook_base_url_applies_to_every_alert():
    settings = all_on_settings(runbook_base_url="https://git.example.org/ops/monitoring/-/blob/main")
    alerts = all_alerts(render_rule_files(settings))
    assert alerts
    for alert in alerts:
        assert alert["annotations"]["runbook_url"].startswith(
            "https://git.example.org/ops/monitoring/-/blob/main/docs/runbooks/"
        ), alert["alert"]
    watchdog = next(a for a in alerts if a["alert"] == "Watchdog")
    assert watchdog["annotations"]["runbook_url"] == (
        "https://git.example.org/ops/monitoring/-/blob/main/docs/runbooks/stack.md#watchdog"
    )


def test_target_alerts_follow_what_the_stack_deploys():
    settings = parse_settings(
        {"exporters": {"node": {"mode": "real"}, "cadvisor": {"mode": "mock"}, "dcgm": {"mode": "off"},
                       "vllm": {"mode": "off"}, "postgres": {"mode": "real"}, "blackbox": {"mode": "off"},
                       "pushgateway": {"mode": "off"}}},
        "test",
    )
    names = {alert["alert"] for alert in all_alerts(render_rule_files(settings))}
    # Alloy is the default log collector: Promtail, not deployed, is not watched.
    for deployed in ("Prometheus", "Alertmanager", "Grafana", "Loki", "Alloy", "Node", "Cadvisor", "Postgres"):
        assert {f"{deployed}TargetDown", f"{deployed}TargetAbsent", f"{deployed}TargetFlapping"} <= names
    for absent in ("Promtail", "Dcgm", "Vllm", "Redis", "Blackbox", "Pushgateway"):
        assert not {n for n in names if n.startswith(absent)}, absent
    # No GPU or LLM alert at all once those exporters are off, and no drift alert without a shadow.
    assert not {n for n in names if n.startswith(("Gpu", "Llm"))}
    assert "IntegrityMockRealDrift" not in names


def test_target_alerts_select_by_exporter_label_not_job():
    for alert in all_alerts(rendered("all-on")):
        for selector in selectors(alert["expr"]):
            assert "job" not in {name for name, _, _ in matchers(selector)}, alert["alert"]


def test_drift_alert_only_for_exporters_in_shadow():
    drift = next(a for a in all_alerts(rendered("all-on")) if a["alert"] == "IntegrityMockRealDrift")
    assert 'exporter=~"node"' in drift["expr"]


def test_e2e_subset_of_services_drops_their_alerts():
    settings = all_on_settings()
    modules = rule_modules(RuleContext.from_settings(settings, services=("prometheus", "alertmanager")))
    names = {alert.name for module in modules for alert in module.alerts}
    assert "PrometheusTargetDown" in names and "AlertmanagerNotificationsFailing" in names
    assert not {n for n in names if n.startswith(("Grafana", "Loki", "Promtail"))}


def _alert(documents: dict, name: str) -> dict:
    return next(a for a in all_alerts(documents) if a["alert"] == name)


def test_override_changes_threshold_for_severity_and_labels():
    settings = all_on_settings(
        rule_overrides={
            "NodeHighCpuUtilisation": {"threshold": 0.75, "for": "30m", "severity": "critical", "labels": {"team": "infra"}},
        }
    )
    alert = _alert(render_rule_files(settings), "NodeHighCpuUtilisation")
    assert alert["expr"] == 'instance:node_cpu_utilisation:rate5m{exporter="node"} > 0.75'
    assert alert["for"] == "30m"
    assert alert["labels"] == {"severity": "critical", "component": "node", "team": "infra"}
    assert "above 75%" in alert["annotations"]["description"]
    # Untouched alerts keep their defaults.
    other = _alert(render_rule_files(settings), "NodeHighMemoryUtilisation")
    assert other["expr"].endswith("> 0.9") and other["for"] == "15m" and other["labels"]["severity"] == "warning"


def test_disabled_rules_are_left_out():
    settings = all_on_settings(disabled_rules=["GpuUtilisationStuckAtZero", "NodeTargetFlapping"])
    names = {a["alert"] for a in all_alerts(render_rule_files(settings))}
    assert "GpuUtilisationStuckAtZero" not in names and "NodeTargetFlapping" not in names
    assert "GpuUtilisationPinnedAtMax" in names


@pytest.mark.parametrize(
    ("alerting", "line"),
    [
        (
            {"rule_overrides": {"NodeHighCpuUtilization": {"threshold": 0.8}}},
            'monitoring:alerting.rule_overrides.NodeHighCpuUtilization: {"threshold": 0.8} names no alert of this '
            "stack; did you mean NodeHighCpuUtilisation?",
        ),
        (
            {"disabled_rules": ["Watchdog", "nodeDown"]},
            'monitoring:alerting.disabled_rules[1]: "nodeDown" is not an alert name (PascalCase like NodeHighCpuUtilisation)',
        ),
        (
            {"rule_overrides": {"Watchdog": {"severity": "page"}}},
            "monitoring:alerting.rule_overrides.Watchdog.severity: \"page\" is not allowed; allowed: 'critical', 'warning' or 'info'",
        ),
        (
            {"rule_overrides": {"Watchdog": {"treshold": 1}}},
            "monitoring:alerting.rule_overrides.Watchdog.treshold: unknown setting; known keys here: for, labels, "
            "severity, threshold",
        ),
    ],
)
def test_bad_override_is_one_clear_line(alerting, line):
    with pytest.raises(SettingsError) as error:
        parse_settings({"alerting": alerting}, "test")
    assert error.value.lines == [line]


def test_threshold_override_on_an_alert_without_threshold_is_rejected():
    settings = all_on_settings(rule_overrides={"Watchdog": {"threshold": 3}})
    with pytest.raises(SettingsError) as error:
        render_rule_files(settings)
    assert error.value.lines == [
        "monitoring:alerting.rule_overrides.Watchdog.threshold: 3 is not allowed: Watchdog has no threshold"
    ]


def test_override_of_a_generated_alert_for_a_disabled_exporter_is_still_a_known_name():
    # Names are checked against every alert a stack could have, so switching an exporter off does
    # not turn its overrides into errors.
    settings = parse_settings(
        {"exporters": {"dcgm": {"mode": "off"}, "vllm": {"mode": "off"}},
         "alerting": {"rule_overrides": {"GpuTemperatureHigh": {"threshold": 80}}}},
        "test",
    )
    assert "GpuTemperatureHigh" not in {a["alert"] for a in all_alerts(render_rule_files(settings))}


def test_for_scale_shortens_every_for():
    fast = render_rule_files(all_on_settings(for_scale=0.1))
    normal = render_rule_files(all_on_settings())
    normal_for = {a["alert"]: a.get("for", "0s") for a in all_alerts(normal)}
    for alert in all_alerts(fast):
        expected = duration_seconds(normal_for[alert["alert"]]) * 0.1 if normal_for[alert["alert"]] != "0s" else 0
        got = duration_seconds(alert["for"]) if "for" in alert else 0
        assert abs(got - expected) < 1, alert["alert"]


# --- No selector or window outside the config --------------------------------------------------

SENTINEL_DURATIONS = ["7m13s", "17m11s", "1h7m", "3h1m", "9m7s", "2h13m", "5h3m", "1d1h", "2d5h", "4m1s"]


def _sentinel(config):
    """The config with every selector a sentinel matcher and every duration a distinct odd one."""
    changes, windows = {}, set()
    durations_left = iter(SENTINEL_DURATIONS)
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if "selector" in field.name:
            changes[field.name] = 'sentinel="{name}"' if "{name}" in value else 'sentinel="s"'
        elif isinstance(value, str) and re.fullmatch(r"(\d+[dhms])+", value):
            changes[field.name] = next(durations_left)
            windows.add(duration_seconds(changes[field.name]))
    return dataclasses.replace(config, **changes), windows


MODULES = {"node": node, "containers": containers, "gpu": gpu, "llm": llm, "stack": stack, "targets": targets,
           "integrity": integrity, "capacity": capacity, "traces": traces, "signals": signals, "backup": backup}


@pytest.mark.parametrize("domain", sorted(MODULES))
def test_every_expression_uses_the_configured_selector_and_windows(domain):
    module = MODULES[domain]
    config, windows = _sentinel(module.CONFIG)
    built = module.build(RuleContext.from_settings(all_on_settings()), config)
    assert built is not None
    for group in built.groups:
        for rule in group.rules:
            expr = rule.expr.replace("{threshold}", "1") if isinstance(rule, AlertRule) else rule.expr
            name = getattr(rule, "name", None) or rule.record
            for selector in selectors(expr):
                assert any(n == "sentinel" for n, _, _ in matchers(selector)), f"{name}: {selector} ignores the selector"
            for duration in durations(expr):
                assert duration.total_seconds() in windows, f"{name}: window {duration} is not from the config"


def test_slo_expressions_use_the_configured_windows_and_selector():
    from rules.slo import BUDGET_WINDOW, BurnRate, SloConfig

    config = SloConfig(
        selector='sentinel="{name}"',
        page=(BurnRate(14.4, "1h7m", "7m13s"), BurnRate(6, "5h3m", "17m11s")),
        ticket=(BurnRate(3, "1d1h", "2h13m"), BurnRate(1, "2d5h", "3h1m")),
    )
    windows = {duration_seconds(w) for w in config.windows()}
    assert duration_seconds(BUDGET_WINDOW) in windows
    sli = SloSettings(name="sentinel", description="x", objective=0.99,
                      bad='sum(rate(errors{sentinel="sli"}[$window]))', total='sum(rate(requests{sentinel="sli"}[$window]))')
    ctx = RuleContext(modes={}, slos=(sli,))
    built = slo.build(ctx, config)
    for group in built.groups:
        for rule in group.rules:
            name = getattr(rule, "name", None) or rule.record
            for selector in selectors(rule.expr):
                if selector.name == "vector":
                    continue
                assert any(n == "sentinel" for n, _, _ in matchers(selector)), f"{name}: {selector}"
            for duration in durations(rule.expr):
                assert duration.total_seconds() in windows, f"{name}: {duration}"


def test_sentinel_tests_cover_every_module():
    # slo and sla take their queries and windows from the settings: tests/rules/test_slo.py, test_sla.py.
    assert {m.__name__.rsplit(".", 1)[1] for m in RULE_MODULES} == set(MODULES) | {"slo", "sla"}


def test_window_scale_shrinks_every_window_but_not_the_deployed_rules():
    from rules import render_modules

    settings = all_on_settings()
    assert render_modules(settings) == render_rule_files(settings)
    scaled = render_modules(settings, window_scale=1 / 15)
    cpu = next(r for _, r in all_rules(scaled) if r.get("record") == "instance:node_cpu_utilisation:rate5m")
    assert "[20s]" in cpu["expr"]
