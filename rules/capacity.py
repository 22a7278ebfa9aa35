"""Capacity planning: every resource the stack sees as a usage ratio of its capacity, its daily
peak, the growth trend of the peaks, the forecast at the planning horizon, days until full, what to
add to keep the configured headroom, and exhaustion alerts.

Method (chosen by the back-test, tests/capacity/): a straight line fitted to the *daily peaks* over
`trend_window` (`predict_linear` over `max_over_time(...[1d])`). A line through the raw series
forecasts the cycle's mean, not its peak, and misses by the daily amplitude; the peaks of whole
weeks see through daily and weekly cycles. Prometheus' `holt_winters` (renamed
`double_exponential_smoothing` in 3.0, behind a feature flag there) returns the smoothed value at
the end of the range, not a value ahead of it, so it is no horizon forecast.

Cost: the peak is recorded every `evaluation_interval` from the ratio recorded at the global
interval (one day of samples per series); the trend reads `trend_window` of recorded peaks (8,064
samples per series at 5 m), never weeks of raw data (bench/bench_capacity_forecast.py times it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rules.common import RuleContext, sel
from rules.model import AlertCase, AlertRule, ExpectedAlert, RecordingRule, RuleGroup, RuleModule, Series, frozen
from rules.text import label
from settings.capacity import CapacitySettings
from settings.types import byte_size_bytes, duration_seconds

if TYPE_CHECKING:
    from settings.model import StackSettings

USAGE = "capacity:usage:ratio"
SIZE = "capacity:size"
HEADROOM = "capacity:headroom:ratio"
# Recording names keep their nominal window (1d) whatever the configured one.
PEAK = "capacity:usage:ratio_max1d"
TREND = "capacity:usage:ratio_deriv_per_day"
FORECAST = "capacity:usage:ratio_forecast"
DAYS_UNTIL_FULL = "capacity:usage:days_until_full"
RECOMMENDED = "capacity:size:recommended_addition"

DAY = 86400
# Loki sizes its ingestion limit in MiB/s (`bytesInMB = 1048576`, grafana/loki v3.5.3 pkg/validation).
LOKI_MB = 1 << 20


@dataclass(frozen=True)
class CapacityConfig:
    node_selector: str = 'exporter="node"'
    cadvisor_selector: str = 'exporter="cadvisor",name!=""'
    dcgm_selector: str = 'exporter="dcgm"'
    vllm_selector: str = 'exporter="vllm"'
    prometheus_selector: str = 'service="prometheus"'
    loki_selector: str = 'service="loki"'
    # Reads of the recordings above (every capacity series has a resource).
    recorded_selector: str = 'resource!=""'
    pseudo_fstypes: str = "tmpfs|overlay|squashfs|ramfs|nsfs"
    rate_window: str = "5m"
    # Loki's stored bytes arrive in bursts as chunks flush: a longer rate.
    stored_rate_window: str = "1h"
    peak_window: str = "1d"
    # From the settings (capacity.*); see settings/capacity.py.
    horizon: str = "30d"
    trend_window: str = "28d"
    min_history: str = "7d"
    urgent_within: str = "7d"
    headroom: float = 0.2

    def with_settings(self, settings: CapacitySettings | None) -> "CapacityConfig":
        """This config with the windows and headroom the stack set explicitly."""
        if settings is None:
            return self
        names = {f.name for f in dataclasses.fields(self)}
        return dataclasses.replace(self, **{k: getattr(settings, k) for k in settings.model_fields_set if k in names})


_DEFAULTS = CapacitySettings()
CONFIG = CapacityConfig(
    horizon=_DEFAULTS.horizon, trend_window=_DEFAULTS.trend_window, min_history=_DEFAULTS.min_history,
    urgent_within=_DEFAULTS.urgent_within, headroom=_DEFAULTS.headroom,
)


@dataclass(frozen=True)
class Sizes:
    """Capacities no metric reports, from the settings: None leaves that resource out."""

    prometheus_max_series: int = _DEFAULTS.prometheus_max_series
    prometheus_disk_bytes: int | None = None
    loki_disk_bytes: int | None = None
    loki_ingestion_bytes_per_second: float = 8 * LOKI_MB
    loki_retention_seconds: float = 30 * DAY
    vllm_max_waiting: int = _DEFAULTS.vllm_max_waiting


def sizes_from(settings: "StackSettings") -> Sizes:
    c = settings.capacity
    # Only settings both platforms share: the rule files stay byte-identical on Docker and
    # Kubernetes (tests/kubernetes/test_render_parity.py), so a cluster's volume sizes are not read.
    prometheus_disk = c.prometheus_disk or settings.prometheus.retention_size
    loki_disk = c.loki_disk
    return Sizes(
        prometheus_max_series=c.prometheus_max_series,
        prometheus_disk_bytes=byte_size_bytes(prometheus_disk) if prometheus_disk else None,
        loki_disk_bytes=byte_size_bytes(loki_disk) if loki_disk else None,
        loki_ingestion_bytes_per_second=settings.loki.limits.ingestion_rate_mb * LOKI_MB,
        loki_retention_seconds=duration_seconds(settings.loki.retention),
        vllm_max_waiting=c.vllm_max_waiting,
    )


@dataclass(frozen=True)
class Resource:
    """One resource: its usage as a ratio of capacity, and its capacity in `unit` (what a
    recommendation adds). Both keep the same labels, so they match one-to-one."""

    name: str
    unit: str
    usage: str
    size: str


def number(value: float) -> str:
    """A figure in PromQL at full precision (`:g` would round 8388608 to 8.38861e+06)."""
    return f"{value:.15g}"


def _constant(value: float, like: str) -> str:
    """`value` with the labels of `like` (a configured size next to a measured usage)."""
    return f"({like}) * 0 + {number(value)}"


def resources(ctx: RuleContext, c: CapacityConfig, sizes: Sizes) -> tuple[Resource, ...]:
    found: list[Resource] = []
    w = c.rate_window
    if ctx.enabled("node"):
        node, by_host = c.node_selector, "env, source, instance"
        by_fs = f"{by_host}, device, mountpoint"
        fs = sel(node, f'fstype!~"{c.pseudo_fstypes}"')
        idle = sel(node, 'mode="idle"')
        fs_size = f"sum by ({by_fs}) (node_filesystem_size_bytes{fs} > 0)"
        inodes = f"sum by ({by_fs}) (node_filesystem_files{fs} > 0)"
        memory = f"sum by ({by_host}) (node_memory_MemTotal_bytes{sel(node)})"
        cores = f"count by ({by_host}) (node_cpu_seconds_total{idle})"
        found += [
            Resource("filesystem_space", "bytes", f"1 - sum by ({by_fs}) (node_filesystem_avail_bytes{fs}) / {fs_size}", fs_size),
            Resource("filesystem_inodes", "inodes", f"1 - sum by ({by_fs}) (node_filesystem_files_free{fs}) / {inodes}", inodes),
            Resource("memory", "bytes", f"1 - sum by ({by_host}) (node_memory_MemAvailable_bytes{sel(node)}) / {memory}", memory),
            Resource("cpu", "cores", f"1 - avg by ({by_host}) (rate(node_cpu_seconds_total{idle}[{w}]))", cores),
        ]
    if ctx.enabled("dcgm"):
        gpu, by_host = sel(c.dcgm_selector), "env, source, instance"
        gpus = f"count by ({by_host}) (DCGM_FI_DEV_FB_USED{gpu})"
        found += [
            Resource("gpu_memory", "gpus",
                     f"sum by ({by_host}) (DCGM_FI_DEV_FB_USED{gpu}) / sum by ({by_host}) (DCGM_FI_DEV_FB_USED{gpu} + DCGM_FI_DEV_FB_FREE{gpu})", gpus),
            Resource("gpu_utilisation", "gpus", f"avg by ({by_host}) (DCGM_FI_DEV_GPU_UTIL{gpu}) / 100", gpus),
        ]
    if ctx.enabled("vllm"):
        vllm, by_model = sel(c.vllm_selector), "env, source, model_name"
        # Either name, so a fleet mixing vLLM releases is one series per model (rules/llm.py does too).
        kv_cache = f"(vllm:kv_cache_usage_perc{vllm} or vllm:gpu_cache_usage_perc{vllm})"
        servers = f"count by ({by_model}) (vllm:num_requests_waiting{vllm})"
        found += [
            Resource("kv_cache", "replicas", f"avg by ({by_model}) {kv_cache}", f"count by ({by_model}) {kv_cache}"),
            Resource("request_queue", "replicas", f"avg by ({by_model}) (vllm:num_requests_waiting{vllm}) / {sizes.vllm_max_waiting}", servers),
        ]
    if ctx.enabled("cadvisor"):
        box, by_container = sel(c.cadvisor_selector), "env, source, instance, name"
        limit = f"sum by ({by_container}) (container_spec_memory_limit_bytes{box} > 0)"
        found.append(Resource("container_memory", "bytes", f"sum by ({by_container}) (container_memory_working_set_bytes{box}) / {limit}", limit))
    if "prometheus" in ctx.services:
        prom, by_server = sel(c.prometheus_selector), "env, instance"
        series = f"sum by ({by_server}) (prometheus_tsdb_head_series{prom})"
        found.append(Resource("prometheus_series", "series", f"{series} / {sizes.prometheus_max_series}",
                              _constant(sizes.prometheus_max_series, series)))
        if sizes.prometheus_disk_bytes:
            # Persisted blocks: the WAL adds a few GB that retention_size counts too (left as slack).
            blocks = f"sum by ({by_server}) (prometheus_tsdb_storage_blocks_bytes{prom})"
            found.append(Resource("prometheus_disk", "bytes", f"{blocks} / {sizes.prometheus_disk_bytes}",
                                  _constant(sizes.prometheus_disk_bytes, blocks)))
    if "loki" in ctx.services:
        loki = sel(c.loki_selector)
        received = f"sum by (env, tenant) (rate(loki_distributor_bytes_received_total{loki}[{w}]))"
        found.append(Resource("loki_ingestion", "bytes_per_second", f"{received} / {number(sizes.loki_ingestion_bytes_per_second)}",
                              _constant(sizes.loki_ingestion_bytes_per_second, received)))
        if sizes.loki_disk_bytes:
            # What the current stored rate fills once the compactor deletes at retention: the disk
            # the logs will hold, not what they hold today (Loki reports no on-disk size).
            stored = f"sum by (env) (rate(loki_ingester_chunk_stored_bytes_total{loki}[{c.stored_rate_window}])) * {number(sizes.loki_retention_seconds)}"
            found.append(Resource("loki_disk", "bytes", f"{stored} / {sizes.loki_disk_bytes}", _constant(sizes.loki_disk_bytes, stored)))
    return tuple(found)


# --- The forecast chain: each function also takes a subquery step, so the back-test evaluates
# --- exactly these expressions as of a past day without backfilling the recordings.

def _range(window: str, step: str) -> str:
    return f"[{window}:{step}]" if step else f"[{window}]"


def peak(usage: str, c: CapacityConfig, step: str = "") -> str:
    return f"max_over_time({usage}{_range(c.peak_window, step)})"


def trend_per_day(peaks: str, c: CapacityConfig, step: str = "") -> str:
    return f"deriv({peaks}{_range(c.trend_window, step)}) * {DAY}"


def forecast(peaks: str, c: CapacityConfig, step: str = "") -> str:
    """The daily peak at the horizon: the chosen method."""
    return f"predict_linear({peaks}{_range(c.trend_window, step)}, {number(duration_seconds(c.horizon))})"


def _recordings(ctx: RuleContext, c: CapacityConfig, sizes: Sizes) -> tuple[RuleGroup, RuleGroup]:
    current = []
    for resource in resources(ctx, c, sizes):
        labels = frozen({"resource": resource.name, "unit": resource.unit})
        current += [RecordingRule(USAGE, resource.usage, labels), RecordingRule(SIZE, resource.size, labels)]
    r = sel(c.recorded_selector)
    current.append(RecordingRule(HEADROOM, f"1 - {USAGE}{r}"))
    keep = 1 - c.headroom
    # No forecast from a series without `min_history` of peaks behind it (a new host, a fresh
    # stack): a few days, let alone minutes, of peaks extrapolated a month ahead are noise.
    history = f"and {PEAK}{r} offset {c.min_history}"
    trend = (
        RecordingRule(PEAK, peak(f"{USAGE}{r}", c)),
        RecordingRule(TREND, trend_per_day(f"{PEAK}{r}", c)),
        RecordingRule(FORECAST, f"{forecast(f'{PEAK}{r}', c)} {history}"),
        # 0 when already full; +Inf when the peaks do not grow (never full at this trend).
        RecordingRule(DAYS_UNTIL_FULL,
                      f"((({PEAK}{r} >= 1) * 0) or clamp_min(1 - {PEAK}{r}, 0) / clamp_min({TREND}{r}, 0)) {history}"),
        # Capacity to add so the forecast peak uses at most 1 - headroom of it; rounded up to a
        # whole unit (a GPU, a replica, a core, a byte).
        RecordingRule(RECOMMENDED, f"ceil({SIZE}{r} * ({FORECAST}{r} / {number(keep)} - 1)) > 0"),
    )
    return RuleGroup("capacity.usage", tuple(current)), RuleGroup("capacity.trend", trend)


_F = {"env": "test", "source": "real", "instance": "host-1:9100", "device": "/dev/sda1", "mountpoint": "/data",
      "resource": "filesystem_space", "unit": "bytes"}
_FL = ",".join(f'{k}="{v}"' for k, v in _F.items())


def _days_case(name: str, values: str, fires: bool, summary: str = "", description: str = "") -> AlertCase:
    """A filesystem whose recorded days-until-full follow `values`, judged after the alerts' hour."""
    series = (Series(f"{DAYS_UNTIL_FULL}{{{_FL}}}", values),)
    expected = (ExpectedAlert(_F, summary, description),) if fires else ()
    return AlertCase(name, series, "2h", expected, interval="2m")


def alerts(c: CapacityConfig) -> tuple[AlertRule, ...]:
    r = sel(c.recorded_selector)
    horizon_days = duration_seconds(c.horizon) / DAY
    urgent_days = duration_seconds(c.urgent_within) / DAY
    what = f"{label('resource')} {label('instance')}{label('mountpoint')}{label('name')}{label('model_name')}{label('tenant')}"
    days = "{{ $value | printf \"%.1f\" }}"
    info_text = (f"{what} is forecast to be full within {c.horizon}.",
                 f"At the growth of its daily peaks over the last {c.trend_window}, {what} is full in {days} days: "
                 f"add what capacity:size:recommended_addition says, or find the growth.")
    warn_text = (f"{what} is forecast to be full within {c.urgent_within}.",
                 f"At the growth of its daily peaks over the last {c.trend_window}, {what} is full in {days} days: "
                 f"act now (add capacity, shorten retention, clean up).")
    entity = "filesystem_space host-1:9100/data"
    return (
        AlertRule(
            name="CapacityExhaustionWithinHorizon",
            expr=f"{DAYS_UNTIL_FULL}{r} > {number(urgent_days)} and {DAYS_UNTIL_FULL}{r} <= {number(horizon_days)}",
            for_="1h",
            severity="info",
            summary=info_text[0],
            description=info_text[1],
            dashboard="capacity",
            cases=(
                _days_case("twenty days left", "20x70", True, info_text[0].replace(what, entity),
                           info_text[1].replace(what, entity).replace(days, "20.0")),
                _days_case("a week or less is the warning's", "5x70", False),
                _days_case("beyond the horizon", "45x70", False),
                _days_case("not growing", " ".join(["+Inf"] * 70), False),
            ),
        ),
        AlertRule(
            name="CapacityExhaustionWithinWeek",
            expr=f"{DAYS_UNTIL_FULL}{r} <= {number(urgent_days)}",
            for_="1h",
            severity="warning",
            summary=warn_text[0],
            description=warn_text[1],
            dashboard="capacity",
            cases=(
                _days_case("five days left", "5x70", True, warn_text[0].replace(what, entity),
                           warn_text[1].replace(what, entity).replace(days, "5.0")),
                _days_case("twenty days left", "20x70", False),
                _days_case("already full", "0x70", True, warn_text[0].replace(what, entity),
                           warn_text[1].replace(what, entity).replace(days, "0.0")),
            ),
        ),
    )


def build(ctx: RuleContext, config: CapacityConfig = CONFIG) -> RuleModule | None:
    settings = ctx.capacity
    if settings is not None and not settings.enabled:
        return None
    c = config.with_settings(settings)
    sizes = ctx.capacity_sizes or Sizes()
    usage, trend = _recordings(ctx, c, sizes)
    interval = settings.evaluation_interval if settings is not None else _DEFAULTS.evaluation_interval
    return RuleModule(
        domain="capacity",
        component="capacity",
        groups=(usage, dataclasses.replace(trend, interval=interval), RuleGroup("capacity.alerts", alerts(c))),
    )

