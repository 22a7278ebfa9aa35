"""What every simulated exporter shares: identity, fault bookkeeping and cumulative histograms."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from mock_exporter.signals import Counter, Wave, lognormal_cdf, lognormal_mean, unit_hash
from mock_exporter.text import le_text, series_prefix


class FaultError(ValueError):
    """A fault request that this exporter cannot apply (unknown kind, bad parameter)."""


@dataclass(frozen=True)
class HostOptions:
    seed: int
    started_at: float
    hostname: str
    cpus: int = 8
    disks: int = 2
    interfaces: int = 2
    gpus: int = 8
    containers: int = 10
    # vllm: which release's metric names to serve, and the optional features whose families to add.
    vllm_generation: str = "current"
    vllm_features: tuple[str, ...] = ()
    # How far the simulated clock runs ahead of the wall clock (--clock-offset): values follow the
    # simulated time, explicit exposition timestamps the real one (Prometheus drops future samples).
    clock_offset: float = 0.0

    @property
    def boot_time(self) -> float:
        """Boot 1–40 days before the start day, fixed by the seed, so values depend on seed and time."""
        start_day = math.floor(self.started_at / 86_400.0) * 86_400.0
        days = 1 + int(unit_hash(self.seed, 77) * 40)
        return start_day - days * 86_400.0 + unit_hash(self.seed, 78) * 86_400.0


@dataclass
class ActiveFault:
    kind: str
    since: float
    params: dict[str, Any] = field(default_factory=dict)


def number_param(params: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise FaultError(f"parameter {key!r} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


class Simulator:
    """One simulated host. Subclasses declare `exporter`, `fault_kinds` and render their families."""

    exporter = ""
    fault_kinds: frozenset[str] = frozenset()
    # The wave the host's load follows: its peak is the busiest moment of the simulated day.
    rhythm: Wave

    def __init__(self, options: HostOptions) -> None:
        self.options = options
        self.faults: dict[str, ActiveFault] = {}

    def add_fault(self, now: float, kind: str, params: Mapping[str, Any]) -> ActiveFault:
        if kind != "down" and kind not in self.fault_kinds:
            known = ", ".join(sorted(self.fault_kinds | {"down"}))
            raise FaultError(f"{self.exporter} has no fault {kind!r} (known: {known})")
        fault = ActiveFault(kind, now, dict(params))
        self.validate_fault(fault)
        self.faults[kind] = fault
        self.faults_changed(now)
        return fault

    def clear_faults(self, now: float, kind: str | None = None) -> None:
        if kind is None:
            self.faults.clear()
        elif self.faults.pop(kind, None) is None:
            raise FaultError(f"fault {kind!r} is not active")
        self.faults_changed(now)

    @property
    def is_down(self) -> bool:
        return "down" in self.faults

    def validate_fault(self, fault: ActiveFault) -> None:
        """Raise FaultError on bad parameters; subclasses check theirs."""
        if fault.kind == "down" and fault.params.get("mode", "503") not in ("503", "close"):
            raise FaultError("down mode must be '503' or 'close'")

    def faults_changed(self, now: float) -> None:
        """Retune counters and gauges for the new fault set (subclasses)."""

    def render(self, now: float) -> str:
        raise NotImplementedError


class Histogram:
    """A histogram family member whose buckets count whole observations.

    Requests arrive at rate base + gain·level; their values follow a log-normal law, so bucket i
    integrates rate × P(value ≤ bound_i) (`+Inf` the total). The n whole observations so far are
    counted as of the moment the n-th arrived: each bucket is its integral then, rounded up. So
    buckets are cumulative, `+Inf` equals `_count`, and the count above a bound grows only when an
    observation lands there — flooring each bucket at scrape time instead would make
    `_count - bucket` flicker by one, a phantom slow request a small sample turns into a large ratio."""

    def __init__(
        self,
        name: str,
        labels: Sequence[tuple[str, str]],
        bounds: Sequence[float],
        wave: Wave,
        rate: tuple[float, float],
        law: tuple[float, float],
        boot: float,
    ) -> None:
        self.bounds = tuple(bounds) + (math.inf,)
        self.bucket_prefixes = tuple(
            series_prefix(f"{name}_bucket", tuple(labels) + (("le", le_text(b)),)) for b in self.bounds
        )
        self.sum_prefix = series_prefix(f"{name}_sum", labels)
        self.count_prefix = series_prefix(f"{name}_count", labels)
        self.buckets = [Counter(wave, 0.0, 0.0, boot) for _ in self.bounds]
        self.total = Counter(wave, 0.0, 0.0, boot)
        self.retune(boot, rate, law)

    def retune(self, now: float, rate: tuple[float, float], law: tuple[float, float]) -> None:
        base, gain = rate
        median, sigma = law
        for counter, bound in zip(self.buckets, self.bounds):
            share = lognormal_cdf(bound, median, sigma)
            counter.retune(now, base * share, gain * share)
        mean = lognormal_mean(median, sigma)
        self.total.retune(now, base * mean, gain * mean)

    def counts(self, now: float) -> list[int]:
        """The cumulative bucket counts, `+Inf` (the observation count) last."""
        observations = self.buckets[-1]
        n = math.floor(observations.value(now))
        arrived = observations.time_of(n)
        return [min(n, math.ceil(bucket.value(arrived))) for bucket in self.buckets[:-1]] + [n]

    def render(self, out: list[str], now: float) -> None:
        counts = self.counts(now)
        for prefix, count in zip(self.bucket_prefixes, counts):
            out.append(f"{prefix}{count}\n")
        out.append(self.sum_prefix + repr(self.total.value(now)) + "\n")
        out.append(f"{self.count_prefix}{counts[-1]}\n")
