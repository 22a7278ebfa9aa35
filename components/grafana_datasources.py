"""Grafana's datasources, managed through the Grafana API once Grafana is healthy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic
import pulumiverse_grafana as grafana

from settings.model import StackSettings

PROMETHEUS_UID = "prometheus"
LOKI_UID = "loki"
ALERTMANAGER_UID = "alertmanager"
# How a datasource is proven reachable *through Grafana*: Prometheus and Loki implement Grafana's
# backend health check; the Alertmanager datasource has none, so its API is read via Grafana's proxy.
HEALTH_PATHS = {
    PROMETHEUS_UID: f"/api/datasources/uid/{PROMETHEUS_UID}/health",
    LOKI_UID: f"/api/datasources/uid/{LOKI_UID}/health",
    ALERTMANAGER_UID: f"/api/datasources/proxy/uid/{ALERTMANAGER_UID}/api/v2/status",
}
# Grafana may need a moment after a datasource is created; the service itself may still be starting.
HEALTH_DEADLINE_SECONDS = 120


@dataclass
class GrafanaDatasourcesArgs:
    settings: StackSettings
    admin_password: pulumi.Output[str]
    grafana: pulumi.Resource  # the healthy Grafana workload the provider talks to
    prometheus_url: pulumi.Input[str]
    loki_url: pulumi.Input[str]
    alertmanager_url: pulumi.Input[str]


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
    data: dict = {"maxLines": 1000, "timeout": 60}
    link = settings.logs.trace_link
    if link.datasource_uid or link.url_template:
        # A trace id found in a line becomes a link: to the tracing datasource (its query is the id
        # itself) or to an external trace viewer's URL.
        field = {
            "name": "TraceID",
            "matcherType": "regex",
            "matcherRegex": link.matcher_regex,
            "url": "${__value.raw}" if link.datasource_uid else link.url_template,
            "urlDisplayLabel": "View trace",
        }
        if link.datasource_uid:
            field["datasourceUid"] = link.datasource_uid
        data["derivedFields"] = [field]
    return data


def alertmanager_json_data(settings: StackSettings) -> dict:
    # Prometheus's Alertmanager (not Grafana's or Mimir's); Grafana may also manage its silences.
    return {"implementation": "prometheus", "handleGrafanaManagedAlerts": False}


class DatasourceHealthProvider(pulumi.dynamic.ResourceProvider):
    """Fails `pulumi up` when Grafana cannot reach a datasource it was just given.

    It runs in Pulumi's dynamic-provider host, which does not have the project on its path, so the
    class is pickled by value (see the `__module__` assignments below) and imports only the stdlib.
    Resources are never created under the mock engine (offline preview, tests) nor by a real
    `pulumi preview`, so the check runs exactly when it can: on `pulumi up`.
    """

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        self.wait_healthy(props)
        return pulumi.dynamic.CreateResult(id_=f"{props['uid']}-health", outs=dict(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        self.wait_healthy(news)
        return pulumi.dynamic.UpdateResult(outs=dict(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        keys = ("grafana_url", "path", "uid", "datasource_version")
        changed = [key for key in keys if olds.get(key) != news.get(key)]
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def wait_healthy(self, props: dict[str, Any]) -> None:
        import base64
        import time
        import urllib.error
        import urllib.request

        url = props["grafana_url"].rstrip("/") + props["path"]
        token = base64.b64encode(props["auth"].encode()).decode()
        deadline = time.monotonic() + float(props["deadline_seconds"])
        last = "no answer"
        while True:
            request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    body = response.read().decode(errors="replace")
                    if response.status == 200 and '"status":"ERROR"' not in body.replace(" ", ""):
                        return
                    last = f"HTTP {response.status}: {body[:300]}"
            except urllib.error.HTTPError as error:
                last = f"HTTP {error.code}: {error.read().decode(errors='replace')[:300]}"
            except OSError as error:
                last = str(error)
            if time.monotonic() >= deadline:
                raise RuntimeError(f"Grafana datasource {props['uid']} is not healthy at {url}: {last}")
            time.sleep(min(3.0, float(props["deadline_seconds"]) / 4))


# Pickle the provider by value: the dynamic-provider host cannot import this project's modules.
DatasourceHealthProvider.__module__ = "__main__"
for _method in (
    DatasourceHealthProvider.create,
    DatasourceHealthProvider.update,
    DatasourceHealthProvider.diff,
    DatasourceHealthProvider.wait_healthy,
):
    _method.__module__ = "__main__"


class DatasourceHealth(pulumi.dynamic.Resource):
    """A datasource proven healthy through Grafana; checked again whenever the datasource changes."""

    def __init__(
        self,
        name: str,
        grafana_url: str,
        auth: pulumi.Input[str],
        datasource: grafana.oss.DataSource,
        opts: pulumi.ResourceOptions,
    ):
        uid = datasource.uid
        super().__init__(
            DatasourceHealthProvider(),
            name,
            {
                "grafana_url": grafana_url,
                "auth": pulumi.Output.secret(auth),
                "uid": uid,
                "path": uid.apply(lambda value: HEALTH_PATHS[value]),
                # Any change to the datasource's definition re-runs the check.
                "datasource_version": pulumi.Output.all(datasource.url, datasource.json_data_encoded).apply(
                    lambda parts: json.dumps(parts, sort_keys=True)
                ),
                "deadline_seconds": HEALTH_DEADLINE_SECONDS,
            },
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[datasource])),
        )


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
        def datasource(name: str, kind: str, title: str, url: pulumi.Input[str], json_data: dict, **extra):
            return grafana.oss.DataSource(
                name,
                type=kind,
                name=title,
                uid=name,
                url=url,
                access_mode="proxy",
                json_data_encoded=json.dumps(json_data, sort_keys=True),
                opts=ready,
                **extra,
            )

        self.prometheus = datasource(
            PROMETHEUS_UID, "prometheus", "Prometheus", args.prometheus_url, prometheus_json_data(settings),
            is_default=True,
        )
        self.loki = datasource(LOKI_UID, "loki", "Loki", args.loki_url, loki_json_data(settings))
        self.alertmanager = datasource(
            ALERTMANAGER_UID, "alertmanager", "Alertmanager", args.alertmanager_url, alertmanager_json_data(settings)
        )
        auth = pulumi.Output.concat(settings.grafana.admin_user, ":", args.admin_password)
        self.health_checks = [
            DatasourceHealth(
                f"{datasource_name}-health",
                settings.grafana_url,
                auth,
                datasource,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for datasource_name, datasource in (
                ("prometheus", self.prometheus),
                ("loki", self.loki),
                ("alertmanager", self.alertmanager),
            )
        ]
        self.register_outputs(
            {
                "prometheus_uid": self.prometheus.uid,
                "loki_uid": self.loki.uid,
                "alertmanager_uid": self.alertmanager.uid,
            }
        )
