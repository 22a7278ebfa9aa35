"""A simulated vLLM (V1 engine) server's /metrics, as vLLM's Prometheus logger exposes it (v0.10 series).

Counters carry the _total suffix the Python client adds; every series has model_name and engine.
Requests arrive at a rate following the daily wave; latencies and lengths are log-normal."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mock_exporter.base import ActiveFault, HostOptions, Histogram, Simulator, number_param
from mock_exporter.signals import Counter, Wave, jitter, lognormal_mean, unit_hash
from mock_exporter.text import header, series_prefix

MODELS = ("meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct", "mistralai/Mistral-7B-Instruct-v0.3")
MAX_MODEL_LEN = 8192
MAX_NUM_SEQS = 256
FINISH_SHARES = {"stop": 0.86, "length": 0.13, "abort": 0.01}


def one_two_five(limit: int) -> list[float]:
    """1, 2, 5, 10, 20, 50, ... up to `limit` — vLLM's token-count buckets."""
    bounds: list[float] = []
    exponent = 0
    while True:
        for mantissa in (1, 2, 5):
            value = mantissa * 10**exponent
            if value > limit:
                return bounds
            bounds.append(float(value))
        exponent += 1


LATENCY_BOUNDS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]


@dataclass(frozen=True)
class HistogramSpec:
    name: str
    help: str
    bounds: tuple[float, ...]
    median: float
    sigma: float
    per_request: float  # observations per finished request (iteration steps observe many)
    latency_fault: bool = False
    queue_fault: bool = False


HISTOGRAMS = (
    HistogramSpec("vllm:request_prompt_tokens", "Prompt tokens per finished request.", tuple(one_two_five(MAX_MODEL_LEN)), 600.0, 0.9, 1.0),
    HistogramSpec("vllm:request_generation_tokens", "Generated tokens per finished request.", tuple(one_two_five(MAX_MODEL_LEN)), 180.0, 0.8, 1.0),
    HistogramSpec("vllm:iteration_tokens_total", "Tokens per engine step.", (1.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0), 96.0, 1.1, 40.0),
    HistogramSpec("vllm:time_to_first_token_seconds", "Seconds to the first token.", (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0), 0.12, 0.7, 1.0, latency_fault=True),
    HistogramSpec("vllm:time_per_output_token_seconds", "Seconds between output tokens.", (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0), 0.025, 0.35, 180.0, latency_fault=True),
    HistogramSpec("vllm:e2e_request_latency_seconds", "End-to-end seconds per request.", tuple(LATENCY_BOUNDS), 4.5, 0.6, 1.0, latency_fault=True, queue_fault=True),
    HistogramSpec("vllm:request_queue_time_seconds", "Seconds requests waited.", tuple(LATENCY_BOUNDS), 0.02, 1.0, 1.0, queue_fault=True),
    HistogramSpec("vllm:request_inference_time_seconds", "Seconds requests ran.", tuple(LATENCY_BOUNDS), 4.4, 0.6, 1.0, latency_fault=True),
    HistogramSpec("vllm:request_prefill_time_seconds", "Seconds requests spent in prefill.", tuple(LATENCY_BOUNDS), 0.1, 0.7, 1.0, latency_fault=True),
    HistogramSpec("vllm:request_decode_time_seconds", "Seconds requests spent in decode.", tuple(LATENCY_BOUNDS), 4.3, 0.6, 1.0, latency_fault=True),
)


class VllmSimulator(Simulator):
    exporter = "vllm"
    fault_kinds = frozenset({"error_rate", "latency", "queue_growth"})

    def __init__(self, options: HostOptions) -> None:
        super().__init__(options)
        seed, boot = options.seed, options.boot_time
        self.boot = boot
        self.model = MODELS[int(unit_hash(seed, 1) * len(MODELS))]
        self.labels = (("model_name", self.model), ("engine", "0"))
        self.wave = self.rhythm = Wave(seed, 0)
        peak = 1.0 + 5.0 * unit_hash(seed, 2)  # requests per second at the daily peak
        self.request_rate = (0.1, peak)
        self.histograms = [
            (spec, Histogram(spec.name, self.labels, spec.bounds, self.wave, self._rate(spec), (spec.median, spec.sigma), boot))
            for spec in HISTOGRAMS
        ]
        prompt_mean = lognormal_mean(600.0, 0.9)
        generation_mean = lognormal_mean(180.0, 0.8)
        self.counters = {
            "vllm:prompt_tokens_total": Counter(self.wave, 0.1 * prompt_mean, peak * prompt_mean, boot),
            "vllm:generation_tokens_total": Counter(self.wave, 0.1 * generation_mean, peak * generation_mean, boot),
            "vllm:prefix_cache_queries_total": Counter(self.wave, 0.1 * prompt_mean, peak * prompt_mean, boot),
            "vllm:prefix_cache_hits_total": Counter(self.wave, 0.035 * prompt_mean, 0.35 * peak * prompt_mean, boot),
            "vllm:num_preemptions_total": Counter(self.wave, 0.0, 0.002 * peak, boot),
        }
        self.finished = {reason: Counter(self.wave, 0.1 * share, peak * share, boot) for reason, share in FINISH_SHARES.items()}
        self.prefixes = {name: series_prefix(name, self.labels) for name in (
            "vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc", *self.counters)}
        self.finished_prefixes = {
            reason: series_prefix("vllm:request_success_total", self.labels + (("finished_reason", reason),))
            for reason in FINISH_SHARES
        }

    def _rate(self, spec: HistogramSpec) -> tuple[float, float]:
        base, gain = self.request_rate
        return base * spec.per_request, gain * spec.per_request

    def validate_fault(self, fault: ActiveFault) -> None:
        super().validate_fault(fault)
        if fault.kind == "error_rate":
            number_param(fault.params, "ratio", 0.3, 0.0, 1.0)
        if fault.kind == "latency":
            number_param(fault.params, "factor", 5.0, 1.0, 1000.0)
        if fault.kind == "queue_growth":
            number_param(fault.params, "per_second", 2.0, 0.01, 1000.0)

    def faults_changed(self, now: float) -> None:
        latency = self.faults.get("latency")
        queue = self.faults.get("queue_growth")
        factor = float(latency.params.get("factor", 5.0)) if latency else 1.0
        for spec, histogram in self.histograms:
            median = spec.median
            if spec.latency_fault:
                median *= factor
            if spec.queue_fault and queue is not None:
                median += 30.0  # queued requests wait tens of seconds more
            histogram.retune(now, self._rate(spec), (median, spec.sigma))
        errors = self.faults.get("error_rate")
        abort_share = float(errors.params.get("ratio", 0.3)) if errors else FINISH_SHARES["abort"]
        rest = (1.0 - abort_share) / (FINISH_SHARES["stop"] + FINISH_SHARES["length"])
        base, gain = self.request_rate
        for reason, counter in self.finished.items():
            share = abort_share if reason == "abort" else FINISH_SHARES[reason] * rest
            counter.retune(now, base * share, gain * share)
        preemptions = self.counters["vllm:num_preemptions_total"]
        preemptions.retune(now, 0.5, 0.0) if queue else preemptions.retune(now, 0.0, 0.002 * gain)

    def _gauges(self, now: float) -> dict[str, float]:
        level = self.wave.level(now)
        base, gain = self.request_rate
        latency = self.faults.get("latency")
        factor = float(latency.params.get("factor", 5.0)) if latency else 1.0
        running = min(MAX_NUM_SEQS, round((base + gain * level) * 4.5 * factor))
        waiting = max(0, round(1.5 * (jitter(self.options.seed, 1, now) + 0.5)))
        queue = self.faults.get("queue_growth")
        if queue is not None:
            running = MAX_NUM_SEQS
            waiting += math.floor(float(queue.params.get("per_second", 2.0)) * (now - queue.since))
        kv = min(1.0, 0.05 + 0.9 * running / MAX_NUM_SEQS)
        if queue is not None:
            kv = 0.985
        return {
            "vllm:num_requests_running": float(running),
            "vllm:num_requests_waiting": float(waiting),
            "vllm:kv_cache_usage_perc": round(kv, 6),
        }

    def render(self, now: float) -> str:
        out: list[str] = []
        helps = {
            "vllm:num_requests_running": "Requests in the running batch.",
            "vllm:num_requests_waiting": "Requests waiting to be scheduled.",
            "vllm:kv_cache_usage_perc": "KV-cache usage ratio; 1 means full.",
        }
        for name, value in self._gauges(now).items():
            header(out, name, "gauge", helps[name])
            out.append(f"{self.prefixes[name]}{value!r}\n")
        counter_help = {
            "vllm:prompt_tokens_total": "Prefill tokens processed.",
            "vllm:generation_tokens_total": "Tokens generated.",
            "vllm:prefix_cache_queries_total": "Tokens looked up in the prefix cache.",
            "vllm:prefix_cache_hits_total": "Tokens served from the prefix cache.",
            "vllm:num_preemptions_total": "Scheduler preemptions.",
        }
        for name, counter in self.counters.items():
            header(out, name, "counter", counter_help[name])
            out.append(f"{self.prefixes[name]}{float(math.floor(counter.value(now)))!r}\n")
        header(out, "vllm:request_success_total", "counter", "Finished requests by finish reason.")
        for reason, counter in self.finished.items():
            out.append(f"{self.finished_prefixes[reason]}{float(math.floor(counter.value(now)))!r}\n")
        for spec, histogram in self.histograms:
            header(out, spec.name, "histogram", spec.help)
            histogram.render(out, now)
        return "".join(out)
