"""Container (cAdvisor) recording rules and alerts: restarts, OOM kills, memory near its limit."""

from __future__ import annotations

from dataclasses import dataclass

from rules.common import RuleContext, sel
from rules.model import AlertCase, AlertRule, ExpectedAlert, RecordingRule, RuleGroup, RuleModule, Series
from rules.text import INSTANCE, THRESHOLD, VALUE, VALUE_PCT, label


@dataclass(frozen=True)
class ContainersConfig:
    selector: str = 'exporter="cadvisor"'
    # cAdvisor also reports cgroups that are not containers (no name): those are left out.
    named: str = 'name!=""'
    rate_window: str = "5m"
    # Restarts are counted as changes of the container's start time over this window.
    restart_window: str = "15m"


CONFIG = ContainersConfig()

_T = {"env": "test", "exporter": "cadvisor", "source": "mock", "job": "cadvisor-mock", "instance": "host-1:8080",
      "id": "/docker/abc", "image": "vllm/vllm-openai:v0.10.0", "name": "vllm"}
_TL = ",".join(f'{k}="{v}"' for k, v in _T.items())


def recordings(c: ContainersConfig) -> tuple[RecordingRule, ...]:
    s = sel(c.selector, c.named)
    return (
        RecordingRule(
            "container:container_cpu_usage_seconds:rate5m",
            f"sum without (cpu) (rate(container_cpu_usage_seconds_total{s}[{c.rate_window}]))",
        ),
        RecordingRule(
            "container:container_memory_working_set_bytes:ratio_limit",
            f"container_memory_working_set_bytes{s} / (container_spec_memory_limit_bytes{s} > 0)",
        ),
    )


def alerts(c: ContainersConfig) -> tuple[AlertRule, ...]:
    s = sel(c.selector, c.named)
    name = label("name")
    return (
        AlertRule(
            name="ContainerRestarting",
            expr=f"changes(container_start_time_seconds{s}[{c.restart_window}]) > {{threshold}}",
            threshold=0,
            severity="warning",
            summary=f"Container {name} on {INSTANCE} restarted {VALUE} times in {c.restart_window}.",
            description=f"The start time of container {name} changed more than {THRESHOLD} times in "
            f"{c.restart_window}: it is crashing or being restarted. Check its logs on the logs dashboard.",
            dashboard="containers",
            cases=(
                AlertCase(
                    "restarted",
                    (Series(f"container_start_time_seconds{{{_TL}}}", "1000x5 2000x10"),),
                    "10m",
                    (ExpectedAlert(_T, "Container vllm on host-1:8080 restarted 1 times in 15m.",
                                   "The start time of container vllm changed more than 0 times in 15m: it is "
                                   "crashing or being restarted. Check its logs on the logs dashboard."),),
                ),
                AlertCase("stable", (Series(f"container_start_time_seconds{{{_TL}}}", "1000x15"),), "10m"),
            ),
        ),
        AlertRule(
            name="ContainerOomKilled",
            expr=f"increase(container_oom_events_total{s}[{c.rate_window}]) > 0",
            severity="warning",
            summary=f"Container {name} on {INSTANCE} was OOM-killed.",
            description=f"Container {name} hit its memory limit within the last {c.rate_window} and a process "
            "in it was killed. Raise its limit or find the leak.",
            dashboard="containers",
            cases=(
                AlertCase(
                    "oom",
                    (Series(f"container_oom_events_total{{{_TL}}}", "0x5 1x10"),),
                    "8m",
                    (ExpectedAlert(_T, "Container vllm on host-1:8080 was OOM-killed.",
                                   "Container vllm hit its memory limit within the last 5m and a process in it was "
                                   "killed. Raise its limit or find the leak."),),
                ),
                AlertCase("no oom", (Series(f"container_oom_events_total{{{_TL}}}", "2x15"),), "8m"),
            ),
        ),
        AlertRule(
            name="ContainerMemoryNearLimit",
            expr=f"container:container_memory_working_set_bytes:ratio_limit{sel(c.selector)} > {{threshold}}",
            threshold=0.9,
            threshold_format="{:.0%}",
            for_="15m",
            severity="warning",
            summary=f"Container {name} on {INSTANCE} uses {VALUE_PCT} of its memory limit.",
            description=f"The working set of {name} has stayed above {THRESHOLD} of its limit; the next spike "
            "gets it OOM-killed.",
            dashboard="containers",
            cases=(
                AlertCase(
                    "near limit",
                    (
                        Series(f"container_memory_working_set_bytes{{{_TL}}}", "950x30"),
                        Series(f"container_spec_memory_limit_bytes{{{_TL}}}", "1000x30"),
                    ),
                    "20m",
                    (ExpectedAlert(_T, "Container vllm on host-1:8080 uses 95% of its memory limit.",
                                   "The working set of vllm has stayed above 90% of its limit; the next spike gets "
                                   "it OOM-killed."),),
                ),
                AlertCase(
                    "unlimited",
                    (
                        Series(f"container_memory_working_set_bytes{{{_TL}}}", "950x30"),
                        Series(f"container_spec_memory_limit_bytes{{{_TL}}}", "0x30"),
                    ),
                    "20m",
                ),
            ),
        ),
    )


def build(ctx: RuleContext, config: ContainersConfig = CONFIG) -> RuleModule | None:
    if not ctx.enabled("cadvisor"):
        return None
    return RuleModule(
        domain="containers",
        component="containers",
        groups=(RuleGroup("containers.rules", recordings(config)), RuleGroup("containers.alerts", alerts(config))),
    )
