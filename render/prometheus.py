"""prometheus.yml: global intervals, external labels, Alertmanager, rule files and scrape jobs."""

from __future__ import annotations

from typing import Any

from render.exporters import LABEL_LIMITS, exporter_scrape_jobs
from services.topology import Endpoints
from settings.model import StackSettings

RULES_DIR = "/etc/prometheus/rules"

# The stack's own services and the path each serves its metrics on: monitoring the monitoring.
SELF_SCRAPED = {
    "prometheus": "/metrics",
    "alertmanager": "/metrics",
    "grafana": "/metrics",
    "loki": "/metrics",
    "promtail": "/metrics",
    "alloy": "/metrics",
}

# Guards against a misbehaving target flooding the TSDB (a scrape above these fails as a whole).
SELF_SAMPLE_LIMIT = 50_000


def self_scrape_jobs(settings: StackSettings, endpoints: Endpoints) -> list[dict[str, Any]]:
    jobs = []
    for service, path in SELF_SCRAPED.items():
        if service not in endpoints:
            continue
        jobs.append(
            {
                "job_name": service,
                "metrics_path": path,
                "static_configs": [
                    {"targets": [endpoints[service].address], "labels": {"service": service, "env": settings.environment}}
                ],
                "sample_limit": SELF_SAMPLE_LIMIT,
                **LABEL_LIMITS,
            }
        )
    return jobs


def render_prometheus_config(
    settings: StackSettings, endpoints: Endpoints, rules_dir: str = RULES_DIR
) -> dict[str, Any]:
    prometheus = settings.prometheus
    return {
        "global": {
            "scrape_interval": prometheus.scrape_interval,
            "scrape_timeout": prometheus.scrape_timeout,
            "evaluation_interval": prometheus.evaluation_interval,
            "external_labels": {**prometheus.external_labels, "env": settings.environment},
        },
        "alerting": {
            "alertmanagers": [
                {"api_version": "v2", "static_configs": [{"targets": [endpoints["alertmanager"].address]}]}
            ]
        },
        "rule_files": [f"{rules_dir}/*.yml"],
        "scrape_configs": self_scrape_jobs(settings, endpoints) + exporter_scrape_jobs(settings, endpoints),
    }


def prometheus_command(settings: StackSettings, config_path: str, data_dir: str, port: int) -> list[str]:
    prometheus = settings.prometheus
    args = [
        f"--config.file={config_path}",
        f"--storage.tsdb.path={data_dir}",
        f"--storage.tsdb.retention.time={prometheus.retention}",
        f"--web.listen-address=:{port}",
        # Loki's ruler writes its log-derived recording rules here (only the stack network reaches it).
        "--web.enable-remote-write-receiver",
    ]
    if prometheus.retention_size:
        args.append(f"--storage.tsdb.retention.size={prometheus.retention_size}")
    return args
