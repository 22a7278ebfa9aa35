"""Data integrity: per-exporter scrape health and rollout state, series going stale, values
outside their physical range, and mock-vs-real drift while an exporter runs in shadow."""

from __future__ import annotations

import re
from dataclasses import dataclass

from exporters.contracts import CONTRACTS, sample_names
from render.exporters import DROPPED
from rules.common import RuleContext, sel
from rules.model import AlertCase, AlertRule, ExpectedAlert, RecordingRule, RuleGroup, RuleModule, Series
from rules.text import INSTANCE, THRESHOLD, VALUE, VALUE_PCT, label

BY_SOURCE = "env, exporter, source"
CONTRACT_GROUP = "integrity.contract.rules"
MOCK = 'source="mock"'
REAL = 'source="real"'


@dataclass(frozen=True)
class IntegrityConfig:
    # Every exporter series (the stack's own services have no exporter label).
    selector: str = 'exporter!=""'
    # Series count is compared with this long ago to see series going stale en masse.
    compare_offset: str = "1h"


CONFIG = IntegrityConfig()


@dataclass(frozen=True)
class RangeCheck:
    """A value that cannot be outside a range on a healthy exporter: an out-of-range value is a
    broken exporter, a unit mix-up or a mock gone wrong."""

    name: str
    exporter: str
    expr: str  # `{s}` is the selector
    bad_series: tuple[Series, ...]
    good_series: tuple[Series, ...]
    labels: dict[str, str]


def _labels(exporter: str, **extra: str) -> dict[str, str]:
    return {"env": "test", "exporter": exporter, "source": "mock", "job": f"{exporter}-mock",
            "instance": f"host-1:{exporter}", **extra}


def _s(metric: str, labels: dict[str, str]) -> str:
    return metric + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


_GPU = _labels("dcgm", gpu="0")
_NODE = _labels("node")
_VLLM = _labels("vllm", model_name="llama-3-8b", engine="0")
_CONTAINER = _labels("cadvisor", name="vllm", id="/docker/abc", image="vllm/vllm-openai:v0.10.0")

RANGE_CHECKS = (
    RangeCheck(
        "gpu_utilisation_0_100", "dcgm", "DCGM_FI_DEV_GPU_UTIL{s} < 0 or DCGM_FI_DEV_GPU_UTIL{s} > 100",
        (Series(_s("DCGM_FI_DEV_GPU_UTIL", _GPU), "150x20"),), (Series(_s("DCGM_FI_DEV_GPU_UTIL", _GPU), "50x20"),), _GPU,
    ),
    RangeCheck(
        "memory_available_within_total", "node", "node_memory_MemAvailable_bytes{s} > node_memory_MemTotal_bytes{s}",
        (Series(_s("node_memory_MemAvailable_bytes", _NODE), "20x20"), Series(_s("node_memory_MemTotal_bytes", _NODE), "10x20")),
        (Series(_s("node_memory_MemAvailable_bytes", _NODE), "5x20"), Series(_s("node_memory_MemTotal_bytes", _NODE), "10x20")),
        _NODE,
    ),
    RangeCheck(
        "kv_cache_usage_0_1", "vllm", "vllm:kv_cache_usage_perc{s} < 0 or vllm:kv_cache_usage_perc{s} > 1",
        (Series(_s("vllm:kv_cache_usage_perc", _VLLM), "-0.5x20"),), (Series(_s("vllm:kv_cache_usage_perc", _VLLM), "0.5x20"),),
        _VLLM,
    ),
    RangeCheck(
        "working_set_within_usage", "cadvisor",
        "container_memory_working_set_bytes{s} > container_memory_usage_bytes{s}",
        (Series(_s("container_memory_working_set_bytes", _CONTAINER), "200x20"),
         Series(_s("container_memory_usage_bytes", _CONTAINER), "100x20")),
        (Series(_s("container_memory_working_set_bytes", _CONTAINER), "50x20"),
         Series(_s("container_memory_usage_bytes", _CONTAINER), "100x20")),
        _CONTAINER,
    ),
)


def dropped_by_scrape(exporter: str, name: str) -> bool:
    """Whether the scrape job's metric relabeling drops this sample name on purpose."""
    return any(
        rule.get("action") == "drop"
        and rule.get("source_labels") == ["__name__"]
        and re.fullmatch(rule["regex"], name)
        for rule in DROPPED.get(exporter, [])
    )


def contract_names(exporter: str) -> list[str]:
    """The contract's sample names that reach Prometheus (the scrape config drops some on purpose)."""
    return sorted(
        name
        for family in CONTRACTS[exporter].families
        for name in sample_names(family)
        if not dropped_by_scrape(exporter, name)
    )


def contract_missing(ctx: RuleContext, c: IntegrityConfig) -> tuple[RecordingRule, ...]:
    """Per deployed exporter, env and source: how many of its contract's sample names no target
    serves. Counting names means grouping every series of the exporter, which at fleet scale is
    the dearest query there is: recorded on a slow interval, not at every dashboard load. Only
    names of the contract are counted, so the extra families a real exporter serves (go_*,
    process_*) cannot hide a missing one."""
    rules = []
    for exporter in CONTRACTS:
        if not ctx.enabled(exporter):
            continue
        names = contract_names(exporter)
        series = sel(c.selector, f'exporter="{exporter}"', f'__name__=~"{"|".join(names)}"')
        rules.append(
            RecordingRule(
                "exporter_source:contract_sample_names_missing:count",
                f"{len(names)} - count by ({BY_SOURCE}) (group by (__name__, {BY_SOURCE}) ({series}))",
            )
        )
    return tuple(rules)


def recordings(ctx: RuleContext, c: IntegrityConfig) -> tuple[RecordingRule, ...]:
    s = sel(c.selector)
    env = {"env": ctx.environment} if ctx.environment else {}
    return (
        RecordingRule("exporter_source:up:sum", f"sum by ({BY_SOURCE}) (up{s})"),
        RecordingRule("exporter_source:scrape_samples_scraped:sum", f"sum by ({BY_SOURCE}) (scrape_samples_scraped{s})"),
        RecordingRule(
            "exporter:scrape_samples_mock_real:ratio",
            f"exporter_source:scrape_samples_scraped:sum{sel(c.selector, MOCK)}"
            f" / ignoring (source) exporter_source:scrape_samples_scraped:sum{sel(c.selector, REAL)}",
        ),
        # The rollout state as a series, so dashboards and alerts can show and join it.
        *(
            RecordingRule("monitoring:exporter_mode:info", "vector(1)", labels={**env, "exporter": name, "mode": mode})
            for name, mode in sorted(ctx.modes.items())
        ),
    )


def alerts(ctx: RuleContext, c: IntegrityConfig) -> tuple[AlertRule, ...]:
    s = sel(c.selector)
    samples = f"exporter_source:scrape_samples_scraped:sum{s}"
    stale_labels = {"env": "test", "exporter": "node", "source": "mock", "job": "node-mock", "instance": "host-1:9100"}
    stale_expected = {k: stale_labels[k] for k in ("env", "exporter", "source")}
    checks = tuple(check for check in RANGE_CHECKS if ctx.enabled(check.exporter))
    rules = [
        AlertRule(
            name="IntegritySeriesWentStale",
            expr=f"{samples} < {{threshold}} * ({samples} offset {c.compare_offset})"
            f" and exporter_source:up:sum{s} > 0",
            threshold=0.5,
            threshold_format="{:.0%}",
            for_="15m",
            severity="warning",
            summary=f"{label('exporter')} ({label('source')}) serves far fewer samples than {c.compare_offset} ago.",
            description=f"The {label('exporter')} targets are up but serve less than {THRESHOLD} of the samples they "
            f"served {c.compare_offset} ago ({VALUE} now): series went stale, a collector failed or hosts dropped out.",
            dashboard="data-validation",
            cases=(
                AlertCase(
                    "dropped",
                    (Series(_s("scrape_samples_scraped", stale_labels), "1000x70 100x30"), Series(_s("up", stale_labels), "1x100")),
                    "90m",
                    (ExpectedAlert(stale_expected, "node (mock) serves far fewer samples than 1h ago.",
                                   "The node targets are up but serve less than 50% of the samples they served 1h "
                                   "ago (100 now): series went stale, a collector failed or hosts dropped out."),),
                ),
                AlertCase(
                    "steady",
                    (Series(_s("scrape_samples_scraped", stale_labels), "1000x100"), Series(_s("up", stale_labels), "1x100")),
                    "90m",
                ),
            ),
        ),
    ]
    if checks:
        expr = " or ".join(
            f'label_replace({check.expr.format(s=sel(c.selector))}, "check", "{check.name}", "", "")' for check in checks
        )
        fire_cases = tuple(
            AlertCase(
                check.name,
                check.bad_series,
                "10m",
                (ExpectedAlert({**check.labels, "check": check.name},
                               f"{check.labels['exporter']} on {check.labels['instance']} serves an impossible value "
                               f"({check.name}).",
                               "A value outside its physical range was scraped: the exporter is broken, a unit "
                               "changed, or a mock is misconfigured. Dashboards and alerts built on it are wrong."),),
            )
            for check in checks
        )
        ok = AlertCase("all in range", tuple(series for check in checks for series in check.good_series), "10m")
        rules.append(
            AlertRule(
                name="IntegrityValueOutOfRange",
                expr=expr,
                for_="5m",
                severity="warning",
                summary=f"{label('exporter')} on {INSTANCE} serves an impossible value ({label('check')}).",
                description="A value outside its physical range was scraped: the exporter is broken, a unit changed, "
                "or a mock is misconfigured. Dashboards and alerts built on it are wrong.",
                dashboard="data-validation",
                cases=(*fire_cases, ok),
            )
        )
    shadowed = ctx.exporters_in("shadow")
    if shadowed:
        in_shadow = f'exporter=~"{"|".join(shadowed)}"'
        ratio = f"exporter:scrape_samples_mock_real:ratio{sel(c.selector, in_shadow)}"
        exporter = shadowed[0]
        mock = {"env": "test", "exporter": exporter, "source": "mock", "job": f"{exporter}-mock", "instance": "m:1"}
        real = {"env": "test", "exporter": exporter, "source": "real", "job": exporter, "instance": "r:1"}
        rules.append(
            AlertRule(
                name="IntegrityMockRealDrift",
                expr=f"abs(1 - {ratio}) > {{threshold}}",
                threshold=0.2,
                threshold_format="{:.0%}",
                for_="30m",
                severity="warning",
                summary=f"Mock and real {label('exporter')} differ by {VALUE_PCT} in samples served.",
                description=f"While {label('exporter')} runs in shadow, its mock and real exporter differ by more than "
                f"{THRESHOLD} in samples served: dashboards will change when the mock is switched off. Compare the "
                "series on the data-validation dashboard before promoting it to real.",
                dashboard="data-validation",
                cases=(
                    AlertCase(
                        "drifting",
                        (Series(_s("scrape_samples_scraped", mock), "1000x50"), Series(_s("scrape_samples_scraped", real), "500x50")),
                        "40m",
                        (ExpectedAlert({"env": "test", "exporter": exporter},
                                       f"Mock and real {exporter} differ by 100% in samples served.",
                                       f"While {exporter} runs in shadow, its mock and real exporter differ by more than "
                                       "20% in samples served: dashboards will change when the mock is switched off. "
                                       "Compare the series on the data-validation dashboard before promoting it to real."),),
                    ),
                    AlertCase(
                        "matching",
                        (Series(_s("scrape_samples_scraped", mock), "1000x50"), Series(_s("scrape_samples_scraped", real), "1000x50")),
                        "40m",
                    ),
                ),
            )
        )
    return tuple(rules)


def build(ctx: RuleContext, config: IntegrityConfig = CONFIG) -> RuleModule:
    return RuleModule(
        domain="integrity",
        component="integrity",
        groups=(
            RuleGroup("integrity.rules", recordings(ctx, config)),
            # Reads every exporter series: on the slow groups' interval (alerting.slo_long_interval),
            # as completeness changes only when an exporter is deployed or reconfigured.
            RuleGroup(CONTRACT_GROUP, contract_missing(ctx, config), interval=ctx.slo_long_interval),
            RuleGroup("integrity.alerts", alerts(ctx, config)),
        ),
    )
