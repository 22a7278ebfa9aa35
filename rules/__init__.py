"""Recording and alert rules as data, rendered to Prometheus rule files (one per domain).

`render_rule_files(settings)` is what the stack deploys under `/etc/prometheus/rules/`. The stack's
`alerting.rule_overrides` change any alert's threshold, `for`, severity or labels by name, and
`alerting.disabled_rules` drop alerts. The cases next to each alert become `promtool test rules`
files in the tests (tests/rules/cases.py), whose expected severities come from a reviewed table.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

from rules import backup, capacity, containers, gpu, integrity, llm, node, signals, sla, slo, stack, targets, traces
from rules.common import RuleContext, scaled, stack_services
from rules.model import AlertRule, RuleGroup, RuleModule
from settings.alerting import AlertingSettings, RuleOverride
from settings.errors import SettingsError, config_key

if TYPE_CHECKING:
    from settings.model import StackSettings

# One module per domain; each has a `CONFIG` (selectors, windows, thresholds) and `build(ctx, config)`.
MODULES = (stack, targets, node, containers, gpu, llm, integrity, capacity, slo, sla, traces, signals, backup)
DURATION = re.compile(r"(\d+[dhms])+")
# Alerts that by design have no "must not fire" case.
ALWAYS_FIRING = frozenset({"Watchdog"})


def rule_modules(ctx: RuleContext, window_scale: float = 1.0) -> tuple[RuleModule, ...]:
    """Every domain's rules for this context. `window_scale` shrinks the windows of the domain
    configs for end-to-end runs that last seconds (recording names keep their nominal window);
    the deployed rules always use 1."""
    built = (module.build(ctx, scale_windows(module.CONFIG, window_scale)) for module in MODULES)
    return tuple(result for result in built if result is not None)


def scale_windows(config: Any, factor: float) -> Any:
    if factor == 1.0:
        return config
    changes = {
        field.name: scaled(value, factor)
        for field in dataclasses.fields(config)
        if isinstance(value := getattr(config, field.name), str) and DURATION.fullmatch(value)
    }
    return dataclasses.replace(config, **changes)


def runbook_url(alerting: AlertingSettings, domain: str, alert: str) -> str:
    path = f"docs/runbooks/{domain}.md#{alert.lower()}"
    return f"{alerting.runbook_base_url}/{path}" if alerting.runbook_base_url else path


def dashboard_url(settings: "StackSettings", uid: str) -> str:
    return f"{settings.grafana_url}/d/{uid}"


def _text(template: str, alert: AlertRule, threshold: float | None) -> str:
    if threshold is None:
        return template
    return template.replace("{threshold}", alert.threshold_format.format(threshold))


def effective_labels(alert: AlertRule, module: RuleModule, override: RuleOverride | None) -> dict[str, str]:
    labels = {"component": module.component, **alert.labels}
    labels["severity"] = (override.severity if override and override.severity else None) or alert.severity
    if override:
        labels.update(override.labels)
    return labels


def render_alert(alert: AlertRule, module: RuleModule, settings: "StackSettings") -> dict[str, Any]:
    alerting = settings.alerting
    override = alerting.rule_overrides.get(alert.name)
    threshold = alert.threshold
    if override and override.threshold is not None:
        if alert.threshold is None:
            key = config_key(("alerting", "rule_overrides", alert.name, "threshold"))
            raise SettingsError([f"{key}: {override.threshold:g} is not allowed: {alert.name} has no threshold"])
        threshold = override.threshold
    expr = alert.expr if threshold is None else alert.expr.replace("{threshold}", f"{threshold:g}")
    for_ = override.for_ if override and override.for_ else scaled(alert.for_, alerting.for_scale)
    doc: dict[str, Any] = {
        "alert": alert.name,
        "expr": expr,
        "labels": effective_labels(alert, module, override),
        "annotations": {
            "summary": _text(alert.summary, alert, threshold),
            "description": _text(alert.description, alert, threshold),
            "runbook_url": runbook_url(alerting, module.domain, alert.name),
            "dashboard_url": dashboard_url(settings, alert.dashboard),
        },
    }
    if for_ != "0s":
        doc["for"] = for_
    return doc


def render_group(group: RuleGroup, module: RuleModule, settings: "StackSettings") -> dict[str, Any] | None:
    disabled = set(settings.alerting.disabled_rules)
    rules = [
        render_alert(rule, module, settings) if isinstance(rule, AlertRule) else rule.document()
        for rule in group.rules
        if not (isinstance(rule, AlertRule) and rule.name in disabled)
    ]
    if not rules:
        return None
    doc: dict[str, Any] = {"name": group.name, "rules": rules}
    if group.interval:
        doc["interval"] = group.interval
    return doc


def render_modules(
    settings: "StackSettings", services: tuple[str, ...] | None = None, window_scale: float = 1.0
) -> dict[str, dict[str, Any]]:
    """Rule files for `services` (default: the stack services these settings deploy)."""
    files: dict[str, dict[str, Any]] = {}
    services = services if services is not None else stack_services(settings)
    for module in rule_modules(RuleContext.from_settings(settings, services), window_scale):
        groups = [doc for doc in (render_group(g, module, settings) for g in module.groups) if doc]
        if groups:
            files[f"{module.domain}.yml"] = {"groups": groups}
    return files


def render_rule_files(settings: "StackSettings") -> dict[str, dict[str, Any]]:
    """File name -> rule file document, for `/etc/prometheus/rules/`."""
    return render_modules(settings)
