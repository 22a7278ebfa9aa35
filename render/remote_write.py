"""prometheus.yml's `remote_write` to a long-term store (`prometheus.remote_write`), and what Grafana
needs to read the store back. The credentials never enter a document: Prometheus reads them from the
secret file `prometheus_remote_write_credentials` under /run/secrets."""

from __future__ import annotations

from typing import Any

from render.grafana import SECRETS_DIR
from settings.model import StackSettings

SECRET_KEY = "prometheus_remote_write_credentials"
# The store's datasource in Grafana (next to `prometheus`, the stack's own).
DATASOURCE_UID = "long-term"


def remote_write_secret_files(settings: StackSettings) -> list[tuple[str, str]]:
    """(secret key, file name) Prometheus needs for the store's credentials."""
    remote = settings.prometheus.remote_write
    return [(SECRET_KEY, SECRET_KEY)] if remote is not None and remote.auth != "none" else []


def remote_write_config(settings: StackSettings, secrets_dir: str = SECRETS_DIR) -> dict[str, Any]:
    """The top-level `remote_write` block (absent when unset). Every replica writes the same series
    with its own `replica` external label; a store that deduplicates HA pairs (Mimir, Thanos) reads it."""
    remote = settings.prometheus.remote_write
    if remote is None:
        return {}
    target: dict[str, Any] = {
        "url": remote.url,
        "name": "long-term",
        # The settings' queue fields are named as Prometheus' queue_config names them.
        "queue_config": remote.queue.model_dump(),
    }
    credentials = f"{secrets_dir}/{SECRET_KEY}"
    if remote.auth == "basic":
        target["basic_auth"] = {"username": remote.username, "password_file": credentials}
    elif remote.auth == "bearer":
        target["authorization"] = {"type": "Bearer", "credentials_file": credentials}
    return {"remote_write": [target]}


def long_term_datasource(settings: StackSettings, base_json_data: dict[str, Any]) -> dict[str, Any] | None:
    """Grafana's datasource for the store, when `prometheus.remote_write.query_url` is set: its url,
    jsonData, basic-auth user, and which secureJsonData field gets the credentials (with what prefix).

    `base_json_data` is the stack Prometheus datasource's jsonData: the store holds the same
    series at the same resolution."""
    remote = settings.prometheus.remote_write
    if remote is None or remote.query_url is None:
        return None
    json_data = dict(base_json_data)
    secure: tuple[str, str] | None = None
    if remote.auth == "basic":
        secure = ("basicAuthPassword", "")
    elif remote.auth == "bearer":
        json_data["httpHeaderName1"] = "Authorization"
        secure = ("httpHeaderValue1", "Bearer ")
    return {
        "url": remote.query_url,
        "json_data": json_data,
        "basic_auth_username": remote.username if remote.auth == "basic" else None,
        "secure_field": secure,
    }
