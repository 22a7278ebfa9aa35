"""The collector's sampling, simulated over 100,000 generated traces with the policies read back from
the rendered config.alloy (traces/sampling.py): errors and slow traces always kept among the
admitted ones, the head ratio and the share of the rest honoured within a tolerance."""

from __future__ import annotations

import random

import pytest

from logs.alloy import render_alloy_config
from logs.alloy_syntax import parse, write
from services.topology import CONTAINER_PORTS, internal_endpoints
from settings.model import StackSettings
from traces.sampling import SamplingModel, SimulatedTrace

TRACES = 100_000
# Five standard deviations of a share measured over 100,000 traces is at most 0.008.
TOLERANCE = 0.01


def generated_traces(seed: int = 14) -> list[SimulatedTrace]:
    """A fixed population: 2 % errors, durations log-normal around 120 ms with a tail past 2 s."""
    rng = random.Random(seed)
    return [
        SimulatedTrace(trace_id=rng.getrandbits(128), duration_ms=rng.lognormvariate(4.8, 1.3), error=rng.random() < 0.02)
        for _ in range(TRACES)
    ]


POPULATION = generated_traces()


def model(**traces) -> SamplingModel:
    settings = StackSettings(environment="x", traces=traces)
    return SamplingModel.from_config(render_alloy_config(settings, internal_endpoints(settings), CONTAINER_PORTS["alloy"]))


def shares(sampling: SamplingModel) -> dict[str, float]:
    admitted = [t for t in POPULATION if sampling.admitted(t)]
    kept = {id(t) for t in admitted if sampling.tail_keeps(t)}
    slow_ms = sampling.latency_threshold_ms
    important = [t for t in admitted if t.error or t.duration_ms >= slow_ms]
    rest = [t for t in admitted if not (t.error or t.duration_ms >= slow_ms)]
    return {
        "admitted": len(admitted) / TRACES,
        "important_kept": sum(id(t) in kept for t in important) / len(important),
        "rest_kept": sum(id(t) in kept for t in rest) / len(rest),
        "important": len(important),
    }


def test_the_population_has_errors_and_slow_traces():
    assert 1500 < sum(t.error for t in POPULATION) < 2500
    assert 1000 < sum(t.duration_ms >= 2000 for t in POPULATION) < 3000


@pytest.mark.parametrize("head_ratio, keep_ratio", [(1.0, 0.1), (0.25, 0.1), (0.5, 0.3), (0.05, 0.0)])
def test_errors_and_slow_traces_are_kept_and_the_ratios_honoured(head_ratio, keep_ratio):
    sampling = model(sampling={"head_ratio": head_ratio, "tail": {"keep_ratio": keep_ratio, "latency_threshold": "2s"}})
    assert sampling.latency_threshold_ms == 2000 and sampling.error_codes == ("ERROR",)
    measured = shares(sampling)
    assert measured["important"] > 0
    assert measured["important_kept"] == 1.0
    assert abs(measured["admitted"] - head_ratio) <= TOLERANCE
    assert abs(measured["rest_kept"] - keep_ratio) <= TOLERANCE


def test_at_the_default_head_ratio_every_error_and_slow_trace_is_kept():
    sampling = model()
    kept = [t for t in POPULATION if sampling.keeps(t)]
    assert all(sampling.keeps(t) for t in POPULATION if t.error or t.duration_ms >= 2000)
    assert len(kept) < TRACES * 0.2  # the rest is thinned to a tenth


def test_the_head_decision_is_one_per_trace():
    """The decision depends on the trace id only: every span of a trace (same id) gets the same one."""
    sampling = model(sampling={"head_ratio": 0.3})
    for trace in POPULATION[:2000]:
        other_span = SimulatedTrace(trace.trace_id, duration_ms=1.0, error=not trace.error)
        assert sampling.admitted(trace) == sampling.admitted(other_span)


def test_the_simulation_fails_when_the_errors_policy_is_missing():
    """Control: a config without the status_code policy loses errors, and the check says so."""
    settings = StackSettings(environment="x")
    blocks = parse(render_alloy_config(settings, internal_endpoints(settings), CONTAINER_PORTS["alloy"]))
    tail = next(b for b in blocks if b.name == "otelcol.processor.tail_sampling")
    tail.blocks = [b for b in tail.blocks if b.attributes.get("name") != "errors"]
    assert shares(SamplingModel.from_config(write(blocks)))["important_kept"] < 1.0
