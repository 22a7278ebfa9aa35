"""Grafana's datasources, managed through the Grafana API once Grafana is healthy."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumiverse_grafana as grafana

from settings.model import StackSettings

PROMETHEUS_UID = "prometheus"
LOKI_UID = "loki"


@dataclass
class GrafanaDatasourcesArgs:
    settings: StackSettings
    admin_password: pulumi.Output[str]
    grafana: pulumi.Resource  # the healthy Grafana workload the provider talks to
    prometheus_url: pulumi.Input[str]
    loki_url: pulumi.Input[str]


def prometheus_json_data(settings: StackSettings) -> dict:
    return {
        "httpMethod": "POST",
        # Grafana's smallest step: the scrape interval, so rate() windows are never empty.
        "timeInterval": settings.prometheus.scrape_interval,
        "queryTimeout": "60s",
        "timeout": 60,
        "prometheusType": "Prometheus",
        "incrementalQuerying": True,
    }


def loki_json_data(settings: StackSettings) -> dict:
    return {"maxLines": 1000, "timeout": 60}


class GrafanaDatasources(pulumi.ComponentResource):
    provider: grafana.Provider

    def __init__(self, name: str, args: GrafanaDatasourcesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("monitoring:grafana:GrafanaDatasources", name, None, opts)
        settings = args.settings
        self.provider = grafana.Provider(
            "grafana",
            url=settings.grafana_url,
            auth=pulumi.Output.concat(settings.grafana.admin_user, ":", args.admin_password),
            retries=10,
            opts=pulumi.ResourceOptions(parent=self),
        )
        ready = pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[args.grafana])
        self.prometheus = grafana.oss.DataSource(
            "prometheus",
            type="prometheus",
            name="Prometheus",
            uid=PROMETHEUS_UID,
            url=args.prometheus_url,
            access_mode="proxy",
            is_default=True,
            json_data_encoded=json.dumps(prometheus_json_data(settings), sort_keys=True),
            opts=ready,
        )
        self.loki = grafana.oss.DataSource(
            "loki",
            type="loki",
            name="Loki",
            uid=LOKI_UID,
            url=args.loki_url,
            access_mode="proxy",
            json_data_encoded=json.dumps(loki_json_data(settings), sort_keys=True),
            opts=ready,
        )
        self.register_outputs({"prometheus_uid": self.prometheus.uid, "loki_uid": self.loki.uid})
