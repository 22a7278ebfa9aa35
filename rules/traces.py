"""Service rules from traces: RED per service from the span metrics Tempo's metrics-generator
writes (traces/tempo_generated.py), the service graph's edges, and the alerts on a service's error
ratio and latency. A service here is what a span's `service.name` says (the user's applications),
judged on its server spans: the requests it answers.

Like the LLM alerts, a ratio or a quantile over too few requests is not judged: one failed request
among ten at night is a 10 % error ratio, and the p95 of a handful of requests is their maximum."""

from __future__ import annotations

from dataclasses import dataclass

from rules.common import RuleContext, sel
from rules.model import AlertCase, AlertRule, ExpectedAlert, RecordingRule, RuleGroup, RuleModule, Series
from rules.text import THRESHOLD, VALUE_DURATION, VALUE_PCT, label
from traces.tempo_generated import (
    SERVICE_GRAPH_REQUEST_FAILED_TOTAL, SERVICE_GRAPH_REQUEST_TOTAL, SPANMETRICS_CALLS, SPANMETRICS_LATENCY, STATUS_ERROR,
)

QUANTILES = ("0.5", "0.95", "0.99")
BY_SERVICE = "env, service, span_kind"
BY_EDGE = "env, client, server, connection_type"


@dataclass(frozen=True)
class TracesConfig:
    # Server spans: the requests a service answers (its client spans are its calls downstream).
    selector: str = 'span_kind="SPAN_KIND_SERVER"'
    # Service-graph edges: every kind (plain calls, databases, the user in front of the root).
    edge_selector: str = 'connection_type=~".*"'
    rate_window: str = "5m"
    alert_quantile: str = "0.95"
    # Below this many requests per rate_window a ratio or a quantile is noise, not a trend.
    min_requests: int = 50


CONFIG = TracesConfig()

ERRORS_RATIO = "service:traces_spanmetrics_errors:ratio_rate5m"
LATENCY_QUANTILE = "service:traces_spanmetrics_latency_seconds:histogram_quantile"
SERVICE = label("service")

_T = {"env": "test", "service": "gateway", "span_name": "POST /v1/chat", "span_kind": "SPAN_KIND_SERVER",
      "job": "gateway", "instance": "mock-host-1"}
_TL = ",".join(f'{k}="{v}"' for k, v in _T.items())
_SERVICE = {k: _T[k] for k in ("env", "service", "span_kind")}


def recordings(c: TracesConfig) -> tuple[RecordingRule, ...]:
    s, w = sel(c.selector), c.rate_window
    errors = sel(c.selector, f'status_code="{STATUS_ERROR}"')
    calls = f"sum by ({BY_SERVICE}) (rate({SPANMETRICS_CALLS}{s}[{w}]))"
    e = sel(c.edge_selector)
    return (
        RecordingRule("service:traces_spanmetrics_calls:rate5m", calls),
        RecordingRule("service:traces_spanmetrics_errors:rate5m", f"sum by ({BY_SERVICE}) (rate({SPANMETRICS_CALLS}{errors}[{w}]))"),
        # No error series yet means no errors, not an unknown ratio: fall back to 0 * calls.
        RecordingRule(ERRORS_RATIO, f"(sum by ({BY_SERVICE}) (rate({SPANMETRICS_CALLS}{errors}[{w}])) or 0 * {calls}) / {calls}"),
        *(RecordingRule(LATENCY_QUANTILE,
                        f"histogram_quantile({q}, sum by ({BY_SERVICE}, le) (rate({SPANMETRICS_LATENCY}_bucket{s}[{w}])))",
                        labels={"quantile": q}) for q in QUANTILES),
        RecordingRule("client_server:traces_service_graph_request:rate5m",
                      f"sum by ({BY_EDGE}) (rate({SERVICE_GRAPH_REQUEST_TOTAL}{e}[{w}]))"),
        RecordingRule("client_server:traces_service_graph_request_failed:rate5m",
                      f"sum by ({BY_EDGE}) (rate({SERVICE_GRAPH_REQUEST_FAILED_TOTAL}{e}[{w}]))"),
    )


def _calls(per_minute: int, status: str = "STATUS_CODE_UNSET") -> Series:
    return Series(f'{SPANMETRICS_CALLS}{{{_TL},status_code="{status}"}}', f"0+{per_minute}x30")


def _latency(slow: bool, per_minute: int = 20) -> tuple[Series, ...]:
    """A server span latency histogram (a few of the generator's bounds): every request in
    (2.048, 4.096] when `slow`, else in the first bucket."""
    series = []
    for bound in ("0.256", "0.512", "1.024", "2.048", "4.096", "+Inf"):
        filled = not slow or bound in ("4.096", "+Inf")
        series.append(Series(f'{SPANMETRICS_LATENCY}_bucket{{{_TL},status_code="STATUS_CODE_UNSET",le="{bound}"}}',
                             f"0+{per_minute}x30" if filled else "0x30"))
    return (*series, _calls(per_minute))


def alerts(c: TracesConfig) -> tuple[AlertRule, ...]:
    s = sel(c.selector)
    volume = f"sum by ({BY_SERVICE}) (increase({SPANMETRICS_CALLS}{s}[{c.rate_window}]))"
    quantile = f'quantile="{c.alert_quantile}"'
    pct = f"{float(c.alert_quantile) * 100:g}"
    return (
        AlertRule(
            name="ServiceErrorRatioHigh",
            expr=f"{ERRORS_RATIO}{s} > {{threshold}} and on ({BY_SERVICE}) {volume} >= {c.min_requests}",
            threshold=0.05,
            threshold_format="{:.0%}",
            for_="10m",
            severity="critical",
            summary=f"{VALUE_PCT} of {SERVICE} requests fail.",
            description=f"More than {THRESHOLD} of the requests {SERVICE} served ended in error (span status ERROR) over "
            f"{c.rate_window}: its callers get errors. The error may start further down: the services dashboard shows "
            "which downstream call fails.",
            dashboard="services",
            cases=(
                AlertCase("failing", (_calls(18), _calls(2, STATUS_ERROR)), "20m",
                          (ExpectedAlert(_SERVICE, "10% of gateway requests fail.",
                                         "More than 5% of the requests gateway served ended in error (span status ERROR) "
                                         "over 5m: its callers get errors. The error may start further down: the services "
                                         "dashboard shows which downstream call fails."),)),
                AlertCase("no errors at all", (_calls(20),), "20m"),
                AlertCase("a quarter failing but too few requests to tell", (_calls(3), _calls(1, STATUS_ERROR)), "20m"),
            ),
        ),
        AlertRule(
            name="ServiceLatencyHigh",
            expr=f"{LATENCY_QUANTILE}{sel(c.selector, quantile)} > {{threshold}} and on ({BY_SERVICE}) {volume} >= {c.min_requests}",
            threshold=2,
            threshold_format="{:g}s",
            for_="10m",
            severity="warning",
            summary=f"p{pct} latency of {SERVICE} is {VALUE_DURATION}.",
            description=f"The {pct}th percentile duration of the requests {SERVICE} served has stayed above {THRESHOLD}. "
            "The services dashboard's latency by operation and the slow traces (Tempo) show which call takes the time.",
            dashboard="services",
            cases=(
                AlertCase("slow", _latency(slow=True), "20m",
                          (ExpectedAlert({**_SERVICE, "quantile": c.alert_quantile}, "p95 latency of gateway is 3.994s.",
                                         "The 95th percentile duration of the requests gateway served has stayed above 2s. "
                                         "The services dashboard's latency by operation and the slow traces (Tempo) show "
                                         "which call takes the time."),)),
                AlertCase("fast", _latency(slow=False), "20m"),
                AlertCase("slow but too few requests to tell", _latency(slow=True, per_minute=1), "20m"),
            ),
        ),
    )


def build(ctx: RuleContext, config: TracesConfig = CONFIG) -> RuleModule | None:
    if not ctx.traces:
        return None
    return RuleModule(
        domain="traces",
        component="traces",
        groups=(RuleGroup("traces.rules", recordings(config)), RuleGroup("traces.alerts", alerts(config))),
    )
