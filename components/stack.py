"""MonitoringStack: the whole stack of one environment, from validated settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pulumi

from components.alertmanager import Alertmanager
from components.alloy import Alloy
from components.backup import BackupImage, BackupImageArgs, BackupJob
from components.backup import image_reference as backup_image_reference
from components.backup import sources_digest as backup_digest
from components.certificates import StackCredentials, StackCredentialsArgs
from components.grafana import Grafana
from components.exporter import Exporter, MockExporter
from components.gateway import Gateway
from components.grafana_dashboards import GrafanaDashboards, GrafanaDashboardsArgs
from components.grafana_datasources import GrafanaDatasources, GrafanaDatasourcesArgs
from components.loki import Loki
from components.mock_exporter_image import MockExporterImage, MockExporterImageArgs, image_reference, sources_digest
from components.monitoring_api import MonitoringApi, MonitoringApiImage, MonitoringApiImageArgs
from components.monitoring_api import image_reference as api_image_reference
from components.prometheus import Prometheus
from components.prometheus_proxy import PrometheusProxy
from components.promtail import Promtail
from components.pyroscope import Pyroscope
from components.tempo import Tempo
from components.service import ServiceArgs, ServiceComponent
from components.status_page import StatusPage, StatusPageArgs
from platforms.base import create_platform
from render.gateway import GATEWAY, gated
from render.tls_clients import CA_SECRET
from services.api import api_services
from services.backup import backup_services
from services.cluster import for_platform
from services.core import core_services
from services.exporters import exporter_services
from services.topology import CONTAINER_PORTS, internal_endpoints
from settings.model import StackSettings

COMPONENTS: dict[str, type[ServiceComponent]] = {
    "alertmanager": Alertmanager,
    "prometheus": Prometheus,
    "prometheus-proxy": PrometheusProxy,
    "loki": Loki,
    "promtail": Promtail,
    "alloy": Alloy,
    "grafana": Grafana,
    "tempo": Tempo,
    "pyroscope": Pyroscope,
    "gateway": Gateway,
}


@dataclass
class MonitoringStackArgs:
    settings: StackSettings
    secrets: Mapping[str, pulumi.Output[str]]


class MonitoringStack(pulumi.ComponentResource):
    """The whole stack: core services, exporters per rollout mode, and Grafana's content."""

    grafana_url: pulumi.Output[str]
    prometheus_url: pulumi.Output[str | None]
    loki_url: pulumi.Output[str | None]
    alertmanager_url: pulumi.Output[str | None]

    def __init__(self, name: str, args: MonitoringStackArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("monitoring:stack:MonitoringStack", name, None, opts)
        settings = args.settings
        # The same descriptions on every platform, shaped for it (replicas, peers, per-node agents).
        specs = for_platform(settings, core_services(settings))
        mock_reference = image_reference(settings.exporters.mock_image, sources_digest())
        exporter_specs = for_platform(settings, exporter_services(settings, mock_reference))
        # The backup job(s), with every core service's rendered documents for reference (services/backup.py).
        backup_specs = backup_services(
            settings, internal_endpoints(settings), specs, backup_image_reference(settings.exporters.mock_image, backup_digest())
        )
        # The monitoring API (settings api), when enabled.
        api_specs = for_platform(
            settings, api_services(settings, internal_endpoints(settings), api_image_reference(settings.exporters.mock_image))
        )
        platform = create_platform(
            settings, self, [*specs.values(), *exporter_specs.values(), *backup_specs.values(), *api_specs.values()]
        )
        # Certificates, keys, web configurations and the health checks' header (security.tls/auth),
        # delivered as secret files next to the configured secrets.
        credentials = StackCredentials(
            "credentials",
            StackCredentialsArgs(settings, [*specs.values(), *exporter_specs.values(), *api_specs.values()], args.secrets),
            opts=pulumi.ResourceOptions(parent=self),
        )
        secrets = {**args.secrets, **credentials.secrets}
        # The API first: on Docker, Prometheus mounts the user rules volume the API creates.
        self.services: dict[str, ServiceComponent] = self._api(settings, platform, api_specs, secrets)
        for service_name, spec in specs.items():
            component = COMPONENTS[service_name]
            self.services[service_name] = component(
                service_name,
                ServiceArgs(
                    spec=spec,
                    platform=platform,
                    secrets=secrets,
                    depends_on=[self.services[dep].workload for dep in spec.depends_on],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.exporters = self._exporters(settings, platform, exporter_specs, secrets)
        self.backups = self._backups(settings, platform, backup_specs, secrets)
        self.datasources = GrafanaDatasources(
            "grafana-datasources",
            GrafanaDatasourcesArgs(
                settings=settings,
                admin_password=args.secrets["grafana_admin_password"],
                grafana=self.services["grafana"].workload,
                prometheus_url=self.services["prometheus"].internal_url,
                loki_url=self._client_url(settings, "loki"),
                alertmanager_url=self.services["alertmanager"].internal_url,
                long_term_credentials=args.secrets.get("prometheus_remote_write_credentials"),
                ca_certificate=secrets.get(CA_SECRET),
                client_password=args.secrets.get("web_client_password"),
                tempo_url=self._client_url(settings, "tempo") if "tempo" in self.services else None,
                pyroscope_url=self._client_url(settings, "pyroscope") if "pyroscope" in self.services else None,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.dashboards = GrafanaDashboards(
            "grafana-dashboards",
            GrafanaDashboardsArgs(settings=settings, datasources=self.datasources),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The public status page (settings sla.status_page); its address is a stack output.
        self.status_page = None
        if settings.sla.status_page.enabled and settings.sla.public_services():
            self.status_page = StatusPage(
                "status-page", StatusPageArgs(settings=settings, datasources=self.datasources), opts=pulumi.ResourceOptions(parent=self)
            )
        self.grafana_url = pulumi.Output.from_input(settings.grafana_url)
        # Prometheus is published through its read-only proxy, when at all.
        self.prometheus_url = self.services.get("prometheus-proxy", self.services["prometheus"]).external_url
        # Loki's published port is the gateway's when security.auth gates it (render/gateway.py).
        self.loki_url = self.services[GATEWAY if gated(settings, "loki") else "loki"].external_url
        self.alertmanager_url = self.services["alertmanager"].external_url
        self.register_outputs(
            {
                "grafana_url": self.grafana_url,
                "prometheus_url": self.prometheus_url,
                "loki_url": self.loki_url,
                "alertmanager_url": self.alertmanager_url,
                "status_page_url": self.status_page.url if self.status_page else None,
            }
        )

    def _client_url(self, settings: StackSettings, service: str) -> pulumi.Output[str]:
        """Where Grafana reaches `service`: the gateway's listener on its port when security.auth
        gates it (render/gateway.py), the service itself otherwise."""
        if not gated(settings, service):
            return self.services[service].internal_url
        port = CONTAINER_PORTS[service]
        return self.services[GATEWAY].internal_url.apply(lambda url: f"{url.rsplit(':', 1)[0]}:{port}")

    def _api(self, settings, platform, api_specs, secrets) -> dict[str, ServiceComponent]:
        """The monitoring API and its image, built only when it is enabled."""
        if not api_specs:
            return {}
        image = MonitoringApiImage("monitoring-api-image", MonitoringApiImageArgs(settings.exporters.mock_image),
                                   opts=pulumi.ResourceOptions(parent=self))
        return {
            name: MonitoringApi(name, ServiceArgs(spec=spec, platform=platform, secrets=secrets, built_image=image.image),
                                opts=pulumi.ResourceOptions(parent=self))
            for name, spec in api_specs.items()
        }

    def _backups(self, settings, platform, backup_specs, secrets) -> dict[str, ServiceComponent]:
        """The backup job(s) and their image, built only when backups are enabled."""
        if not backup_specs:
            return {}
        image = BackupImage("backup-image", BackupImageArgs(settings.exporters.mock_image), opts=pulumi.ResourceOptions(parent=self))
        return {
            name: BackupJob(
                name,
                ServiceArgs(
                    spec=spec,
                    platform=platform,
                    secrets=secrets,
                    depends_on=[self.services[dep].workload for dep in spec.depends_on],
                    built_image=image.image,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for name, spec in backup_specs.items()
        }

    def _exporters(self, settings, platform, exporter_specs, secrets) -> dict[str, ServiceComponent]:
        """Real exporters and mocks per the rollout modes; the mock image is built only when a mock runs."""
        mock_image = None
        if any(spec.built_image for spec in exporter_specs.values()):
            mock_image = MockExporterImage(
                "mock-exporter-image",
                MockExporterImageArgs(settings.exporters.mock_image),
                opts=pulumi.ResourceOptions(parent=self),
            )
        components: dict[str, ServiceComponent] = {}
        for key, spec in exporter_specs.items():
            component = MockExporter if spec.built_image else Exporter
            components[key] = component(
                spec.name,
                ServiceArgs(
                    spec=spec,
                    platform=platform,
                    secrets=secrets,
                    built_image=mock_image.image if mock_image and spec.built_image else None,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        return components
