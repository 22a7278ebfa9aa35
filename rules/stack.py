"""Monitoring the monitoring: the Watchdog, Prometheus (rules, TSDB/WAL, sample limits,
notifications, reloads), Alertmanager (notifications, reloads), Loki (ingestion, errors) and
the log collector: Promtail or Alloy (lines it gives up on; Alloy's config and components)."""

from __future__ import annotations

from dataclasses import dataclass

from rules.common import RuleContext, sel
from rules.model import AlertCase, AlertRule, ExpectedAlert, RuleGroup, RuleModule, Series
from rules.text import INSTANCE, THRESHOLD, VALUE, VALUE_PCT, label


@dataclass(frozen=True)
class StackConfig:
    # `{name}` is the service; the stack scrapes each service with label service="<name>".
    service_selector: str = 'service="{name}"'
    rate_window: str = "5m"
    # TSDB troubles are rare events: look back far enough to catch one between compactions.
    tsdb_window: str = "3h"

    def of(self, service: str) -> str:
        return self.service_selector.format(name=service)


CONFIG = StackConfig()
SERVER_ERROR = 'status_code=~"5.."'
# Alloy component health states that mean no data flows (`unknown` is every component's first moment).
BROKEN_COMPONENT = 'health_type=~"unhealthy|exited"'


def _labels(service: str, **extra: str) -> dict[str, str]:
    return {"env": "test", "job": service, "service": service, "instance": f"{service}:9999", **extra}


def _series(metric: str, labels: dict[str, str]) -> str:
    return metric + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _increase_alert(name: str, metric: str, service: str, window: str, severity: str, summary: str,
                    description: str, c: StackConfig, extra: dict[str, str] | None = None) -> AlertRule:
    """An alert on any increase of an error counter (the shape most of Prometheus' own alerts take)."""
    labels = _labels(service, **(extra or {}))
    return AlertRule(
        name=name,
        expr=f"increase({metric}{sel(c.of(service))}[{window}]) > 0",
        severity=severity,
        summary=summary,
        description=description,
        dashboard="meta-monitoring",
        cases=(
            AlertCase(
                "errors",
                (Series(_series(metric, labels), "0x5 1+1x10"),),
                "8m",
                (ExpectedAlert(labels, _filled(summary, labels), _filled(description, labels)),),
            ),
            AlertCase("no errors", (Series(_series(metric, labels), "0x15"),), "8m"),
        ),
    )


def _filled(text: str, labels: dict[str, str]) -> str:
    """The text as Prometheus renders it for a series with these labels (test expectation)."""
    for name, value in labels.items():
        text = text.replace(label(name), value)
    return text


def watchdog() -> AlertRule:
    return AlertRule(
        name="Watchdog",
        expr="vector(1)",
        severity="info",
        summary="Alerting pipeline heartbeat: always firing.",
        description="This alert always fires. If it stops arriving, Prometheus, Alertmanager or the path "
        "between them is broken, and no other alert can reach anyone.",
        dashboard="alerts-slos",
        cases=(
            AlertCase(
                "always",
                (),
                "1m",
                (ExpectedAlert({}, "Alerting pipeline heartbeat: always firing.",
                               "This alert always fires. If it stops arriving, Prometheus, Alertmanager or the path "
                               "between them is broken, and no other alert can reach anyone."),),
            ),
        ),
    )


def prometheus_alerts(c: StackConfig) -> tuple[AlertRule, ...]:
    p, w, t = "prometheus", c.rate_window, c.tsdb_window
    nl = _labels(p, alertmanager="http://alertmanager:9093/api/v2/alerts")
    return (
        _increase_alert(
            "PrometheusRuleEvaluationFailures", "prometheus_rule_evaluation_failures_total", p, w, "critical",
            f"Prometheus {INSTANCE} fails to evaluate rules.",
            f"Rule group {label('rule_group')} failed to evaluate within the last {w}: its recordings are "
            "missing and its alerts cannot fire.",
            c, {"rule_group": "/etc/prometheus/rules/node.yml;node.rules"},
        ),
        _increase_alert(
            "PrometheusTsdbCompactionsFailing", "prometheus_tsdb_compactions_failed_total", p, t, "warning",
            f"Prometheus {INSTANCE} fails to compact its TSDB.",
            f"Compactions failed within the last {t}: blocks pile up, disk use and query time grow.", c,
        ),
        _increase_alert(
            "PrometheusTsdbWalCorruptions", "prometheus_tsdb_wal_corruptions_total", p, t, "critical",
            f"Prometheus {INSTANCE} found a corrupted WAL.",
            f"The write-ahead log was corrupted within the last {t}: recent samples may be lost.", c,
        ),
        _increase_alert(
            "PrometheusTsdbReloadsFailing", "prometheus_tsdb_reloads_failures_total", p, t, "warning",
            f"Prometheus {INSTANCE} fails to reload TSDB blocks.",
            f"Reloading blocks from disk failed within the last {t}: the TSDB directory may be damaged or full.", c,
        ),
        _increase_alert(
            "PrometheusSampleLimitHit", "prometheus_target_scrapes_exceeded_sample_limit_total", p, w, "warning",
            f"Prometheus {INSTANCE} rejects scrapes over their sample limit.",
            f"A target exposed more series than its sample_limit within the last {w}; its whole scrape "
            "was dropped (see scrape_samples_scraped by job).", c,
        ),
        AlertRule(
            name="PrometheusNotificationsFailing",
            expr=f"rate(prometheus_notifications_errors_total{sel(c.of(p))}[{w}])"
            f" / rate(prometheus_notifications_sent_total{sel(c.of(p))}[{w}]) > {{threshold}}",
            threshold=0.01,
            threshold_format="{:.0%}",
            for_="5m",
            severity="critical",
            summary=f"Prometheus {INSTANCE} fails to send {VALUE_PCT} of alerts to {label('alertmanager')}.",
            description=f"More than {THRESHOLD} of alert notifications to Alertmanager fail: alerts may not "
            "reach anyone.",
            dashboard="meta-monitoring",
            cases=(
                AlertCase(
                    "failing",
                    (
                        Series(_series("prometheus_notifications_errors_total", nl), "0+6x20"),
                        Series(_series("prometheus_notifications_sent_total", nl), "0+12x20"),
                    ),
                    "15m",
                    (ExpectedAlert(nl, "Prometheus prometheus:9999 fails to send 50% of alerts to "
                                       "http://alertmanager:9093/api/v2/alerts.",
                                   "More than 1% of alert notifications to Alertmanager fail: alerts may not "
                                   "reach anyone."),),
                ),
                AlertCase(
                    "delivering",
                    (
                        Series(_series("prometheus_notifications_errors_total", nl), "0x20"),
                        Series(_series("prometheus_notifications_sent_total", nl), "0+12x20"),
                    ),
                    "15m",
                ),
            ),
        ),
        _reload_alert("PrometheusConfigReloadFailed", "prometheus_config_last_reload_successful", p, "Prometheus", c),
    )


def _reload_alert(name: str, metric: str, service: str, title: str, c: StackConfig) -> AlertRule:
    labels = _labels(service)
    summary = f"{title} {{instance}} failed to reload its configuration."
    description = (f"The last configuration reload of {title} failed for the whole of the last {c.rate_window}; "
                   "it still runs the previous configuration.")
    return AlertRule(
        name=name,
        expr=f"max_over_time({metric}{sel(c.of(service))}[{c.rate_window}]) == 0",
        for_="10m",
        severity="warning",
        summary=summary.replace("{instance}", INSTANCE),
        description=description,
        dashboard="meta-monitoring",
        cases=(
            AlertCase(
                "failed",
                (Series(_series(metric, labels), "0x30"),),
                "20m",
                (ExpectedAlert(labels, summary.replace("{instance}", labels["instance"]), description),),
            ),
            AlertCase("reloaded", (Series(_series(metric, labels), "1x30"),), "20m"),
        ),
    )


def alertmanager_alerts(c: StackConfig) -> tuple[AlertRule, ...]:
    a, w = "alertmanager", c.rate_window
    labels = _labels(a, integration="webhook")
    return (
        AlertRule(
            name="AlertmanagerNotificationsFailing",
            expr=f"rate(alertmanager_notifications_failed_total{sel(c.of(a))}[{w}])"
            f" / rate(alertmanager_notifications_total{sel(c.of(a))}[{w}]) > {{threshold}}",
            threshold=0.01,
            threshold_format="{:.0%}",
            for_="5m",
            severity="critical",
            summary=f"Alertmanager {INSTANCE} fails {VALUE_PCT} of {label('integration')} notifications.",
            description=f"More than {THRESHOLD} of notifications through {label('integration')} fail: "
            "check the receiver's credentials and reachability.",
            dashboard="meta-monitoring",
            cases=(
                AlertCase(
                    "failing",
                    (
                        Series(_series("alertmanager_notifications_failed_total", labels), "0+3x20"),
                        Series(_series("alertmanager_notifications_total", labels), "0+12x20"),
                    ),
                    "15m",
                    (ExpectedAlert(labels, "Alertmanager alertmanager:9999 fails 25% of webhook notifications.",
                                   "More than 1% of notifications through webhook fail: check the receiver's "
                                   "credentials and reachability."),),
                ),
                AlertCase(
                    "delivering",
                    (
                        Series(_series("alertmanager_notifications_failed_total", labels), "0x20"),
                        Series(_series("alertmanager_notifications_total", labels), "0+12x20"),
                    ),
                    "15m",
                ),
            ),
        ),
        _reload_alert("AlertmanagerConfigReloadFailed", "alertmanager_config_last_reload_successful", a, "Alertmanager", c),
    )


def loki_alerts(c: StackConfig) -> tuple[AlertRule, ...]:
    lk, w = "loki", c.rate_window
    by = "env, job, instance"
    discarded = _labels(lk, reason="rate_limited", tenant="fake")
    ok = _labels(lk, route="loki_api_v1_push", status_code="204", method="POST")
    failed = _labels(lk, route="loki_api_v1_push", status_code="500", method="POST")
    grouped = {k: v for k, v in failed.items() if k in ("env", "job", "instance", "route")}
    return (
        AlertRule(
            name="LokiIngestionErrors",
            expr=f"sum by ({by}, reason) (rate(loki_discarded_samples_total{sel(c.of(lk))}[{w}])) > 0",
            for_="15m",
            severity="warning",
            summary=f"Loki {INSTANCE} discards log lines ({label('reason')}).",
            description=f"Loki has been rejecting log lines for reason {label('reason')}: those logs are lost. "
            "Raise the tenant limits or reduce the log volume.",
            dashboard="meta-monitoring",
            cases=(
                AlertCase(
                    "discarding",
                    (Series(_series("loki_discarded_samples_total", discarded), "0+10x30"),),
                    "20m",
                    (ExpectedAlert({k: v for k, v in discarded.items() if k in ("env", "job", "instance", "reason")},
                                   "Loki loki:9999 discards log lines (rate_limited).",
                                   "Loki has been rejecting log lines for reason rate_limited: those logs are lost. "
                                   "Raise the tenant limits or reduce the log volume."),),
                ),
                AlertCase("accepting", (Series(_series("loki_discarded_samples_total", discarded), "5x30"),), "20m"),
            ),
        ),
        AlertRule(
            name="LokiRequestErrors",
            expr=f'sum by ({by}, route) (rate(loki_request_duration_seconds_count{sel(c.of(lk), SERVER_ERROR)}[{w}]))'
            f" / sum by ({by}, route) (rate(loki_request_duration_seconds_count{sel(c.of(lk))}[{w}])) > {{threshold}}",
            threshold=0.05,
            threshold_format="{:.0%}",
            for_="15m",
            severity="warning",
            summary=f"Loki {INSTANCE} answers {VALUE_PCT} of {label('route')} requests with errors.",
            description=f"More than {THRESHOLD} of requests to {label('route')} fail with a 5xx: log pushes or "
            "queries are failing.",
            dashboard="meta-monitoring",
            cases=(
                AlertCase(
                    "failing",
                    (
                        Series(_series("loki_request_duration_seconds_count", ok), "0+9x30"),
                        Series(_series("loki_request_duration_seconds_count", failed), "0+1x30"),
                    ),
                    "20m",
                    (ExpectedAlert(grouped, "Loki loki:9999 answers 10% of loki_api_v1_push requests with errors.",
                                   "More than 5% of requests to loki_api_v1_push fail with a 5xx: log pushes or "
                                   "queries are failing."),),
                ),
                AlertCase("healthy", (Series(_series("loki_request_duration_seconds_count", ok), "0+9x30"),), "20m"),
            ),
        ),
    )


def promtail_alerts(c: StackConfig) -> tuple[AlertRule, ...]:
    # Promtail's client gives up on a batch after its retries: those lines never reach Loki.
    return (
        _increase_alert(
            "PromtailDroppingEntries", "promtail_dropped_entries_total", "promtail", c.rate_window, "warning",
            f"Promtail {INSTANCE} drops log lines ({label('reason')}).",
            f"Promtail gave up sending log lines to Loki within the last {c.rate_window} "
            f"(reason {label('reason')}): those lines are lost.",
            c, {"host": "loki:3100", "reason": "rate_limited", "tenant": "fake"},
        ),
    )


def alloy_alerts(c: StackConfig) -> tuple[AlertRule, ...]:
    al = "alloy"
    unhealthy = _labels(al, controller_id="", controller_path="/", health_type="unhealthy")
    healthy = {**unhealthy, "health_type": "healthy"}
    shown = {k: v for k, v in unhealthy.items() if k != "controller_id"}  # an empty label is no label
    summary = f"Alloy {INSTANCE} has {VALUE} {label('health_type')} components."
    description = (f"Components of Alloy's pipeline have been {label('health_type')} for 10 minutes: the log "
                   "lines they would read, process or send are not flowing. Its UI (/-/ready, the graph page) "
                   "names the component and the error.")
    return (
        # loki.write gives up on a batch after its retries: those lines never reach Loki.
        _increase_alert(
            "AlloyDroppingEntries", "loki_write_dropped_entries_total", al, c.rate_window, "warning",
            f"Alloy {INSTANCE} drops log lines ({label('reason')}).",
            f"Alloy's {label('component_id')} gave up sending log lines to Loki within the last "
            f"{c.rate_window} (reason {label('reason')}): those lines are lost.",
            c, {"component_id": "loki.write.default", "component_path": "/", "host": "loki:3100",
                "reason": "rate_limited", "tenant": "fake"},
        ),
        _reload_alert("AlloyConfigLoadFailed", "alloy_config_last_load_successful", al, "Alloy", c),
        AlertRule(
            name="AlloyComponentsUnhealthy",
            expr=f"alloy_component_controller_running_components{sel(c.of(al), BROKEN_COMPONENT)} > 0",
            for_="10m",
            severity="warning",
            summary=summary,
            description=description,
            dashboard="meta-monitoring",
            cases=(
                AlertCase(
                    "one unhealthy",
                    (Series(_series("alloy_component_controller_running_components", unhealthy), "1x30"),
                     Series(_series("alloy_component_controller_running_components", healthy), "7x30")),
                    "20m",
                    (ExpectedAlert(shown, _filled(summary, shown).replace("{{ $value }}", "1"),
                                   _filled(description, shown)),),
                ),
                AlertCase("all healthy", (Series(_series("alloy_component_controller_running_components", healthy), "8x30"),), "20m"),
            ),
        ),
    )


def build(ctx: RuleContext, config: StackConfig = CONFIG) -> RuleModule:
    rules: list[AlertRule] = [watchdog()]
    if "prometheus" in ctx.services:
        rules.extend(prometheus_alerts(config))
    if "alertmanager" in ctx.services:
        rules.extend(alertmanager_alerts(config))
    if "loki" in ctx.services:
        rules.extend(loki_alerts(config))
    if "promtail" in ctx.services:
        rules.extend(promtail_alerts(config))
    if "alloy" in ctx.services:
        rules.extend(alloy_alerts(config))
    return RuleModule(domain="stack", component="stack", groups=(RuleGroup("stack.alerts", tuple(rules)),))
