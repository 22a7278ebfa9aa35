"""A small model of the collector's sampling decisions, read back from the rendered config.alloy.

The model takes the policies from the rendered `otelcol.processor.probabilistic_sampler` and
`otelcol.processor.tail_sampling` blocks (never from the settings), so a simulation over generated
traces tests what the collector will actually run:

- head: the probabilistic sampler keeps a trace when its trace id's randomness (the low 56 bits, as
  OpenTelemetry's proportional mode reads it) is at or above the rejection threshold (1 - p) * 2^56;
  every span of a trace gets the same decision;
- tail: a trace is kept when any policy keeps it: `status_code` (any span with one of the codes),
  `latency` (the trace's duration, first start to last end, at least threshold_ms), `probabilistic`
  (a hash of the trace id below sampling_percentage).

A head ratio below 1 drops traces before anything is known about them, errors included: errors and
slow traces are always kept *among the traces the head sampler admits* (all of them at the default
head_ratio 1).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from logs.alloy_syntax import Block, parse

_RANDOMNESS_BITS = 56


@dataclass(frozen=True)
class SimulatedTrace:
    trace_id: int  # 128 bits
    duration_ms: float
    error: bool


@dataclass(frozen=True)
class SamplingModel:
    head_percentage: float  # 100 when the config has no head sampler
    error_codes: tuple[str, ...]
    latency_threshold_ms: float | None
    tail_percentage: float | None
    tail_enabled: bool

    @classmethod
    def from_config(cls, config_alloy: str) -> "SamplingModel":
        blocks = {block.name: block for block in parse(config_alloy) if block.name.startswith("otelcol.processor.")}
        head = blocks.get("otelcol.processor.probabilistic_sampler")
        tail = blocks.get("otelcol.processor.tail_sampling")
        codes: tuple[str, ...] = ()
        latency = percentage = None
        for policy in tail.blocks if tail else []:
            if policy.name != "policy":
                continue
            kind = policy.attributes["type"]
            settings = _only(policy, kind)
            if kind == "status_code":
                codes = tuple(settings.attributes["status_codes"])
            elif kind == "latency":
                latency = float(settings.attributes["threshold_ms"])
            elif kind == "probabilistic":
                percentage = float(settings.attributes["sampling_percentage"])
            else:
                raise ValueError(f"no model for the tail policy type {kind!r}")
        return cls(
            head_percentage=float(head.attributes["sampling_percentage"]) if head else 100.0,
            error_codes=codes,
            latency_threshold_ms=latency,
            tail_percentage=percentage,
            tail_enabled=tail is not None,
        )

    def admitted(self, trace: SimulatedTrace) -> bool:
        randomness = trace.trace_id & ((1 << _RANDOMNESS_BITS) - 1)
        threshold = (1 - self.head_percentage / 100) * (1 << _RANDOMNESS_BITS)
        return randomness >= threshold

    def tail_keeps(self, trace: SimulatedTrace) -> bool:
        if not self.tail_enabled:
            return True
        if trace.error and "ERROR" in self.error_codes:
            return True
        if self.latency_threshold_ms is not None and trace.duration_ms >= self.latency_threshold_ms:
            return True
        if self.tail_percentage is not None:
            digest = hashlib.blake2b(trace.trace_id.to_bytes(16, "big"), digest_size=8).digest()
            return int.from_bytes(digest, "big") / 2**64 < self.tail_percentage / 100
        return False

    def keeps(self, trace: SimulatedTrace) -> bool:
        return self.admitted(trace) and self.tail_keeps(trace)


def _only(policy: Block, name: str) -> Block:
    found = [child for child in policy.blocks if child.name == name]
    if len(found) != 1:
        raise ValueError(f"policy {policy.attributes.get('name')!r} has {len(found)} {name} blocks")
    return found[0]
