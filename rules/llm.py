"""LLM serving (vLLM) recording rules and alerts: time to first token, inter-token latency,
end-to-end latency, error ratio, queue growth. Latency quantiles are recorded per model across all
of its servers.

A fleet may mix vLLM generations (exporters/contracts/vllm.yaml): v0.10.2 renamed the inter-token
latency histogram `vllm:time_per_output_token_seconds` to `vllm:inter_token_latency_seconds`. Rules
read the current name and fall back to the previous one per series with `or` under the sum: a
server of either generation counts once, and a transitional server serving both names (from
v0.10.2 until the old name's removal) counts once too, because `or` keeps the left side where
both label sets match."""

from __future__ import annotations

from dataclasses import dataclass

from rules.common import RuleContext, sel
from rules.model import AlertCase, AlertRule, ExpectedAlert, RecordingRule, RuleGroup, RuleModule, Series
from rules.text import INSTANCE, THRESHOLD, VALUE, VALUE_DURATION, VALUE_PCT, label

QUANTILES = ("0.5", "0.95", "0.99")
BY_MODEL = "env, source, exporter, model_name"
# The inter-token latency histogram by its current name, then the name it had before vLLM v0.10.2.
INTER_TOKEN_LATENCY = ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds")
# Finish reasons that are failures: aborted by the client or the engine, and (since v0.33) internal errors.
FAILED_REASONS = "abort|error"


@dataclass(frozen=True)
class LlmConfig:
    selector: str = 'exporter="vllm"'
    rate_window: str = "5m"
    # The quantile latency alerts look at (one of QUANTILES).
    alert_quantile: str = "0.95"
    # The queue must have grown over this window to count as growing.
    queue_window: str = "10m"
    # A latency quantile or an error ratio over fewer requests than this (per rate_window) is noise,
    # not a trend: the p95 of a handful of requests is nearly their maximum, and one abort among ten
    # night-time requests is a 10 % error ratio.
    min_requests: int = 50


CONFIG = LlmConfig()

_T = {"env": "test", "exporter": "vllm", "source": "mock", "job": "vllm-mock", "instance": "host-1:8000",
      "engine": "0", "model_name": "llama-3-8b"}
_TL = ",".join(f'{k}="{v}"' for k, v in _T.items())
_MODEL = {k: _T[k] for k in ("env", "source", "exporter", "model_name")}
MODEL = label("model_name")


def either_name(families: tuple[str, ...], suffix: str, selector: str, window: str) -> str:
    """`rate()` of a histogram series under whichever of its names a server serves (the first
    wins where a server serves several)."""
    return " or ".join(f"rate({family}{suffix}{selector}[{window}])" for family in families)


def _quantiles(record: str, families: str | tuple[str, ...], c: LlmConfig) -> tuple[RecordingRule, ...]:
    names = (families,) if isinstance(families, str) else families
    rates = either_name(names, "_bucket", sel(c.selector), c.rate_window)
    return tuple(
        RecordingRule(record, f"histogram_quantile({q}, sum by ({BY_MODEL}, le) ({rates}))", labels={"quantile": q})
        for q in QUANTILES
    )


def recordings(c: LlmConfig) -> tuple[RecordingRule, ...]:
    s, w = sel(c.selector), c.rate_window
    failed = sel(c.selector, f'finished_reason=~"{FAILED_REASONS}"')
    finished = f"sum by ({BY_MODEL}) (rate(vllm:request_success_total{s}[{w}]))"
    return (
        *_quantiles("model_name:vllm_time_to_first_token_seconds:histogram_quantile", "vllm:time_to_first_token_seconds", c),
        *_quantiles("model_name:vllm_e2e_request_latency_seconds:histogram_quantile", "vllm:e2e_request_latency_seconds", c),
        *_quantiles("model_name:vllm_inter_token_latency_seconds:histogram_quantile", INTER_TOKEN_LATENCY, c),
        RecordingRule("model_name:vllm_generation_tokens:rate5m", f"sum by ({BY_MODEL}) (rate(vllm:generation_tokens_total{s}[{w}]))"),
        RecordingRule("model_name:vllm_prompt_tokens:rate5m", f"sum by ({BY_MODEL}) (rate(vllm:prompt_tokens_total{s}[{w}]))"),
        # No failed series yet means no errors, not an unknown ratio: fall back to 0 * finished.
        RecordingRule(
            "model_name:vllm_request_errors:ratio_rate5m",
            f"(sum by ({BY_MODEL}) (rate(vllm:request_success_total{failed}[{w}])) or 0 * {finished}) / {finished}",
        ),
    )


def _histogram(family: str, slow_bucket: str, fast: bool, per_minute: int = 20, labels: str = _TL) -> tuple[Series, ...]:
    """Buckets of a latency histogram with `per_minute` requests, every one landing in
    (prev, slow_bucket] - or, when `fast`, in the first bucket."""
    bounds = ("0.25", "1", "2.5", "5", "10", "30", "60", "+Inf")
    series = []
    for bound in bounds:
        filled = fast or bound == "+Inf" or float(bound) >= float(slow_bucket)
        series.append(Series(f'{family}_bucket{{{labels},le="{bound}"}}', f"0+{per_minute}x30" if filled else "0x30"))
    series.append(Series(f"{family}_count{{{labels}}}", f"0+{per_minute}x30"))
    return tuple(series)


def _finished(per_minute: int, labels: str = _TL, reason: str = "stop") -> Series:
    return Series(f'vllm:request_success_total{{{labels},finished_reason="{reason}"}}', f"0+{per_minute}x30")


def _inter_token_alert(c: LlmConfig) -> AlertRule:
    """Slow decoding, whichever generation of vLLM serves the model: one expression over both names
    of the histogram (its cases run each generation alone and a fleet mixing them)."""
    current, previous = INTER_TOKEN_LATENCY
    other_server = _TL.replace("host-1:8000", "host-2:8000")
    quantile = f'quantile="{c.alert_quantile}"'
    requests = f"sum by ({BY_MODEL}) (increase(vllm:request_success_total{sel(c.selector)}[{c.rate_window}]))"
    expected = {**_MODEL, "quantile": c.alert_quantile}

    def fires(value: str) -> tuple[ExpectedAlert, ...]:
        return (ExpectedAlert(expected, f"p95 inter-token latency of llama-3-8b is {value}.",
                              "The 95th percentile time between generated tokens of llama-3-8b (mock) has stayed above "
                              "0.25s: answers stream slowly."),)

    return AlertRule(
        name="LlmInterTokenLatencyHigh",
        expr=f"model_name:vllm_inter_token_latency_seconds:histogram_quantile{sel(c.selector, quantile)} > {{threshold}}"
        f" and on ({BY_MODEL}) {requests} >= {c.min_requests}",
        # Four tokens a second per stream reads as stalling text in a chat window.
        threshold=0.25,
        threshold_format="{:g}s",
        for_="10m",
        severity="warning",
        summary=f"p{_pct(c.alert_quantile)} inter-token latency of {MODEL} is {VALUE_DURATION}.",
        description=f"The {_pct(c.alert_quantile)}th percentile time between generated tokens of {MODEL} "
        f"({label('source')}) has stayed above {THRESHOLD}: answers stream slowly.",
        dashboard="llm-serving",
        cases=(
            AlertCase("slow, current vLLM", (*_histogram(current, "1", fast=False), _finished(20)), "20m", fires("962.5ms")),
            AlertCase("slow, previous vLLM (time_per_output_token_seconds)", (*_histogram(previous, "1", fast=False), _finished(20)),
                      "20m", fires("962.5ms")),
            # Half the tokens come slowly from the previous-generation server: p95 lands in the slow
            # bucket only if both names are read (the current one alone would say 237.5ms).
            AlertCase(
                "a fleet mixing both generations, the previous one slow",
                (*_histogram(current, "1", fast=True), _finished(20),
                 *_histogram(previous, "1", fast=False, labels=other_server), _finished(20, other_server)),
                "20m",
                fires("925ms"),
            ),
            AlertCase("fast on both generations",
                      (*_histogram(current, "1", fast=True), _finished(20),
                       *_histogram(previous, "1", fast=True, labels=other_server), _finished(20, other_server)), "20m"),
            AlertCase("slow but too few requests to tell", (*_histogram(current, "1", fast=False), _finished(1)), "20m"),
        ),
    )


def _latency_alert(name: str, record: str, family: str, threshold: float, what: str, slow_bucket: str,
                   expected_value: str, c: LlmConfig) -> AlertRule:
    summary = f"p{_pct(c.alert_quantile)} {what} of {MODEL} is {VALUE_DURATION}."
    description = f"The {_pct(c.alert_quantile)}th percentile {what} of {MODEL} ({label('source')}) has stayed above " \
                  f"{THRESHOLD}; users wait longer than the serving target."
    expected = {**_MODEL, "quantile": c.alert_quantile}
    quantile = f'quantile="{c.alert_quantile}"'
    requests = f"sum by ({BY_MODEL}) (increase({family}_count{sel(c.selector)}[{c.rate_window}]))"
    return AlertRule(
        name=name,
        expr=f"{record}{sel(c.selector, quantile)} > {{threshold}}"
        f" and on ({BY_MODEL}) {requests} >= {c.min_requests}",
        threshold=threshold,
        threshold_format="{:g}s",
        for_="10m",
        severity="warning",
        summary=summary,
        description=description,
        dashboard="llm-serving",
        cases=(
            AlertCase(
                "slow",
                _histogram(family, slow_bucket, fast=False),
                "20m",
                (ExpectedAlert(expected, f"p95 {what} of llama-3-8b is {expected_value}.",
                               f"The 95th percentile {what} of llama-3-8b (mock) has stayed above {threshold:g}s; "
                               "users wait longer than the serving target."),),
            ),
            AlertCase("fast", _histogram(family, slow_bucket, fast=True), "20m"),
            AlertCase("slow but too few requests to tell", _histogram(family, slow_bucket, fast=False, per_minute=1), "20m"),
        ),
    )


def _pct(quantile: str) -> str:
    return f"{float(quantile) * 100:g}"


def alerts(c: LlmConfig) -> tuple[AlertRule, ...]:
    s = sel(c.selector)
    waiting = f"vllm:num_requests_waiting{s}"
    finished = f"sum by ({BY_MODEL}) (increase(vllm:request_success_total{s}[{c.rate_window}]))"
    failing = (ExpectedAlert(_MODEL, "10% of llama-3-8b requests fail.",
                             "More than 5% of finished requests to llama-3-8b (mock) end aborted or with an engine error: "
                             "clients get errors. Check the server logs for the reason."),)
    return (
        _latency_alert("LlmTimeToFirstTokenHigh", "model_name:vllm_time_to_first_token_seconds:histogram_quantile",
                       "vllm:time_to_first_token_seconds", 2, "time to first token", "5", "4.875s", c),
        _latency_alert("LlmEndToEndLatencyHigh", "model_name:vllm_e2e_request_latency_seconds:histogram_quantile",
                       "vllm:e2e_request_latency_seconds", 30, "end-to-end latency", "60", "58.5s", c),
        _inter_token_alert(c),
        AlertRule(
            name="LlmRequestErrorRatioHigh",
            expr=f"model_name:vllm_request_errors:ratio_rate5m{s} > {{threshold}}"
            f" and on ({BY_MODEL}) {finished} >= {c.min_requests}",
            threshold=0.05,
            threshold_format="{:.0%}",
            for_="10m",
            severity="critical",
            summary=f"{VALUE_PCT} of {MODEL} requests fail.",
            description=f"More than {THRESHOLD} of finished requests to {MODEL} ({label('source')}) end aborted or with an "
            "engine error: clients get errors. Check the server logs for the reason.",
            dashboard="llm-serving",
            cases=(
                AlertCase("aborting", (_finished(18), _finished(2, reason="abort")), "20m", failing),
                AlertCase("internal errors (finished_reason error, since vLLM v0.33)",
                          (_finished(18), _finished(2, reason="error")), "20m", failing),
                AlertCase("no failures at all", (_finished(18),), "20m"),
                AlertCase("a quarter aborted but too few requests to tell", (_finished(3), _finished(1, reason="abort")), "20m"),
            ),
        ),
        AlertRule(
            name="LlmRequestQueueGrowing",
            expr=f"{waiting} > {{threshold}} and deriv({waiting}[{c.queue_window}]) > 0",
            threshold=10,
            threshold_format="{:g}",
            for_="10m",
            severity="warning",
            summary=f"{VALUE} requests wait for {MODEL} on {INSTANCE} and the queue grows.",
            description=f"More than {THRESHOLD} requests are queued and the queue has grown over {c.queue_window}: "
            "the server cannot keep up. Add capacity or shed load.",
            dashboard="llm-serving",
            cases=(
                AlertCase(
                    "growing",
                    (Series(f"vllm:num_requests_waiting{{{_TL}}}", "0+1x40"),),
                    "25m",
                    (ExpectedAlert(_T, "25 requests wait for llama-3-8b on host-1:8000 and the queue grows.",
                                   "More than 10 requests are queued and the queue has grown over 10m: the server "
                                   "cannot keep up. Add capacity or shed load."),),
                ),
                AlertCase("long but steady", (Series(f"vllm:num_requests_waiting{{{_TL}}}", "20x40"),), "25m"),
            ),
        ),
    )


def build(ctx: RuleContext, config: LlmConfig = CONFIG) -> RuleModule | None:
    if not ctx.enabled("vllm"):
        return None
    return RuleModule(
        domain="llm",
        component="llm",
        groups=(RuleGroup("llm.rules", recordings(config)), RuleGroup("llm.alerts", alerts(config))),
    )
