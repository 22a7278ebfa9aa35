"""Every alert name a stack could have, for validating `rule_overrides` and `disabled_rules`.

Built from a context in which every exporter runs (mocked ones in shadow, so the drift alert
exists too) and every stack service is deployed; SLO alerts follow the stack's SLO names.
"""

from __future__ import annotations

from types import MappingProxyType

from settings.alerting import SloSettings
from settings.exporters import ExportersSettings, RealOnlyExporterSettings


def _everything_on() -> dict[str, str]:
    modes = {}
    for name, field in ExportersSettings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, RealOnlyExporterSettings):
            modes[name] = "real"
        elif isinstance(annotation, type) and hasattr(annotation, "model_fields") and "mode" in annotation.model_fields:
            modes[name] = "shadow"
    return modes


def known_alert_names(slo_names: tuple[str, ...]) -> frozenset[str]:
    from rules import rule_modules
    from rules.common import EVERY_STACK_SERVICE, RuleContext

    slos = tuple(
        SloSettings(name=name, description=name, objective=0.99, total="x[$window]", bad="x[$window]")
        for name in slo_names
    )
    from settings.sla import SlaSettings

    # SLA alerts are named once for every SLA (the `sla` label tells them apart): the defaults list them.
    ctx = RuleContext(modes=MappingProxyType(_everything_on()), slos=slos, services=EVERY_STACK_SERVICE, sla=SlaSettings())
    return frozenset(alert.name for module in rule_modules(ctx) for alert in module.alerts)
