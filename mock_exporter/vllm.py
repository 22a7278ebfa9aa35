"""A simulated vLLM (V1 engine) server's /metrics, as the engine's Prometheus stat logger exposes it.

Two generations (`--vllm-generation`): `current` serves the families of vLLM v0.33.0; `previous`
those of v0.10.1.1, the last release before the inter-token latency histogram was renamed from
`vllm:time_per_output_token_seconds` to `vllm:inter_token_latency_seconds`. Which families, types,
label names and buckets each serves is checked against inventories extracted from each release's
source (exporters/contracts/vllm_releases/). Families upstream creates only for a feature
(`--vllm-feature speculative_decoding`, `lora`) are served only when it is on.

Counters carry the _total suffix the Python client adds; engine families have model_name and
engine. Requests arrive at a rate following the daily wave; latencies and lengths are log-normal."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mock_exporter.base import ActiveFault, HostOptions, Histogram, Simulator, number_param
from mock_exporter.signals import Counter, Wave, jitter, lognormal_mean, unit_hash
from mock_exporter.text import fmt, header, series_prefix

MODELS = ("meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct", "mistralai/Mistral-7B-Instruct-v0.3")
MAX_MODEL_LEN = 8192
MAX_NUM_SEQS = 256
GENERATIONS = ("current", "previous")
FEATURES = ("speculative_decoding", "lora")
# Draft tokens per speculative step (--speculative-config num_speculative_tokens) and the share of
# drafted tokens accepted at each position: acceptance falls with the distance from the last token.
NUM_SPECULATIVE_TOKENS = 3
ACCEPTANCE_BY_POSITION = (0.8, 0.6, 0.45)
# FLOPs and bytes the engine estimates per token of an ~8B-parameter model (2 FLOPs per weight;
# weights read once per step, KV written per token).
FLOPS_PER_TOKEN = 1.6e10
READ_BYTES_PER_TOKEN = 1.2e8
WRITE_BYTES_PER_TOKEN = 1.3e5

# Finish reasons by generation (v0.33.0 added error and repetition), with their healthy shares.
FINISH_SHARES = {
    "current": {"stop": 0.858, "length": 0.13, "abort": 0.01, "error": 0.001, "repetition": 0.001},
    "previous": {"stop": 0.86, "length": 0.13, "abort": 0.01},
}
ERROR_FREE = ("stop", "length")  # the reasons that shrink when the error_rate fault raises aborts


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


# Bucket families of v0.33.0's vllm/v1/metrics/buckets.py (v0.10.1.1 has the same values inline).
TOKEN_BOUNDS = tuple(one_two_five(MAX_MODEL_LEN))
LATENCY_BOUNDS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)
TTFT_BOUNDS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
INTER_TOKEN_BOUNDS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)
ITERATION_BOUNDS = (1.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0)
PARAMS_N_BOUNDS = (1.0, 2.0, 5.0, 10.0, 20.0)
PREEMPTIONS_BOUNDS = (1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0)


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
    generations: tuple[str, ...] = GENERATIONS


def _histogram(name: str, help_text: str, bounds: tuple[float, ...], law: tuple[float, float], per_request: float = 1.0,
               *, latency: bool = False, queue: bool = False, only: str | None = None) -> HistogramSpec:
    return HistogramSpec(name, help_text, bounds, law[0], law[1], per_request, latency, queue,
                         (only,) if only else GENERATIONS)


HISTOGRAMS = (
    _histogram("vllm:request_prompt_tokens", "Prompt tokens per finished request.", TOKEN_BOUNDS, (600.0, 0.9)),
    _histogram("vllm:request_generation_tokens", "Generated tokens per finished request.", TOKEN_BOUNDS, (180.0, 0.8)),
    _histogram("vllm:iteration_tokens_total", "Tokens per engine step.", ITERATION_BOUNDS, (96.0, 1.1), 40.0),
    _histogram("vllm:request_max_num_generation_tokens", "Most tokens a request asked to generate.", TOKEN_BOUNDS, (1024.0, 0.7)),
    _histogram("vllm:request_params_n", "The n (completions per prompt) parameter of requests.", PARAMS_N_BOUNDS, (0.8, 0.3)),
    _histogram("vllm:request_params_max_tokens", "The max_tokens parameter of requests.", TOKEN_BOUNDS, (1024.0, 0.7)),
    _histogram("vllm:time_to_first_token_seconds", "Seconds to the first token.", TTFT_BOUNDS, (0.12, 0.7), latency=True),
    # The inter-token latency histogram: one observation per generated token; renamed in v0.10.2.
    _histogram("vllm:inter_token_latency_seconds", "Seconds between output tokens.", INTER_TOKEN_BOUNDS, (0.025, 0.35), 180.0,
               latency=True, only="current"),
    _histogram("vllm:time_per_output_token_seconds", "Seconds between output tokens.", INTER_TOKEN_BOUNDS, (0.025, 0.35), 180.0,
               latency=True, only="previous"),
    _histogram("vllm:request_time_per_output_token_seconds", "Mean seconds per output token of each finished request.",
               INTER_TOKEN_BOUNDS, (0.026, 0.2), latency=True, only="current"),
    _histogram("vllm:e2e_request_latency_seconds", "End-to-end seconds per request.", LATENCY_BOUNDS, (4.5, 0.6), latency=True, queue=True),
    _histogram("vllm:request_queue_time_seconds", "Seconds requests waited.", LATENCY_BOUNDS, (0.02, 1.0), queue=True),
    _histogram("vllm:request_inference_time_seconds", "Seconds requests ran.", LATENCY_BOUNDS, (4.4, 0.6), latency=True),
    _histogram("vllm:request_prefill_time_seconds", "Seconds requests spent in prefill.", LATENCY_BOUNDS, (0.1, 0.7), latency=True),
    _histogram("vllm:request_decode_time_seconds", "Seconds requests spent in decode.", LATENCY_BOUNDS, (4.3, 0.6), latency=True),
    # Most requests are never preempted (0 lands in the first bucket, le="1.0").
    _histogram("vllm:request_num_preemptions", "Times each finished request was preempted.", PREEMPTIONS_BOUNDS, (0.05, 0.5),
               only="current"),
    _histogram("vllm:request_prefill_kv_computed_tokens", "Prompt tokens each request computed (not found in the cache).",
               TOKEN_BOUNDS, (390.0, 0.9), only="current"),
)

# Values of vllm:cache_config_info, one label per CacheConfig field (str() of its value), by generation.
CACHE_CONFIG = {
    "current": {
        "_block_size_resolved": "True", "block_size": "16", "cache_dtype": "auto", "cache_hit_alignment_tokens": "None",
        "effective_attention_block_size": "16", "enable_mamba_shared_prefix_checkpoint": "False",
        "enable_prefix_caching": "True", "gpu_memory_utilization": "0.92", "hash_block_size": "16",
        "is_attention_free": "False", "kv_cache_dtype_skip_layers": "[]", "kv_cache_layout": "None",
        "kv_cache_max_concurrency": "54.25", "kv_cache_memory_bytes": "None", "kv_cache_size_tokens": "444416",
        "kv_offloading_backend": "native", "kv_offloading_size": "None", "kv_sharing_fast_prefill": "False",
        "mamba_block_size": "None", "mamba_cache_dtype": "auto", "mamba_cache_mode": "none",
        "mamba_page_size_padded": "None", "mamba_ssm_cache_dtype": "auto", "num_cpu_blocks": "None",
        "num_gpu_blocks": "27776", "num_gpu_blocks_override": "None", "prefix_cache_retention_interval": "0",
        "prefix_caching_hash_algo": "sha256", "prefix_match_unit": "None", "replayssm_buffer_len": "16",
        "simple_cpu_offload_num_blocks": "None", "skip_page_size_padded": "None", "sliding_window": "None",
        "swa_bounded_replay": "True", "use_kda_recoverssm": "False", "use_replayssm": "False",
        "user_specified_block_size": "False",
    },
    "previous": {
        "block_size": "16", "cache_dtype": "auto", "calculate_kv_scales": "False", "cpu_kvcache_space_bytes": "None",
        "cpu_offload_gb": "0", "enable_prefix_caching": "True", "gpu_memory_utilization": "0.9",
        "is_attention_free": "False", "kv_sharing_fast_prefill": "False", "mamba_cache_dtype": "auto",
        "mamba_page_size_padded": "None", "mamba_ssm_cache_dtype": "auto", "num_cpu_blocks": "2048",
        "num_gpu_blocks": "27168", "num_gpu_blocks_override": "None", "prefix_caching_hash_algo": "builtin",
        "sliding_window": "None", "swap_space": "4",
    },
}

# Plain counters (model_name and engine only): help, and what they count relative to requests.
COUNTER_HELP = {
    "vllm:prompt_tokens_total": "Prefill tokens processed.",
    "vllm:generation_tokens_total": "Tokens generated.",
    "vllm:prefix_cache_queries_total": "Tokens looked up in the prefix cache.",
    "vllm:prefix_cache_hits_total": "Tokens served from the prefix cache.",
    "vllm:num_preemptions_total": "Scheduler preemptions.",
    # v0.33.0 only:
    "vllm:prompt_tokens_cached_total": "Prompt tokens found in a cache (local or external).",
    "vllm:external_prefix_cache_queries_total": "Tokens looked up in an external (KV-connector) cache; none without one.",
    "vllm:external_prefix_cache_hits_total": "Tokens found in an external (KV-connector) cache; none without one.",
    "vllm:mm_cache_queries_total": "Multi-modal items looked up in the cache; none for a text model.",
    "vllm:mm_cache_hits_total": "Multi-modal items found in the cache; none for a text model.",
    "vllm:estimated_flops_per_gpu_total": "Estimated floating-point operations per GPU.",
    "vllm:estimated_read_bytes_per_gpu_total": "Estimated bytes read from GPU memory.",
    "vllm:estimated_write_bytes_per_gpu_total": "Estimated bytes written to GPU memory.",
    # v0.10.1.1 only: the deprecated prefix-cache names, equal to their successors.
    "vllm:gpu_prefix_cache_queries_total": "Tokens looked up in the prefix cache (deprecated name).",
    "vllm:gpu_prefix_cache_hits_total": "Tokens served from the prefix cache (deprecated name).",
}
CURRENT_ONLY_COUNTERS = (
    "vllm:prompt_tokens_cached_total", "vllm:external_prefix_cache_queries_total", "vllm:external_prefix_cache_hits_total",
    "vllm:mm_cache_queries_total", "vllm:mm_cache_hits_total", "vllm:estimated_flops_per_gpu_total",
    "vllm:estimated_read_bytes_per_gpu_total", "vllm:estimated_write_bytes_per_gpu_total",
)
PREVIOUS_ONLY_COUNTERS = ("vllm:gpu_prefix_cache_queries_total", "vllm:gpu_prefix_cache_hits_total")
# Labelled families of v0.33.0 and the label each splits on, with the values the logger creates.
PROMPT_SOURCES = ("local_compute", "local_cache_hit", "external_kv_transfer")
CACHE_HIT_SOURCES = ("device", "host", "p2p", "disk", "external_unspecified")
ADMISSION_REASONS = ("max_num_queued_reqs", "max_num_queued_tokens")
SLEEP_STATES = {"awake": 1.0, "weights_offloaded": 0.0, "discard_all": 0.0}
PREFIX_HIT_SHARE = 0.35


class VllmSimulator(Simulator):
    exporter = "vllm"
    fault_kinds = frozenset({"error_rate", "latency", "queue_growth"})

    def __init__(self, options: HostOptions) -> None:
        super().__init__(options)
        if options.vllm_generation not in GENERATIONS:
            raise ValueError(f"vLLM generation must be one of {GENERATIONS}, not {options.vllm_generation!r}")
        if unknown := set(options.vllm_features) - set(FEATURES):
            raise ValueError(f"unknown vLLM features {sorted(unknown)}; known: {FEATURES}")
        self.generation = options.vllm_generation
        self.features = frozenset(options.vllm_features)
        seed, boot = options.seed, options.boot_time
        self.boot = boot
        self.model = MODELS[int(unit_hash(seed, 1) * len(MODELS))]
        self.labels = (("model_name", self.model), ("engine", "0"))
        self.wave = self.rhythm = Wave(seed, 0)
        peak = 1.0 + 5.0 * unit_hash(seed, 2)  # requests per second at the daily peak
        self.request_rate = (0.1, peak)
        self.histograms = [
            (spec, Histogram(spec.name, self.labels, spec.bounds, self.wave, self._rate(spec), (spec.median, spec.sigma), boot))
            for spec in HISTOGRAMS if self.generation in spec.generations
        ]
        prompt = lognormal_mean(600.0, 0.9)
        generated = lognormal_mean(180.0, 0.8)
        all_tokens = prompt + generated
        # What each counter gains per finished request; none without a KV connector or images.
        per_request = {
            "vllm:prompt_tokens_total": prompt,
            "vllm:generation_tokens_total": generated,
            "vllm:prefix_cache_queries_total": prompt,
            "vllm:prefix_cache_hits_total": PREFIX_HIT_SHARE * prompt,
            "vllm:prompt_tokens_cached_total": PREFIX_HIT_SHARE * prompt,
            "vllm:gpu_prefix_cache_queries_total": prompt,
            "vllm:gpu_prefix_cache_hits_total": PREFIX_HIT_SHARE * prompt,
            "vllm:external_prefix_cache_queries_total": 0.0,
            "vllm:external_prefix_cache_hits_total": 0.0,
            "vllm:mm_cache_queries_total": 0.0,
            "vllm:mm_cache_hits_total": 0.0,
            "vllm:estimated_flops_per_gpu_total": FLOPS_PER_TOKEN * all_tokens,
            "vllm:estimated_read_bytes_per_gpu_total": READ_BYTES_PER_TOKEN * all_tokens,
            "vllm:estimated_write_bytes_per_gpu_total": WRITE_BYTES_PER_TOKEN * all_tokens,
        }
        self.counters = {name: self._per_request_counter(amount) for name, amount in per_request.items()
                         if self._serves_counter(name)}
        self.counters["vllm:num_preemptions_total"] = Counter(self.wave, 0.0, 0.002 * peak, boot)
        self.finish_shares = FINISH_SHARES[self.generation]
        self.finished = {reason: self._per_request_counter(share) for reason, share in self.finish_shares.items()}
        self.drafts = self._per_request_counter(0.4 * generated)
        self.prefixes = {name: series_prefix(name, self.labels) for name in (
            "vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
            "vllm:gpu_cache_usage_perc", *self.counters)}
        self.finished_prefixes = {
            reason: series_prefix("vllm:request_success_total", self.labels + (("finished_reason", reason),))
            for reason in self.finish_shares
        }
        self.cache_config_line = series_prefix(
            "vllm:cache_config_info", tuple(sorted({**CACHE_CONFIG[self.generation], "engine": "0"}.items()))) + "1\n"

    def _serves_counter(self, name: str) -> bool:
        if name in CURRENT_ONLY_COUNTERS:
            return self.generation == "current"
        if name in PREVIOUS_ONLY_COUNTERS:
            return self.generation == "previous"
        return True

    def _per_request_counter(self, per_request: float) -> Counter:
        base, gain = self.request_rate
        return Counter(self.wave, base * per_request, gain * per_request, self.boot)

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
        shares = dict(self.finish_shares)
        if errors:
            abort = float(errors.params.get("ratio", 0.3))
            others = sum(share for reason, share in shares.items() if reason not in ERROR_FREE + ("abort",))
            rest = (1.0 - abort - others) / sum(shares[reason] for reason in ERROR_FREE)
            shares = {reason: abort if reason == "abort" else share * rest if reason in ERROR_FREE else share
                      for reason, share in shares.items()}
        base, gain = self.request_rate
        for reason, counter in self.finished.items():
            counter.retune(now, base * shares[reason], gain * shares[reason])
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

    def _labelled(self, out: list[str], name: str, kind: str, help_text: str, label: str, values: dict[str, float]) -> None:
        header(out, name, kind, help_text)
        for key, value in values.items():
            out.append(f"{series_prefix(name, self.labels + ((label, key),))}{fmt(value)}\n")

    def render(self, now: float) -> str:
        out: list[str] = []
        gauges = self._gauges(now)
        helps = {
            "vllm:num_requests_running": "Requests in the running batch.",
            "vllm:num_requests_waiting": "Requests waiting to be scheduled.",
            "vllm:kv_cache_usage_perc": "KV-cache usage ratio; 1 means full.",
        }
        for name, value in gauges.items():
            header(out, name, "gauge", helps[name])
            out.append(f"{self.prefixes[name]}{value!r}\n")
        if self.generation == "previous":
            header(out, "vllm:gpu_cache_usage_perc", "gauge", "KV-cache usage ratio (deprecated name of kv_cache_usage_perc).")
            out.append(f"{self.prefixes['vllm:gpu_cache_usage_perc']}{gauges['vllm:kv_cache_usage_perc']!r}\n")
        header(out, "vllm:cache_config_info", "gauge", "The engine's KV-cache configuration, one label per setting.")
        out.append(self.cache_config_line)
        for name, counter in self.counters.items():
            header(out, name, "counter", COUNTER_HELP[name])
            out.append(f"{self.prefixes[name]}{float(math.floor(counter.value(now)))!r}\n")
        header(out, "vllm:request_success_total", "counter", "Finished requests by finish reason.")
        for reason, counter in self.finished.items():
            out.append(f"{self.finished_prefixes[reason]}{float(math.floor(counter.value(now)))!r}\n")
        if self.generation == "current":
            self._render_current_only(out, now, gauges)
        if "speculative_decoding" in self.features:
            self._render_speculative_decoding(out, now)
        if "lora" in self.features:
            header(out, "vllm:lora_requests_info", "gauge", "LoRA adapters running and waiting; the value is the update time.")
            labels = (("max_lora", "4"), ("running_lora_adapters", "sql-lora"), ("waiting_lora_adapters", ""))
            out.append(f"{series_prefix('vllm:lora_requests_info', labels)}{fmt(math.floor(now))}\n")
        for spec, histogram in self.histograms:
            header(out, spec.name, "histogram", spec.help)
            histogram.render(out, now)
        return "".join(out)

    def _render_current_only(self, out: list[str], now: float, gauges: dict[str, float]) -> None:
        self._labelled(out, "vllm:num_requests_waiting_by_reason", "gauge", "Waiting requests by why they wait.", "reason",
                       {"capacity": gauges["vllm:num_requests_waiting"], "deferred": 0.0})
        self._labelled(out, "vllm:engine_sleep_state", "gauge", "1 for the engine's sleep state, 0 for the others.",
                       "sleep_state", SLEEP_STATES)
        prompt = math.floor(self.counters["vllm:prompt_tokens_total"].value(now))
        hits = math.floor(self.counters["vllm:prefix_cache_hits_total"].value(now))
        self._labelled(out, "vllm:prompt_tokens_by_source_total", "counter", "Prompt tokens by where they came from.", "source",
                       {"local_compute": float(max(0, prompt - hits)), "local_cache_hit": float(hits), "external_kv_transfer": 0.0})
        self._labelled(out, "vllm:prompt_tokens_cached_by_source_total", "counter", "Cached prompt tokens by cache tier.", "source",
                       {source: float(hits) if source == "device" else 0.0 for source in CACHE_HIT_SOURCES})
        header(out, "vllm:admission_rejections_total", "counter", "Requests refused by a queue limit, by limit.")
        for reason in ADMISSION_REASONS:
            out.append(f"{series_prefix('vllm:admission_rejections_total', (('model_name', self.model), ('reason', reason)))}0.0\n")

    def _render_speculative_decoding(self, out: list[str], now: float) -> None:
        drafts = math.floor(self.drafts.value(now))
        per_position = [math.floor(drafts * share) for share in ACCEPTANCE_BY_POSITION]
        for name, help_text, value in (
            ("vllm:spec_decode_num_drafts_total", "Speculative steps drafted.", drafts),
            ("vllm:spec_decode_num_draft_tokens_total", "Tokens drafted.", drafts * NUM_SPECULATIVE_TOKENS),
            ("vllm:spec_decode_num_accepted_tokens_total", "Drafted tokens accepted.", sum(per_position)),
        ):
            header(out, name, "counter", help_text)
            out.append(f"{series_prefix(name, self.labels)}{fmt(value)}\n")
        self._labelled(out, "vllm:spec_decode_num_accepted_tokens_per_pos_total", "counter", "Drafted tokens accepted, by position.",
                       "position", {str(position): float(count) for position, count in enumerate(per_position)})
