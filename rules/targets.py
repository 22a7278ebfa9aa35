"""Down, absent and flapping alerts for every scrape target the stack deploys, generated.

The stack's own services always get them; exporters get them per their rollout mode, and an
exporter that is `off` gets none (no alert for what is not deployed). Exporter series are picked by
the `exporter` label (mock and real alike, `source` tells them apart), stack services by `service`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.common import RuleContext, pascal, sel
from rules.model import AlertCase, AlertRule, ExpectedAlert, RuleGroup, RuleModule, Series
from rules.text import INSTANCE, label


@dataclass(frozen=True)
class Target:
    name: str
    title: str
    component: str
    dashboard: str
    # First thing to look at when it is down (runbook diagnosis).
    check: str


EXPORTER_TARGETS = (
    Target("node", "node exporter", "node", "node", "the node exporter process or container on the host, and its port 9100"),
    Target("cadvisor", "cAdvisor", "containers", "containers", "the cAdvisor container, its access to the Docker socket and /sys, and port 8080"),
    Target("dcgm", "DCGM exporter", "gpu", "gpu", "the dcgm-exporter container, the NVIDIA driver (nvidia-smi) and port 9400"),
    Target("vllm", "vLLM server", "llm", "llm-serving", "the vLLM server process and its /metrics endpoint on port 8000"),
    Target("postgres", "PostgreSQL exporter", "database", "stack-overview", "the postgres exporter container, its DSN and the database it connects to (pg_up)"),
    Target("redis", "Redis exporter", "cache", "stack-overview", "the redis exporter container and the Redis server it reaches (redis_up)"),
    Target("blackbox", "blackbox exporter", "probes", "stack-overview", "the blackbox exporter container and its module configuration"),
    Target("pushgateway", "Pushgateway", "batch", "stack-overview", "the Pushgateway container and its persistence file"),
)
SERVICE_TARGETS = (
    Target("prometheus", "Prometheus", "stack", "meta-monitoring", "the Prometheus container, its health check and its TSDB volume"),
    Target("alertmanager", "Alertmanager", "stack", "meta-monitoring", "the Alertmanager container and its configuration (amtool check-config)"),
    Target("grafana", "Grafana", "stack", "meta-monitoring", "the Grafana container, its database volume and its /api/health"),
    Target("loki", "Loki", "stack", "meta-monitoring", "the Loki container, its storage volume and /ready"),
    Target("promtail", "Promtail", "stack", "meta-monitoring", "the Promtail container and its access to the Docker socket"),
    Target("alloy", "Grafana Alloy", "stack", "meta-monitoring", "the Alloy container, its access to the Docker socket and its /-/ready"),
    Target("tempo", "Tempo", "stack", "meta-monitoring", "the Tempo container, its volume (or S3 bucket) and /ready"),
    Target("pyroscope", "Pyroscope", "stack", "meta-monitoring", "the Pyroscope container, its volume and /ready"),
)


@dataclass(frozen=True)
class TargetsConfig:
    # `{name}` is the exporter or service name.
    exporter_selector: str = 'exporter="{name}"'
    service_selector: str = 'service="{name}"'
    # Window in which up changing state this many times counts as flapping.
    flap_window: str = "15m"


CONFIG = TargetsConfig()


def _test_labels(target: Target, is_service: bool) -> dict[str, str]:
    if is_service:
        return {"env": "test", "job": target.name, "service": target.name, "instance": f"{target.name}:9999"}
    return {"env": "test", "exporter": target.name, "source": "real", "job": target.name, "instance": f"{target.name}-1:9999"}


def target_alerts(target: Target, selector: str, is_service: bool, c: TargetsConfig) -> tuple[AlertRule, ...]:
    up = f"up{sel(selector)}"
    labels = _test_labels(target, is_service)
    series = "up{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    prefix = pascal(target.name)
    what = "stack service" if is_service else "exporter"
    common = {"dashboard": target.dashboard, "labels": {"component": target.component}}
    instance = labels["instance"]
    return (
        AlertRule(
            name=f"{prefix}TargetDown",
            expr=f"{up} == 0",
            for_="2m",
            severity="critical" if is_service else "warning",
            summary=f"{target.title} target {INSTANCE} is down.",
            description=f"Prometheus cannot scrape the {target.title} ({what}) at {INSTANCE} "
            f"(job {label('job')}); its metrics and the alerts built on them are missing.",
            cases=(
                AlertCase(
                    "down",
                    (Series(series, "0x10"),),
                    "5m",
                    (ExpectedAlert(labels, f"{target.title} target {instance} is down.",
                                   f"Prometheus cannot scrape the {target.title} ({what}) at {instance} "
                                   f"(job {labels['job']}); its metrics and the alerts built on them are missing."),),
                ),
                AlertCase("up", (Series(series, "1x10"),), "5m"),
            ),
            **common,
        ),
        AlertRule(
            name=f"{prefix}TargetAbsent",
            expr=f"absent({up})",
            for_="5m",
            severity="warning",
            summary=f"No {target.title} target is being scraped.",
            description=f"The stack deploys the {target.title} but Prometheus has no scrape target for it: "
            "its scrape job or service discovery is missing.",
            cases=(
                AlertCase(
                    "absent",
                    (Series('up{job="other",instance="other:1"}', "1x20"),),
                    "10m",
                    (ExpectedAlert(_absent_labels(selector), f"No {target.title} target is being scraped.",
                                   f"The stack deploys the {target.title} but Prometheus has no scrape target for it: "
                                   "its scrape job or service discovery is missing."),),
                ),
                AlertCase("present", (Series(series, "1x20"),), "10m"),
            ),
            **common,
        ),
        AlertRule(
            name=f"{prefix}TargetFlapping",
            expr=f"changes({up}[{c.flap_window}]) > {{threshold}}",
            threshold=3,
            severity="warning",
            summary=f"{target.title} target {INSTANCE} keeps going up and down.",
            description=f"{INSTANCE} changed between up and down more than {{threshold}} times in {c.flap_window}: "
            "it is restarting or its scrapes time out intermittently.",
            cases=(
                AlertCase(
                    "flapping",
                    (Series(series, "1 0 1 0 1 0 1 0 1 0 1"),),
                    "10m",
                    (ExpectedAlert(labels, f"{target.title} target {instance} keeps going up and down.",
                                   f"{instance} changed between up and down more than 3 times in {c.flap_window}: "
                                   "it is restarting or its scrapes time out intermittently."),),
                ),
                AlertCase("one restart", (Series(series, "1 1 1 0 1 1 1 1 1 1 1"),), "10m"),
            ),
            **common,
        ),
    )


def _absent_labels(selector: str) -> dict[str, str]:
    """absent() keeps the equality matchers of its selector as labels."""
    labels = {}
    for matcher in selector.split(","):
        name, op, value = matcher.partition("=")
        if op and not name.endswith(("!", "=")) and not value.startswith(("~", "=")):
            labels[name.strip()] = value.strip().strip('"')
    return labels


def deployed_targets(ctx: RuleContext) -> tuple[tuple[Target, bool], ...]:
    services = tuple((t, True) for t in SERVICE_TARGETS if t.name in ctx.services)
    exporters = tuple((t, False) for t in EXPORTER_TARGETS if ctx.enabled(t.name))
    return services + exporters


def build(ctx: RuleContext, config: TargetsConfig = CONFIG) -> RuleModule | None:
    rules: list[AlertRule] = []
    for target, is_service in deployed_targets(ctx):
        template = config.service_selector if is_service else config.exporter_selector
        rules.extend(target_alerts(target, template.format(name=target.name), is_service, config))
    if not rules:
        return None
    return RuleModule(domain="targets", component="targets", groups=(RuleGroup("targets.alerts", tuple(rules)),))
