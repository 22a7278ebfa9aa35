"""Grafana's datasources, managed through the Grafana API once Grafana is healthy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic
import pulumiverse_grafana as grafana

from components.grafana_admin_password import GrafanaAdminPassword
from components.grafana_api import GrafanaApiProvider, pickled_by_value

from render.remote_write import DATASOURCE_UID as LONG_TERM_UID
from render.remote_write import long_term_datasource
from render.grafana_auth import datasource_tls
from render.gateway import GATEWAY, gated
from render.tls_clients import requires_auth, serves_tls
from settings.model import StackSettings
from traces.grafana import PYROSCOPE_UID, TEMPO_UID, exemplar_destinations, pyroscope_json_data, tempo_json_data
from traces.grafana import trace_link_datasource

PROMETHEUS_UID = "prometheus"
LOKI_UID = "loki"
ALERTMANAGER_UID = "alertmanager"
# Datasource uid -> the stack service it reads (its TLS and authentication follow that service's).
SECURED = {PROMETHEUS_UID: "prometheus", LOKI_UID: "loki", ALERTMANAGER_UID: "alertmanager",
           TEMPO_UID: "tempo", PYROSCOPE_UID: "pyroscope"}
# How a datasource is proven reachable *through Grafana*: Prometheus and Loki implement Grafana's
# backend health check; the Alertmanager datasource has none, so its API is read via Grafana's proxy.
HEALTH_PATHS = {
    PROMETHEUS_UID: f"/api/datasources/uid/{PROMETHEUS_UID}/health",
    LOKI_UID: f"/api/datasources/uid/{LOKI_UID}/health",
    ALERTMANAGER_UID: f"/api/datasources/proxy/uid/{ALERTMANAGER_UID}/api/v2/status",
    LONG_TERM_UID: f"/api/datasources/uid/{LONG_TERM_UID}/health",
    # Both implement Grafana's backend health check (Tempo: its echo endpoint; Pyroscope: a label query).
    TEMPO_UID: f"/api/datasources/uid/{TEMPO_UID}/health",
    PYROSCOPE_UID: f"/api/datasources/uid/{PYROSCOPE_UID}/health",
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
    # The password or token of prometheus.remote_write's store (when its auth needs one).
    long_term_credentials: pulumi.Output[str] | None = None
    # Tempo and Pyroscope, when the stack runs them (settings.runs_traces / runs_profiles).
    tempo_url: pulumi.Input[str] | None = None
    pyroscope_url: pulumi.Input[str] | None = None
    # The stack's CA (PEM) and its client user's password, when the services serve TLS and basic
    # auth (security.tls, security.auth).
    ca_certificate: pulumi.Output[str] | None = None
    client_password: pulumi.Output[str] | None = None


def prometheus_json_data(settings: StackSettings) -> dict:
    data = {
        "httpMethod": "POST",
        # Grafana's smallest step: the scrape interval, so rate() windows are never empty.
        "timeInterval": settings.prometheus.scrape_interval,
        "queryTimeout": "60s",
        "timeout": 60,
        "prometheusType": "Prometheus",
        "incrementalQuerying": True,
    }
    destinations = exemplar_destinations(settings)
    if destinations:
        # The span metrics' exemplars (Tempo's metrics-generator) open their trace in Tempo.
        data["exemplarTraceIdDestinations"] = destinations
    return data


def loki_json_data(settings: StackSettings) -> dict:
    data: dict = {"maxLines": 1000, "timeout": 60}
    link = settings.logs.trace_link
    # The configured tracing datasource, or the stack's own Tempo when it runs and none is configured.
    datasource_uid = trace_link_datasource(settings)
    if datasource_uid or link.url_template:
        # A trace id found in a line becomes a link: to the tracing datasource (its query is the id
        # itself) or to an external trace viewer's URL.
        field = {
            "name": "TraceID",
            "matcherType": "regex",
            "matcherRegex": link.matcher_regex,
            "url": "${__value.raw}" if datasource_uid else link.url_template,
            "urlDisplayLabel": "View trace",
        }
        if datasource_uid:
            field["datasourceUid"] = datasource_uid
        data["derivedFields"] = [field]
    return data


def alertmanager_json_data(settings: StackSettings) -> dict:
    # Prometheus's Alertmanager (not Grafana's or Mimir's); Grafana may also manage its silences.
    return {"implementation": "prometheus", "handleGrafanaManagedAlerts": False}


@pickled_by_value
class DatasourceHealthProvider(GrafanaApiProvider):
    """Fails `pulumi up` when Grafana cannot reach a datasource it was just given.

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
        import time

        deadline = time.monotonic() + float(props["deadline_seconds"])
        while True:
            status, body = self.grafana_call(props["grafana_url"], props["path"], props["auth"], ca=props.get("ca") or None)
            if status == 200 and '"status":"ERROR"' not in body.replace(" ", ""):
                return
            last = f"HTTP {status}: {body[:300]}" if status else body
            if time.monotonic() >= deadline:
                url = props["grafana_url"].rstrip("/") + props["path"]
                raise RuntimeError(f"Grafana datasource {props['uid']} is not healthy at {url}: {last}")
            time.sleep(min(3.0, float(props["deadline_seconds"]) / 4))


class DatasourceHealth(pulumi.dynamic.Resource):
    """A datasource proven healthy through Grafana; checked again whenever the datasource changes."""

    def __init__(
        self,
        name: str,
        grafana_url: str,
        auth: pulumi.Input[str],
        datasource: grafana.oss.DataSource,
        opts: pulumi.ResourceOptions,
        ca: pulumi.Input[str] | None = None,
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
                "ca": ca or "",
            },
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[datasource])),
        )


class GrafanaDatasources(pulumi.ComponentResource):
    provider: grafana.Provider

    def __init__(self, name: str, args: GrafanaDatasourcesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("monitoring:grafana:GrafanaDatasources", name, None, opts)
        settings = args.settings
        # Grafana keeps the admin password of its first start: a changed secret is rotated here,
        # before the provider and the health checks authenticate with it.
        self.admin_password = GrafanaAdminPassword(
            "admin-password",
            settings.grafana_url,
            settings.grafana.admin_user,
            args.admin_password,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.grafana]),
            ca=self._grafana_ca(settings, args),
        )
        auth = pulumi.Output.concat(settings.grafana.admin_user, ":", args.admin_password)
        self.provider = grafana.Provider(
            "grafana",
            url=settings.grafana_url,
            auth=auth,
            retries=10,
            ca_cert=self._grafana_ca(settings, args),
            opts=pulumi.ResourceOptions(parent=self),
        )
        ready = pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[args.grafana, self.admin_password])

        def datasource(name: str, kind: str, title: str, url: pulumi.Input[str], json_data: dict, **extra):
            if name in SECURED and (serves_tls(settings, SECURED[name]) or gated(settings, SECURED[name])):
                # https, the stack's CA and (Prometheus, Alertmanager, the gateway) the client user (security.*).
                extra, json_data = self._secured(settings, args, SECURED[name], extra, json_data)
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
        checked = [("prometheus", self.prometheus), ("loki", self.loki), ("alertmanager", self.alertmanager)]
        # Traces and profiles, linked to the other signals (traces/grafana.py).
        self.tempo = self.pyroscope = None
        if args.tempo_url is not None:
            self.tempo = datasource(TEMPO_UID, "tempo", "Tempo", args.tempo_url, tempo_json_data(settings))
            checked.append(("tempo", self.tempo))
        if args.pyroscope_url is not None:
            self.pyroscope = datasource(
                PYROSCOPE_UID, "grafana-pyroscope-datasource", "Pyroscope", args.pyroscope_url, pyroscope_json_data(settings)
            )
            checked.append(("pyroscope", self.pyroscope))
        # The long-term store Prometheus writes to (prometheus.remote_write.query_url), read with the same credentials.
        self.long_term = None
        store = long_term_datasource(settings, prometheus_json_data(settings))
        if store is not None:
            extra: dict[str, Any] = {}
            if store["basic_auth_username"]:
                extra.update(basic_auth_enabled=True, basic_auth_username=store["basic_auth_username"])
            if store["secure_field"] and args.long_term_credentials is not None:
                field, prefix = store["secure_field"]
                extra["secure_json_data_encoded"] = pulumi.Output.secret(
                    args.long_term_credentials.apply(lambda value: json.dumps({field: prefix + value}))
                )
            self.long_term = datasource(
                LONG_TERM_UID, "prometheus", "Long-term store", store["url"], store["json_data"], **extra
            )
            checked.append(("long-term", self.long_term))
        self.health_checks = [
            DatasourceHealth(
                f"{datasource_name}-health",
                settings.grafana_url,
                auth,
                datasource,
                opts=pulumi.ResourceOptions(parent=self),
                ca=self._grafana_ca(settings, args),
            )
            for datasource_name, datasource in checked
        ]
        self.register_outputs(
            {
                "prometheus_uid": self.prometheus.uid,
                "loki_uid": self.loki.uid,
                "alertmanager_uid": self.alertmanager.uid,
            }
        )

    @staticmethod
    def _grafana_ca(settings: StackSettings, args: GrafanaDatasourcesArgs) -> pulumi.Output[str] | None:
        """The CA Pulumi checks Grafana's certificate with: the stack's, when Grafana serves the stack's
        certificate at grafana.url (not behind an ingress, whose certificate is the cluster's)."""
        behind_ingress = settings.platform == "kubernetes" and settings.kubernetes.ingress and not settings.grafana.url
        return None if behind_ingress or not serves_tls(settings, "grafana") else args.ca_certificate

    @staticmethod
    def _secured(settings: StackSettings, args: GrafanaDatasourcesArgs, key: str, extra: dict, json_data: dict):
        # Loki, Tempo and Pyroscope through the gateway when security.auth gates them (render/gateway.py).
        tls_json, with_ca = datasource_tls(settings, GATEWAY if gated(settings, key) else key)
        secure: dict[str, pulumi.Input[str]] = {}
        if with_ca and args.ca_certificate is not None:
            secure["tlsCACert"] = args.ca_certificate
        if (requires_auth(settings, key) or gated(settings, key)) and args.client_password is not None:
            extra = {**extra, "basic_auth_enabled": True, "basic_auth_username": settings.security.auth.client_user}
            secure["basicAuthPassword"] = args.client_password
        if secure:
            extra = {
                **extra,
                "secure_json_data_encoded": pulumi.Output.secret(
                    pulumi.Output.all(**secure).apply(lambda values: json.dumps(dict(values), sort_keys=True))
                ),
            }
        return extra, {**json_data, **tls_json}
