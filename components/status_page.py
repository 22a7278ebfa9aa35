"""The public status page: the `status` dashboard (dashboards/status_page.py) in its own folder,
shared through Grafana's public dashboards (no login, read-only, time range and annotations off)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumiverse_grafana as grafana

from components.grafana_datasources import GrafanaDatasources
from dashboards import status_page
from settings.model import StackSettings

FOLDER_UID = "status-page"


@dataclass
class StatusPageArgs:
    settings: StackSettings
    # The page's panels read the Prometheus datasource by uid: provisioned after it, by its provider.
    datasources: GrafanaDatasources


def public_url(grafana_url: str, access_token: str) -> str:
    return f"{grafana_url}/public-dashboards/{access_token}"


class StatusPage(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: StatusPageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("monitoring:grafana:StatusPage", name, None, opts)
        settings = args.settings
        provisioned = pulumi.ResourceOptions(parent=self, provider=args.datasources.provider, depends_on=[args.datasources])
        self.folder = grafana.oss.Folder("status-folder", uid=FOLDER_UID, title=f"Status page ({settings.environment})", opts=provisioned)
        self.dashboard = grafana.oss.Dashboard(
            status_page.UID,
            config_json=json.dumps(status_page.build(settings), sort_keys=True),
            folder=self.folder.uid,
            overwrite=True,
            message=f"Provisioned by the {settings.environment} monitoring stack",
            opts=provisioned,
        )
        # Grafana generates the access token; the page's address is only known once it has.
        self.public = grafana.oss.DashboardPublic(
            "public",
            # The uid is fixed in the dashboard's JSON; shared once the dashboard exists.
            dashboard_uid=status_page.UID,
            is_enabled=True,
            share="public",
            time_selection_enabled=False,
            annotations_enabled=False,
            opts=pulumi.ResourceOptions.merge(provisioned, pulumi.ResourceOptions(depends_on=[self.dashboard])),
        )
        self.url = self.public.access_token.apply(lambda token: public_url(settings.grafana_url, token or "<access token>"))
        self.register_outputs({"url": self.url})
