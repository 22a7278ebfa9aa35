"""prometheus.yml: global intervals, external labels, Alertmanager, rule files and scrape jobs."""

from __future__ import annotations

from typing import Any

from render.exporters import LABEL_LIMITS, exporter_scrape_jobs, fixed_labels
from render.kubernetes_sd import stack_pods
from render.prometheus_ha import alert_relabeling, alertmanager_addresses, replica_external_labels, replica_flags
from render.remote_write import remote_write_config
from render.tls_clients import prometheus_client
from services.topology import CONTAINER_PORTS, Endpoints
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
    "tempo": "/metrics",
    "pyroscope": "/metrics",
    "monitoring-api": "/metrics",
}

# The monitoring API's user rules (api/, services/api.py), mounted read-only here and globbed beside
# the rendered rules: its volume on one Docker host, the ConfigMap it writes on a cluster.
USER_RULES_DIR = "/etc/prometheus/user-rules"
# On a cluster Prometheus reloads by itself when a config or rule file's checksum changes (v3's
# auto-reload-config feature), checking this often: nothing has to reach both replicas' /-/reload.
AUTO_RELOAD_INTERVAL = "30s"


def user_rules_on(settings: StackSettings) -> bool:
    return settings.api.enabled


def auto_reload_flags() -> list[str]:
    return ["--enable-feature=auto-reload-config", f"--config.auto-reload-interval={AUTO_RELOAD_INTERVAL}"]

# Guards against a misbehaving target flooding the TSDB (a scrape above these fails as a whole).
SELF_SAMPLE_LIMIT = 50_000


def self_discovery(settings: StackSettings, endpoints: Endpoints, service: str) -> dict[str, Any]:
    """Every replica of a stack service: its address on Docker, its pods on Kubernetes (labelled by relabeling)."""
    labels = {"service": service, "env": settings.environment}
    if settings.platform == "docker":
        return {"static_configs": [{"targets": [endpoints[service].address], "labels": labels}]}
    found = stack_pods(settings, service, CONTAINER_PORTS[service])
    return {**found, "relabel_configs": found["relabel_configs"] + fixed_labels(labels)}


def self_scrape_jobs(settings: StackSettings, endpoints: Endpoints) -> list[dict[str, Any]]:
    jobs = []
    for service, path in SELF_SCRAPED.items():
        if service not in endpoints:
            continue
        jobs.append(
            {
                "job_name": service,
                "metrics_path": path,
                **self_discovery(settings, endpoints, service),
                # https, the CA, the expected name and the client user when the service serves TLS.
                **prometheus_client(settings, service),
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
            "external_labels": {
                **prometheus.external_labels, "env": settings.environment, **replica_external_labels(settings)
            },
        },
        "alerting": {
            "alertmanagers": [
                {
                    "api_version": "v2",
                    **prometheus_client(settings, "alertmanager"),
                    "static_configs": [{"targets": alertmanager_addresses(settings, endpoints)}],
                }
            ],
            **alert_relabeling(settings),
        },
        **remote_write_config(settings),
        "rule_files": [f"{rules_dir}/*.yml", *([f"{USER_RULES_DIR}/*.yml"] if user_rules_on(settings) else [])],
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
    if settings.runs_traces:
        # Keeps the trace ids Tempo's span metrics carry, for Grafana's exemplar links to traces.
        args.append("--enable-feature=exemplar-storage")
    if settings.runs_backups:
        # The backup job's TSDB snapshots (POST /api/v1/admin/tsdb/snapshot). The published proxy
        # refuses every admin API; inside, only the stack's services (on a cluster: the listed flows) reach it.
        args.append("--web.enable-admin-api")
    args += replica_flags(settings)
    return args
