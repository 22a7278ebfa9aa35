"""MonitoringStack: the whole stack of one environment, from validated settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pulumi

from components.alertmanager import Alertmanager
from components.grafana import Grafana
from components.grafana_datasources import GrafanaDatasources, GrafanaDatasourcesArgs
from components.loki import Loki
from components.prometheus import Prometheus
from components.promtail import Promtail
from components.service import ServiceArgs, ServiceComponent
from platforms.docker import DockerPlatform
from services.core import core_services
from settings.model import StackSettings

COMPONENTS: dict[str, type[ServiceComponent]] = {
    "alertmanager": Alertmanager,
    "prometheus": Prometheus,
    "loki": Loki,
    "promtail": Promtail,
    "grafana": Grafana,
}


@dataclass
class MonitoringStackArgs:
    settings: StackSettings
    secrets: Mapping[str, pulumi.Output[str]]


class MonitoringStack(pulumi.ComponentResource):
    grafana_url: pulumi.Output[str]
    prometheus_url: pulumi.Output[str | None]
    loki_url: pulumi.Output[str | None]
    alertmanager_url: pulumi.Output[str | None]

    def __init__(self, name: str, args: MonitoringStackArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("monitoring:stack:MonitoringStack", name, None, opts)
        settings = args.settings
        specs = core_services(settings)
        platform = DockerPlatform.create(
            settings, parent=self, needs_probe_kit=any(not spec.image_has_wget for spec in specs.values())
        )
        self.services: dict[str, ServiceComponent] = {}
        for service_name, spec in specs.items():
            component = COMPONENTS[service_name]
            self.services[service_name] = component(
                service_name,
                ServiceArgs(
                    spec=spec,
                    platform=platform,
                    secrets=args.secrets,
                    depends_on=[self.services[dep].workload for dep in spec.depends_on],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.datasources = GrafanaDatasources(
            "grafana-datasources",
            GrafanaDatasourcesArgs(
                settings=settings,
                admin_password=args.secrets["grafana_admin_password"],
                grafana=self.services["grafana"].workload,
                prometheus_url=self.services["prometheus"].internal_url,
                loki_url=self.services["loki"].internal_url,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.grafana_url = pulumi.Output.from_input(settings.grafana_url)
        self.prometheus_url = self.services["prometheus"].external_url
        self.loki_url = self.services["loki"].external_url
        self.alertmanager_url = self.services["alertmanager"].external_url
        self.register_outputs(
            {
                "grafana_url": self.grafana_url,
                "prometheus_url": self.prometheus_url,
                "loki_url": self.loki_url,
                "alertmanager_url": self.alertmanager_url,
            }
        )
