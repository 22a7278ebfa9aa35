"""Small helpers every rule module shares: selectors, what a module is built from, durations."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Mapping

from settings.types import duration_seconds

if TYPE_CHECKING:
    from rules.capacity import Sizes
    from settings.alerting import SloSettings
    from settings.capacity import CapacitySettings
    from settings.sla import SlaSettings
    from settings.model import StackSettings

# The stack's own services; each is scraped as job `<name>` with label `service="<name>"`. The
# log collector is Promtail or Alloy (`logs.collector`): only the one a stack runs gets alerts.
# Tempo and Pyroscope run while their signal is on (`settings.runs_traces`, `runs_profiles`).
STACK_SERVICES = ("prometheus", "alertmanager", "grafana", "loki", "promtail", "tempo", "pyroscope")
LOG_COLLECTORS = ("promtail", "alloy")
EVERY_STACK_SERVICE = STACK_SERVICES + ("alloy",)


def stack_services(settings: "StackSettings") -> tuple[str, ...]:
    """The stack services a stack deploys: the core four, its one log collector, Tempo and Pyroscope when on."""
    idle = {"tempo": not settings.runs_traces, "pyroscope": not settings.runs_profiles}
    core = tuple(s for s in STACK_SERVICES if s not in LOG_COLLECTORS and not idle.get(s, False))
    return core + (settings.logs.collector,)


@dataclass(frozen=True)
class RuleContext:
    """What the rule set is built from: each exporter's rollout mode, the SLOs, and the stack
    services actually deployed (all of them in a stack; end-to-end tests run a subset as local
    processes). Not the whole settings, so the settings validator can list every rule name."""

    modes: Mapping[str, str]
    slos: tuple["SloSettings", ...]
    slo_long_interval: str = "5m"
    services: tuple[str, ...] = STACK_SERVICES
    # Value of the `env` label on series the rules create from nothing (vector(1)).
    environment: str = ""
    # The SLAs (`sla` settings); None builds no SLA rules.
    sla: "SlaSettings | None" = None
    # Capacity planning's settings and the sizes no metric reports (rules/capacity.py); None: defaults.
    capacity: "CapacitySettings | None" = None
    capacity_sizes: "Sizes | None" = None
    # Tempo runs (`settings.runs_traces`): its span metrics exist, so the service rules apply.
    traces: bool = True
    # Pyroscope runs (`settings.runs_profiles`): the profile pipeline's rules apply.
    profiles: bool = True
    # The backup job runs (`settings.runs_backups`) and reports to the stack's Pushgateway: its last
    # success may be this old (`backup.stale_after`); None builds no backup rules.
    backup_stale_after: str | None = "26h"

    @classmethod
    def from_settings(cls, settings: "StackSettings", services: tuple[str, ...] = STACK_SERVICES) -> "RuleContext":
        from rules.capacity import sizes_from
        from settings.exporters import ExportersSettings

        exporters = settings.exporters
        modes = {name: exporters.mode(name) for name in ExportersSettings.model_fields if _is_exporter(exporters, name)}
        return cls(
            modes=MappingProxyType(modes),
            slos=settings.alerting.slos,
            slo_long_interval=settings.alerting.slo_long_interval,
            services=services,
            environment=settings.environment,
            sla=settings.sla,
            capacity=settings.capacity,
            capacity_sizes=sizes_from(settings),
            traces=settings.runs_traces,
            profiles=settings.runs_profiles,
            # The job reports through the Pushgateway: without it there is nothing to watch.
            backup_stale_after=settings.backup.stale_after
            if settings.runs_backups and settings.exporters.pushgateway.mode == "real" else None,
        )

    def enabled(self, exporter: str) -> bool:
        return self.modes.get(exporter, "off") != "off"

    def exporters_in(self, *modes: str) -> tuple[str, ...]:
        return tuple(name for name, mode in self.modes.items() if mode in modes)


def _is_exporter(exporters: object, name: str) -> bool:
    return hasattr(getattr(exporters, name), "mode")


def sel(*matchers: str) -> str:
    """`sel('exporter="node"', 'mode="idle"')` -> `{exporter="node",mode="idle"}`; empty parts drop."""
    return "{" + ",".join(m for m in matchers if m) + "}"


def format_duration(seconds: float) -> str:
    """Seconds as a Prometheus duration (`90` -> `1m30s`, `0` -> `0s`)."""
    whole = int(round(seconds))
    if whole <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, whole = divmod(whole, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def scaled(duration: str, factor: float) -> str:
    return format_duration(duration_seconds(duration) * factor) if duration != "0s" else "0s"


def pascal(name: str) -> str:
    """`stack-availability` -> `StackAvailability`."""
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-") if part)
