"""The trace and profile pipelines themselves: spans the collector refuses or cannot deliver, spans
and profiles Tempo and Pyroscope discard, and Tempo's and Pyroscope's storage upkeep (block flushes,
compaction and retention). Metric names come from the contracts of the pinned versions
(exporters/contracts/{alloy,tempo,pyroscope}.yaml); each service is selected by `service="<name>"`
as the stack scrapes it. The services' own alerts from span metrics are in rules/traces.py."""

from __future__ import annotations

from dataclasses import dataclass

from rules.common import RuleContext, sel
from rules.model import AlertCase, AlertRule, ExpectedAlert, RuleGroup, RuleModule, Series
from rules.stack import _filled, _increase_alert, _labels, _series
from rules.text import INSTANCE, label


@dataclass(frozen=True)
class SignalsConfig:
    service_selector: str = 'service="{name}"'
    rate_window: str = "5m"
    # Storage upkeep runs every few minutes to an hour: look back far enough to see one failure.
    upkeep_window: str = "1h"

    def of(self, service: str) -> str:
        return self.service_selector.format(name=service)


CONFIG = SignalsConfig()
DASHBOARD = "meta-monitoring"


def _rate_alert(name: str, metric: str, service: str, by: tuple[str, ...], summary: str, description: str,
                c: SignalsConfig, extra: dict[str, str], for_: str = "10m") -> AlertRule:
    """Fires while a loss counter keeps growing for `for_`; a single burst that stops does not."""
    grouping = ", ".join(("env", "job", "instance", *by))
    labels = _labels(service, **extra)
    fired = {k: v for k, v in labels.items() if k in ("env", "job", "instance", *by)}
    return AlertRule(
        name=name,
        expr=f"sum by ({grouping}) (rate({metric}{sel(c.of(service))}[{c.rate_window}])) > 0",
        for_=for_,
        severity="warning",
        summary=summary,
        description=description,
        dashboard=DASHBOARD,
        cases=(
            AlertCase("losing", (Series(_series(metric, labels), "0+10x30"),), "20m",
                      (ExpectedAlert(fired, _filled(summary, fired), _filled(description, fired)),)),
            AlertCase("steady", (Series(_series(metric, labels), "7x30"),), "20m"),
        ),
    )


def collector_trace_alerts(c: SignalsConfig) -> tuple[AlertRule, ...]:
    return (
        _rate_alert(
            "CollectorRefusingSpans", "otelcol_receiver_refused_spans_total", "alloy", ("receiver",),
            f"The collector {INSTANCE} refuses spans on its {label('receiver')} receiver.",
            "Applications' spans are refused at the door (the memory limiter is at its limit, or the pipeline "
            "is blocked): those spans are lost and the applications' exporters may retry or drop them.",
            c, {"receiver": "otlp", "transport": "grpc", "component_id": "otelcol.receiver.otlp.default", "component_path": "/"},
        ),
        _rate_alert(
            "CollectorSpanExportFailing", "otelcol_exporter_send_failed_spans_total", "alloy", ("exporter",),
            f"The collector {INSTANCE} fails to deliver spans to Tempo.",
            "Sending sampled spans to Tempo fails: they wait in the retry queue and are dropped when it fills. "
            "Check that Tempo is up and accepts them (TempoDiscardingSpans).",
            c, {"exporter": "otlp/tempo", "component_id": "otelcol.exporter.otlp.tempo", "component_path": "/"},
        ),
    )


def tempo_alerts(c: SignalsConfig) -> tuple[AlertRule, ...]:
    return (
        _rate_alert(
            "TempoDiscardingSpans", "tempo_discarded_spans_total", "tempo", ("reason",),
            f"Tempo {INSTANCE} discards spans ({label('reason')}).",
            f"Tempo has been discarding spans for reason {label('reason')} for 15 minutes: those traces are "
            "incomplete or missing. Raise traces.tempo.limits or sample harder (traces.sampling).",
            c, {"reason": "rate_limited", "tenant": "single-tenant"}, for_="15m",
        ),
        _increase_alert(
            "TempoBlockFlushesFailing", "tempo_ingester_failed_flushes_total", "tempo", c.upkeep_window, "warning",
            f"Tempo {INSTANCE} fails to flush trace blocks to storage.",
            "Completed trace blocks could not be written to the backend within the last hour: recent traces "
            "stay in memory and the WAL only, and are lost if Tempo restarts.",
            c,
        ),
        _increase_alert(
            "TempoCompactionFailing", "tempodb_compaction_errors_total", "tempo", c.upkeep_window, "warning",
            f"Tempo {INSTANCE} fails to compact trace blocks.",
            "Compaction failed within the last hour: blocks pile up, searches slow down and storage grows.",
            c,
        ),
        _increase_alert(
            "TempoRetentionFailing", "tempodb_retention_errors_total", "tempo", c.upkeep_window, "warning",
            f"Tempo {INSTANCE} fails to delete expired trace blocks.",
            "Retention failed within the last hour: blocks older than traces.tempo.retention are kept and "
            "storage keeps growing.",
            c,
        ),
    )


def profile_alerts(c: SignalsConfig) -> tuple[AlertRule, ...]:
    return (
        _rate_alert(
            "CollectorDroppingProfiles", "pyroscope_write_dropped_profiles_total", "alloy", (),
            f"The collector {INSTANCE} drops profiles it cannot deliver to Pyroscope.",
            "Profiles scraped by the collector are dropped after their retries: flame graphs have gaps. "
            "Check that Pyroscope is up and accepts them (PyroscopeDiscardingProfiles).",
            c, {"endpoint": "http://pyroscope:4040", "component_id": "pyroscope.write.pyroscope", "component_path": "/"},
            for_="15m",
        ),
        _rate_alert(
            "PyroscopeDiscardingProfiles", "pyroscope_discarded_samples_total", "pyroscope", ("reason",),
            f"Pyroscope {INSTANCE} discards profile samples ({label('reason')}).",
            f"Pyroscope has been discarding samples for reason {label('reason')} for 15 minutes: those profiles "
            "are missing. Raise profiles.pyroscope.limits or profile fewer targets.",
            c, {"reason": "rate_limited", "tenant": "anonymous"}, for_="15m",
        ),
        _increase_alert(
            "PyroscopeCompactionFailing", "pyroscope_compactor_runs_failed_total", "pyroscope", c.upkeep_window, "warning",
            f"Pyroscope {INSTANCE} fails its compaction runs.",
            "A compaction run failed within the last hour: retention (profiles.pyroscope.retention) is "
            "applied by the compactor, so expired profiles are kept and storage grows.",
            c, {"reason": "error"},
        ),
    )


def build(ctx: RuleContext, config: SignalsConfig = CONFIG) -> RuleModule | None:
    collector = "alloy" in ctx.services
    rules: list[AlertRule] = []
    # Each service's alerts where it is deployed (and watched: end-to-end runs watch a subset).
    if ctx.traces:
        rules += collector_trace_alerts(config) if collector else ()
        rules += tempo_alerts(config) if "tempo" in ctx.services else ()
    if ctx.profiles:
        rules += profile_alerts(config)[:1] if collector else ()
        rules += profile_alerts(config)[1:] if "pyroscope" in ctx.services else ()
    if not rules:
        return None
    return RuleModule(domain="signals", component="stack", groups=(RuleGroup("signals.alerts", tuple(rules)),))
