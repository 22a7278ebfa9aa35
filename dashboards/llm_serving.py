"""LLM serving (vLLM): load, time to first token and end-to-end latency percentiles, token
throughput, error ratio and KV-cache pressure, per model."""

from __future__ import annotations

from typing import Any

from dashboards.common import (
    utilisation_panel,
    Board,
    Query,
    env_variable,
    exporter_selector,
    label_variable,
    rising,
    source_variable,
    stat_panel,
    timeseries_panel,
)
from settings.model import StackSettings

UID = "llm-serving"
# Quantiles the recording rules record (label `quantile`), shown as separate lines.
QUANTILES = ("0.5", "0.95", "0.99")
# Interactive-chat targets: first token within 0.5 s is good, beyond 2 s users notice.
TTFT_THRESHOLDS = rising(0.5, 2)
E2E_THRESHOLDS = rising(10, 30)


def build(settings: StackSettings) -> dict[str, Any]:
    vllm = exporter_selector("vllm", 'instance=~"$instance"', 'model_name=~"$model"')
    per_model = exporter_selector("vllm", 'model_name=~"$model"')
    scope = 'exporter="vllm", env=~"$env", source=~"$source"'
    board = Board(
        settings,
        UID,
        "vLLM inference servers (mock or real): queueing, latency percentiles, throughput, errors, KV cache.",
        [
            env_variable(settings),
            source_variable(),
            label_variable("instance", "instance", "up", scope, "Server"),
            label_variable("model", "model_name", "vllm:num_requests_running", scope, "Model"),
        ],
    )
    board.row("Load")
    board.add(
        timeseries_panel(
            "Requests running",
            "Requests in the running batch, per model and server.",
            [Query(f"sum by (instance, model_name) (vllm:num_requests_running{{{vllm}}})", "{{model_name}} @ {{instance}}")],
            "short",
        ),
        8,
    )
    board.add(
        timeseries_panel(
            "Requests waiting",
            "Requests queued for scheduling; a growing queue means the server is saturated.",
            [Query(f"sum by (instance, model_name) (vllm:num_requests_waiting{{{vllm}}})", "{{model_name}} @ {{instance}}")],
            "short",
            rising(10, 50),
        ),
        8,
    )
    board.add(
        utilisation_panel(
            "KV-cache usage",
            "Share of the KV cache in use; near 1 the scheduler preempts requests.",
            [Query(f"vllm:kv_cache_usage_perc{{{vllm}}}", "{{model_name}} @ {{instance}}")],
        ),
        8,
    )
    board.row("Latency")
    board.add(
        timeseries_panel(
            "Time to first token",
            "Percentiles of time to first token per model (5 m window).",
            [
                Query(
                    f'model_name:vllm_time_to_first_token_seconds:histogram_quantile{{{per_model}, quantile="{q}"}}',
                    f"p{q[2:]:0<2} {{{{model_name}}}}",
                )
                for q in QUANTILES
            ],
            "s",
            TTFT_THRESHOLDS,
        ),
        12,
    )
    board.add(
        timeseries_panel(
            "End-to-end request latency",
            "Percentiles of end-to-end request latency per model (5 m window).",
            [
                Query(
                    f'model_name:vllm_e2e_request_latency_seconds:histogram_quantile{{{per_model}, quantile="{q}"}}',
                    f"p{q[2:]:0<2} {{{{model_name}}}}",
                )
                for q in QUANTILES
            ],
            "s",
            E2E_THRESHOLDS,
        ),
        12,
    )
    board.add(
        timeseries_panel(
            "Queue time (p95)",
            "95th percentile of the time requests waited before running.",
            [
                Query(
                    "histogram_quantile(0.95, sum by (model_name, le) "
                    f"(rate(vllm:request_queue_time_seconds_bucket{{{vllm}}}[$__rate_interval])))",
                    "{{model_name}}",
                )
            ],
            "s",
            rising(1, 5),
        ),
        12,
    )
    board.add(
        timeseries_panel(
            "Inter-token latency",
            "Percentiles of the time between generated tokens per model (5 m window), from "
            "vllm:inter_token_latency_seconds or, on servers before vLLM v0.10.2, vllm:time_per_output_token_seconds.",
            [
                Query(
                    f'model_name:vllm_inter_token_latency_seconds:histogram_quantile{{{per_model}, quantile="{q}"}}',
                    f"p{q[2:]:0<2} {{{{model_name}}}}",
                )
                for q in QUANTILES
            ],
            "s",
            rising(0.1, 0.25),
        ),
        12,
    )
    board.row("Throughput and errors")
    board.add(
        timeseries_panel(
            "Tokens per second",
            "Generated and prompt (prefill) tokens per second per model (5 m rate).",
            [
                Query(f"model_name:vllm_generation_tokens:rate5m{{{per_model}}}", "generated {{model_name}}"),
                Query(f"model_name:vllm_prompt_tokens:rate5m{{{per_model}}}", "prompt {{model_name}}"),
            ],
            "short",
        ),
        8,
    )
    board.add(
        timeseries_panel(
            "Request error ratio",
            "Share of finished requests that were aborted (5 m rate), per model.",
            [Query(f"model_name:vllm_request_errors:ratio_rate5m{{{per_model}}}", "{{model_name}}")],
            "percentunit",
            rising(0.01, 0.05),
            min_value=0,
        ),
        8,
    )
    board.add(
        stat_panel(
            "Preemptions per second",
            "Requests the scheduler preempted (KV cache exhausted) per second.",
            [Query(f"sum(rate(vllm:num_preemptions_total{{{vllm}}}[$__rate_interval]))", "preemptions/s", instant=True)],
            "short",
            rising(0.01, 0.1),
        ),
        4,
    )
    board.add(
        stat_panel(
            "Prefix-cache hit ratio",
            "Share of prompt tokens found in the prefix cache.",
            [
                Query(
                    f"sum(rate(vllm:prefix_cache_hits_total{{{vllm}}}[$__rate_interval]))"
                    f" / sum(rate(vllm:prefix_cache_queries_total{{{vllm}}}[$__rate_interval]))",
                    "hit ratio",
                    instant=True,
                )
            ],
            "percentunit",
        ),
        4,
    )
    return board.build()
