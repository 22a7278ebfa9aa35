"""Meta-monitoring: the monitoring stack watching itself — Prometheus's TSDB, scrapes and rule
evaluation, Alertmanager's notifications, Loki's ingestion and Grafana."""

from __future__ import annotations

from typing import Any

from dashboards.common import (
    ANY_IS_BAD,
    UP_DOWN,
    Board,
    Query,
    label_variable,
    rising,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from settings.model import StackSettings
from settings.types import duration_seconds

UID = "meta-monitoring"
PROMETHEUS = 'service="prometheus"'


def build(settings: StackSettings) -> dict[str, Any]:
    evaluation = duration_seconds(settings.prometheus.evaluation_interval)
    timeout = duration_seconds(settings.prometheus.scrape_timeout)
    board = Board(
        settings,
        UID,
        "The stack monitoring itself: Prometheus TSDB, scrapes, rule evaluation, Alertmanager, Loki, Grafana.",
        [label_variable("job", "job", "up", 'service!=""', "Stack service")],
    )
    board.row("Stack services")
    board.add(
        stat_panel(
            "Service up",
            "Whether each selected service of the stack answered its last scrape.",
            [Query('up{service!="", job=~"$job"}', "{{job}}", instant=True)],
            "none",
            UP_DOWN,
            mappings=(("0", "DOWN", "red"), ("1", "UP", "green")),
        ),
        12,
        4,
    )
    board.add(
        stat_panel(
            "Up/down changes in the last day",
            "How often each selected service went down or came back in the last 24 h; 0 is steady.",
            [Query('changes(up{service!="", job=~"$job"}[1d])', "{{job}}", instant=True)],
            "none",
            ANY_IS_BAD,
        ),
        12,
        4,
    )
    board.row("Prometheus TSDB")
    board.add(
        stat_panel(
            "Head series",
            "Series in Prometheus's in-memory head block: the main driver of its memory use.",
            [Query(f"prometheus_tsdb_head_series{{{PROMETHEUS}}}", "series", instant=True)],
            "short",
            rising(1_000_000, 2_000_000),
        ),
        6,
        5,
    )
    board.add(
        stat_panel(
            "Block storage",
            "Bytes of persisted TSDB blocks on disk (the WAL and head come on top).",
            [Query(f"prometheus_tsdb_storage_blocks_bytes{{{PROMETHEUS}}}", "bytes", instant=True)],
            "bytes",
        ),
        6,
        5,
    )
    board.add(
        stat_panel(
            "Samples appended",
            "Samples appended to the head per second.",
            [Query(f"rate(prometheus_tsdb_head_samples_appended_total{{{PROMETHEUS}}}[$__rate_interval])", "samples/s", instant=True)],
            "short",
        ),
        6,
        5,
    )
    board.add(
        table_panel(
            "TSDB errors in the last hour",
            "Failed compactions, WAL corruptions and failed head truncations in the last hour.",
            [
                Query(
                    f"increase(prometheus_tsdb_compactions_failed_total{{{PROMETHEUS}}}[1h]) > 0"
                    f" or increase(prometheus_tsdb_wal_corruptions_total{{{PROMETHEUS}}}[1h]) > 0"
                    f" or increase(prometheus_tsdb_head_truncations_failed_total{{{PROMETHEUS}}}[1h]) > 0"
                )
            ],
            steps=ANY_IS_BAD,
            empty_when="the TSDB is healthy",
        ),
        6,
        5,
    )
    board.row("Scrapes")
    board.add(
        timeseries_panel(
            "Scrape duration by job",
            "Slowest scrape per job; at the scrape timeout the scrape fails.",
            [Query("max by (job) (scrape_duration_seconds)", "{{job}}")],
            "s",
            rising(timeout / 2, timeout),
        ),
        12,
    )
    board.add(
        timeseries_panel(
            "Samples per scrape by job",
            "Samples each job's targets return per scrape, summed per job.",
            [Query("sum by (job) (scrape_samples_scraped)", "{{job}}")],
            "short",
        ),
        12,
    )
    board.add(
        table_panel(
            "Scrapes rejected by limits in the last hour",
            "Scrapes dropped whole because a target exceeded its sample or label limit.",
            [
                Query(
                    f"increase(prometheus_target_scrapes_exceeded_sample_limit_total{{{PROMETHEUS}}}[1h]) > 0"
                    f" or increase(prometheus_target_scrape_pool_exceeded_label_limits_total{{{PROMETHEUS}}}[1h]) > 0"
                )
            ],
            steps=ANY_IS_BAD,
            empty_when="no target exceeds its limits",
        ),
        24,
        5,
    )
    board.row("Rule evaluation")
    board.add(
        timeseries_panel(
            "Rule group evaluation time",
            f"Time each rule group's last evaluation took; near the {settings.prometheus.evaluation_interval} "
            "interval, evaluations start to be skipped.",
            [Query(f"prometheus_rule_group_last_duration_seconds{{{PROMETHEUS}}}", "{{rule_group}}")],
            "s",
            rising(evaluation / 2, evaluation),
        ),
        12,
    )
    board.add(
        table_panel(
            "Rule evaluation problems in the last hour",
            "Failed rule evaluations and missed group iterations per rule group in the last hour.",
            [
                Query(
                    f"increase(prometheus_rule_evaluation_failures_total{{{PROMETHEUS}}}[1h]) > 0"
                    f" or increase(prometheus_rule_group_iterations_missed_total{{{PROMETHEUS}}}[1h]) > 0"
                )
            ],
            steps=ANY_IS_BAD,
            empty_when="every rule evaluates on time",
        ),
        12,
    )
    board.row("Alertmanager")
    board.add(
        timeseries_panel(
            "Alerts sent to Alertmanager",
            "Alerts Prometheus sent per second, and alerts it dropped (queue full or Alertmanager unreachable).",
            [
                Query(f"rate(prometheus_notifications_sent_total{{{PROMETHEUS}}}[$__rate_interval])", "sent"),
                Query(f"rate(prometheus_notifications_dropped_total{{{PROMETHEUS}}}[$__rate_interval])", "dropped"),
            ],
            "short",
        ),
        8,
    )
    board.add(
        stat_panel(
            "Alertmanagers discovered",
            "Alertmanagers Prometheus sends alerts to; 0 means alerts go nowhere.",
            [Query(f"prometheus_notifications_alertmanagers_discovered{{{PROMETHEUS}}}", "alertmanagers", instant=True)],
            "none",
            UP_DOWN,
        ),
        4,
    )
    board.add(
        timeseries_panel(
            "Alertmanager alerts and notifications",
            "Active alerts in Alertmanager and notifications it sent per second.",
            [
                Query('sum(alertmanager_alerts{state="active"})', "active alerts"),
                Query("sum(rate(alertmanager_notifications_total[$__rate_interval]))", "notifications/s"),
            ],
            "short",
        ),
        12,
    )
    board.row("Loki and Grafana")
    board.add(
        timeseries_panel(
            "Loki ingestion",
            "Bytes Loki's distributors accepted per second, and streams held in ingester memory.",
            [
                Query("sum(rate(loki_distributor_bytes_received_total[$__rate_interval]))", "bytes/s"),
                Query("sum(loki_ingester_memory_streams)", "streams in memory"),
            ],
            "short",
        ),
        12,
    )
    board.add(
        timeseries_panel(
            "Grafana request latency (p95)",
            "95th percentile of Grafana's HTTP request duration per handler.",
            [
                Query(
                    "histogram_quantile(0.95, sum by (handler, le) "
                    "(rate(grafana_http_request_duration_seconds_bucket[$__rate_interval])))",
                    "{{handler}}",
                )
            ],
            "s",
            rising(1, 2),
        ),
        12,
    )
    return board.build()
