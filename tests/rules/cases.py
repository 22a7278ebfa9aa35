"""`promtool test rules` files from the cases next to each alert, with expectations the renderer
cannot bend: the series, times, expected summaries and descriptions come from each alert's cases,
and its severity, component and dashboard from the reviewed table `expected_alerts.yaml` — never
from the rule being checked, so a rule whose severity changes fails its own cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from rules import render_group, rule_modules
from rules.common import RuleContext, stack_services
from settings import StackSettings

REVIEWED_TABLE = Path(__file__).with_name("expected_alerts.yaml")


@dataclass(frozen=True)
class Reviewed:
    """What review decided an alert carries: the rule file it lives in, the labels on every one of
    its notifications (severity, component and any an override adds) and its dashboard uid."""

    domain: str
    dashboard: str
    labels: Mapping[str, str] = field(default_factory=dict)


def reviewed_alerts(path: Path = REVIEWED_TABLE) -> dict[str, Reviewed]:
    table = yaml.safe_load(path.read_text())
    return {
        name: Reviewed(domain, entry["dashboard"], {"severity": entry["severity"], "component": entry["component"]})
        for domain, alerts in table.items()
        for name, entry in alerts.items()
    }


def with_changes(reviewed: Mapping[str, Reviewed], name: str, **labels: str) -> dict[str, Reviewed]:
    """The table with `labels` set on one alert: what a test that overrides that alert expects."""
    changed = dict(reviewed)
    changed[name] = Reviewed(reviewed[name].domain, reviewed[name].dashboard, {**reviewed[name].labels, **labels})
    return changed


def _runbook(settings: StackSettings, entry: Reviewed, name: str) -> str:
    path = f"docs/runbooks/{entry.domain}.md#{name.lower()}"
    base = settings.alerting.runbook_base_url
    return f"{base}/{path}" if base else path


def promtool_tests(
    settings: StackSettings, reviewed: Mapping[str, Reviewed], services: tuple[str, ...] | None = None
) -> dict[str, dict[str, Any]]:
    """`<domain>.test.yml` -> a `promtool test rules` document over `<domain>.yml`. The cases hold
    for the default thresholds and `for`s: alerts whose threshold or `for` is overridden are left
    out; a severity or label override is checked against `reviewed`, which the caller adjusts."""
    alerting = settings.alerting
    services = services if services is not None else stack_services(settings)
    files: dict[str, dict[str, Any]] = {}
    for module in rule_modules(RuleContext.from_settings(settings, services)):
        tests = []
        for alert in module.alerts:
            override = alerting.rule_overrides.get(alert.name)
            if alert.name in alerting.disabled_rules or (override and (override.threshold is not None or override.for_)):
                continue
            if alert.name not in reviewed:
                raise KeyError(f"{alert.name} is not in {REVIEWED_TABLE.name}: review its severity, component and dashboard there")
            entry = reviewed[alert.name]
            tests += [
                {
                    "name": f"{alert.name}: {case.name}",
                    "interval": case.interval,
                    "input_series": [{"series": s.series, "values": s.values} for s in case.series],
                    "alert_rule_test": [
                        {
                            "eval_time": case.eval_time,
                            "alertname": alert.name,
                            "exp_alerts": [
                                {
                                    "exp_labels": {**expected.labels, **entry.labels},
                                    "exp_annotations": {
                                        "summary": expected.summary,
                                        "description": expected.description,
                                        "runbook_url": _runbook(settings, entry, alert.name),
                                        "dashboard_url": f"{settings.grafana_url}/d/{entry.dashboard}",
                                    },
                                }
                                for expected in case.alerts
                            ],
                        }
                    ],
                }
                for case in alert.cases
            ]
        if tests:
            # promtool evaluates a file's groups in random (Go map) order unless told: recording
            # groups first, so an alert reads this minute's recorded value on every run.
            rendered = [doc for doc in (render_group(g, module, settings) for g in module.groups) if doc]
            recording_first = sorted(rendered, key=lambda doc: not all("record" in rule for rule in doc["rules"]))
            files[f"{module.domain}.test.yml"] = {
                "rule_files": [f"{module.domain}.yml"],
                "evaluation_interval": "1m",
                "group_eval_order": [doc["name"] for doc in recording_first],
                "tests": tests,
            }
    return files
