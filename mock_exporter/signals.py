"""Deterministic synthetic signals: a daily rhythm with a faster wobble, counters that integrate it,
and seeded noise. Everything is a pure function of (seed, time) until a fault retunes a counter.
"""

from __future__ import annotations

import math

TAU = 2.0 * math.pi
DAY = 86_400.0
_MASK = (1 << 64) - 1


def unit_hash(*parts: int) -> float:
    """A value in [0, 1) that depends only on `parts` (splitmix64 over their mix)."""
    x = 0x9E3779B97F4A7C15
    for part in parts:
        x = (x ^ (part & _MASK)) & _MASK
        x = (x + 0x9E3779B97F4A7C15) & _MASK
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
        x ^= x >> 31
    return (x >> 11) / float(1 << 53)


def seconds_until(wave: "Wave", now: float, extreme: str, step: float = 60.0) -> float:
    """Seconds from `now` to the wave's highest (`peak`) or lowest (`trough`) level within the next
    day: the --clock-offset that serves that moment's values now."""
    if extreme not in ("peak", "trough"):
        raise ValueError(f"extreme must be peak or trough, not {extreme!r}")
    sign = 1.0 if extreme == "peak" else -1.0
    steps = int(DAY // step)
    return max(range(steps), key=lambda i: sign * wave.level(now + i * step)) * step


def jitter(seed: int, index: int, now: float, period: float = 5.0) -> float:
    """Seeded noise in [-1, 1], constant over `period` seconds so two close scrapes may agree."""
    return unit_hash(seed, index, int(now // period)) * 2.0 - 1.0


class Wave:
    """A level in [0.05, 0.95]: 0.5 + 0.3·sin(day) + 0.15·sin(fast); its integral is analytic, so a
    counter whose rate follows it is exact, monotonic and deterministic at any time."""

    __slots__ = ("day_phase", "fast_phase", "fast_period")

    def __init__(self, seed: int, index: int) -> None:
        self.day_phase = unit_hash(seed, index, 1) * TAU * 0.25  # hosts peak at similar hours
        self.fast_phase = unit_hash(seed, index, 2) * TAU
        self.fast_period = 600.0 + unit_hash(seed, index, 3) * 3000.0

    def level(self, t: float) -> float:
        return (
            0.5
            + 0.3 * math.sin(TAU * t / DAY + self.day_phase)
            + 0.15 * math.sin(TAU * t / self.fast_period + self.fast_phase)
        )

    def integral(self, t: float) -> float:
        return (
            0.5 * t
            - 0.3 * DAY / TAU * math.cos(TAU * t / DAY + self.day_phase)
            - 0.15 * self.fast_period / TAU * math.cos(TAU * t / self.fast_period + self.fast_phase)
        )


class Counter:
    """value(t) = v0 + base·(t − t0) + gain·(W(t) − W(t0)) with W the wave's integral.

    The rate base + gain·level is kept ≥ 0 by construction, so the value never decreases; a fault
    `retune`s base and gain from now on without a jump, `reset` models a process restart."""

    __slots__ = ("wave", "base", "gain", "t0", "v0", "w0")

    def __init__(self, wave: Wave, base: float, gain: float, start: float, initial: float = 0.0) -> None:
        if base < 0 or base + 0.05 * gain < 0 or base + 0.95 * gain < 0:
            raise ValueError("counter rate must stay non-negative")
        self.wave = wave
        self.base = base
        self.gain = gain
        self.t0 = start
        self.v0 = initial
        self.w0 = wave.integral(start)

    def value(self, t: float) -> float:
        return self.v0 + self.base * (t - self.t0) + self.gain * (self.wave.integral(t) - self.w0)

    def rate(self, t: float) -> float:
        return self.base + self.gain * self.wave.level(t)

    def time_of(self, target: float) -> float:
        """When the counter reached `target` (not before its last retune). Deterministic for a
        target: a safeguarded Newton search in a bracket fixed by the target alone."""
        if target <= self.v0:
            return self.t0
        slowest = self.base + min(0.05 * self.gain, 0.95 * self.gain)
        if slowest <= 0:
            return self.t0
        lo, hi = self.t0, self.t0 + (target - self.v0) / slowest
        t = lo + (target - self.v0) / max(self.rate(lo), slowest)
        for _ in range(60):
            if not lo < t < hi:
                t = (lo + hi) / 2
            excess = self.value(t) - target
            if excess > 0:
                hi = t
            else:
                lo = t
            step = excess / self.rate(t)
            if hi - lo < 1e-6 or abs(step) < 1e-9:
                break
            t -= step
        return t

    def retune(self, t: float, base: float, gain: float, step: float = 0.0) -> None:
        if base < 0 or base + 0.05 * gain < 0 or base + 0.95 * gain < 0 or step < 0:
            raise ValueError("counter rate must stay non-negative")
        self.v0 = self.value(t) + step
        self.t0 = t
        self.w0 = self.wave.integral(t)
        self.base = base
        self.gain = gain

    def reset(self, t: float) -> None:
        self.v0 = 0.0
        self.t0 = t
        self.w0 = self.wave.integral(t)


def lognormal_cdf(x: float, median: float, sigma: float) -> float:
    if x <= 0:
        return 0.0
    if math.isinf(x):
        return 1.0
    return 0.5 * (1.0 + math.erf(math.log(x / median) / (sigma * math.sqrt(2.0))))


def lognormal_mean(median: float, sigma: float) -> float:
    return median * math.exp(sigma * sigma / 2.0)
