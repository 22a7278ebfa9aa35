"""The monitoring API (`monitoring:api`): one authenticated HTTP API over the stack (api/)."""

from __future__ import annotations

from pydantic import Field

from settings.types import Duration, Resources, Strict


class ApiTimeouts(Strict):
    """How long the API waits for each upstream before answering 504."""

    prometheus: Duration = "10s"
    alertmanager: Duration = "5s"
    grafana: Duration = "10s"
    loki: Duration = "15s"
    tempo: Duration = "15s"
    pyroscope: Duration = "15s"


class ApiSettings(Strict):
    # Off by default: on, it needs the `monitoring_api_tokens` secret.
    enabled: bool = False
    # Host port when `exposure.publish` lists `api` (Docker), the Service's port on a cluster.
    port: int = Field(default=8080, ge=1, le=65535)
    timeouts: ApiTimeouts = ApiTimeouts()
    # The dashboards endpoints sign in to Grafana with a service account token (Editor on the API's
    # folder), the secret `monitoring_api_grafana_token`: create it once Grafana runs, then set this.
    grafana_token: bool = False
    # Requests a second per token (bursts of twice that); 0 turns the limit off.
    rate_limit: float = Field(default=20, ge=0, le=10000)
    resources: Resources = Resources(cpus=0.5, memory_mb=256)
