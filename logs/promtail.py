"""Promtail's rendering of the log pipeline (`logs.pipeline`): one scrape job per source, each with
the same pipeline stages, shipping to Loki with the stack's `env` label.

Promtail reached end of life on 2026-03-02; `logs.collector: alloy` renders the same pipeline for
Grafana Alloy (`logs.alloy`).
"""

from __future__ import annotations

from typing import Any

from logs.pipeline import LogPipeline, RelabelRule, Source, Stage, log_pipeline, plain
from services.topology import Endpoints
from render.gateway import client_basic_auth, client_tls, client_url
from settings.model import StackSettings

POSITIONS_DIR = "/var/lib/promtail"
POSITIONS_FILE = f"{POSITIONS_DIR}/positions.yaml"


def promtail_stage(stage: Stage) -> dict[str, Any]:
    params = {key: plain(value) for key, value in stage.params.items()}
    if stage.kind == "labelallow":
        return {"labelallow": params["values"]}
    return {stage.kind: params}



def relabel_config(rule: RelabelRule) -> dict[str, Any]:
    config: dict[str, Any] = {"target_label": rule.target_label, "regex": rule.regex, "replacement": rule.replacement}
    if rule.source_labels:
        config["source_labels"] = list(rule.source_labels)
        config["separator"] = rule.separator
    return config


def static_relabels(source: Source) -> list[dict[str, Any]]:
    """A source's static labels as relabel rules, so discovery-based jobs carry them too."""
    return [relabel_config(RelabelRule(name, regex="(.*)", replacement=value)) for name, value in sorted(source.labels.items())]


def scrape_config(source: Source, pipeline: LogPipeline) -> dict[str, Any]:
    job: dict[str, Any] = {"job_name": source.name}
    relabels = [relabel_config(rule) for rule in source.relabel]
    if source.kind == "docker":
        job["docker_sd_configs"] = [dict(source.options)]
        relabels = static_relabels(source) + relabels
    elif source.kind == "kubernetes":
        job["kubernetes_sd_configs"] = [dict(source.options)]
        relabels = static_relabels(source) + relabels
    elif source.kind == "journal":
        job["journal"] = {**dict(source.options), "labels": dict(source.labels)}
    elif source.kind == "file":
        job["static_configs"] = [
            {"targets": ["localhost"], "labels": {**dict(source.labels), **dict(target.labels), "__path__": target.path}}
            for target in source.files
        ]
    if relabels:
        job["relabel_configs"] = relabels
    job["pipeline_stages"] = [promtail_stage(stage) for stage in pipeline.stages_for(source)]
    return job


def render_promtail_pipeline(pipeline: LogPipeline, settings: StackSettings, endpoints: Endpoints, port: int) -> dict[str, Any]:
    return {
        "server": {"http_listen_port": port, "grpc_listen_port": 0, "log_level": "info"},
        "positions": {"filename": POSITIONS_FILE},
        "clients": [
            {
                # Through the gateway with the client user when security.auth gates Loki (render/gateway.py).
                "url": f"{client_url(settings, endpoints, 'loki')}/loki/api/v1/push",
                "external_labels": {"env": settings.environment},
                **({"tls_config": tls} if (tls := client_tls(settings, "loki")) else {}),
                **({"basic_auth": auth} if (auth := client_basic_auth(settings, "loki")) else {}),
            }
        ],
        "scrape_configs": [scrape_config(source, pipeline) for source in pipeline.sources],
    }


def render_promtail_config(settings: StackSettings, endpoints: Endpoints, port: int) -> dict[str, Any]:
    return render_promtail_pipeline(log_pipeline(settings), settings, endpoints, port)
