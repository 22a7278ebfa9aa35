"""alertmanager.yml: the routing tree and its receivers."""

from __future__ import annotations

from typing import Any

from settings.model import StackSettings

DEFAULT_RECEIVER = "default"


def render_alertmanager_config(settings: StackSettings) -> dict[str, Any]:
    alerting = settings.alerting
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": DEFAULT_RECEIVER,
            "group_by": ["alertname", "env", "severity"],
            "group_wait": alerting.group_wait,
            "group_interval": alerting.group_interval,
            "repeat_interval": alerting.repeat_interval,
        },
        # A receiver without integrations is Alertmanager's null receiver: alerts are visible in the UI.
        "receivers": [{"name": DEFAULT_RECEIVER}],
    }
