"""Grafana's dashboards: one folder and one dashboard per entry of `dashboards.DASHBOARDS`."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumiverse_grafana as grafana

from components.grafana_datasources import GrafanaDatasources
from dashboards import render_dashboards
from settings.model import StackSettings

FOLDER_UID = "monitoring"


@dataclass
class GrafanaDashboardsArgs:
    settings: StackSettings
    # Panels refer to datasources by uid: dashboards are provisioned after them, by the same provider.
    datasources: GrafanaDatasources


class GrafanaDashboards(pulumi.ComponentResource):
    folder_uid: pulumi.Output[str]
    dashboard_uids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: GrafanaDashboardsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("monitoring:grafana:GrafanaDashboards", name, None, opts)
        settings = args.settings
        provisioned = pulumi.ResourceOptions(parent=self, provider=args.datasources.provider, depends_on=[args.datasources])
        self.folder = grafana.oss.Folder(
            "folder",
            uid=FOLDER_UID,
            title=f"Monitoring ({settings.environment})",
            opts=provisioned,
        )
        self.dashboards: dict[str, grafana.oss.Dashboard] = {}
        for uid, model in render_dashboards(settings).items():
            self.dashboards[uid] = grafana.oss.Dashboard(
                uid,
                config_json=json.dumps(model, sort_keys=True),
                folder=self.folder.uid,
                overwrite=True,
                message=f"Provisioned by the {settings.environment} monitoring stack",
                opts=provisioned,
            )
        self.folder_uid = self.folder.uid
        self.dashboard_uids = pulumi.Output.all(*(d.uid for d in self.dashboards.values()))
        self.register_outputs({"folder_uid": self.folder_uid, "dashboard_uids": self.dashboard_uids})
