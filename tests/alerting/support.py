"""Alertmanager configs written for the local tools.

The local amtool/Alertmanager (Debian 0.25) predates the webhook's `url_file` (the pinned image,
0.28, has it), so the local copy carries the URL itself: `local_config` swaps exactly that one
field and nothing else. The SMS receiver (`sns_configs`, 0.23+) is checked as rendered.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from alerting.alertmanager import alertmanager_files, render_alertmanager_config
from settings import StackSettings, parse_settings

AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"

EVERY_RECEIVER = {
    "receivers": {
        "slack": {"channel": "#alerts", "low_noise_channel": "#alerts-info"},
        "pagerduty": {},
        "email": {
            "to": "oncall@example.org",
            "from_address": "alertmanager@example.org",
            "smarthost": "smtp.example.org:587",
            "auth_username": "alertmanager",
            "security_to": "security@example.org",
        },
        "webhook": {},
        "sms": {"phone_numbers": ["+14155550123", "+447700900123"], "region": "eu-west-1",
                "access_key_id": "AKIAIOSFODNN7EXAMPLE"},
    },
    "component_routes": {"gpu": {"slack_channel": "#gpu-team"}, "llm": {"email_to": "ml-oncall@example.org"}},
    "escalation": {"after": "30m", "email_to": "lead@example.org", "slack_channel": "#incidents"},
}


def settings_with(alerting: dict[str, Any]) -> StackSettings:
    return parse_settings({"alerting": alerting}, "test")


def local_config(document: dict[str, Any], webhook_url: str) -> dict[str, Any]:
    local = copy.deepcopy(document)
    for receiver in local["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook.pop("url_file")
            webhook["url"] = webhook_url
    return local


def write_local(settings: StackSettings, directory: Path, webhook_url: str = "http://127.0.0.1:9/hook") -> Path:
    """alertmanager.yml and its templates under `directory`, secrets read from `directory/secrets`."""
    files = alertmanager_files(settings, config_dir=str(directory), secrets_dir=str(directory / "secrets"))
    for relpath, content in files.items():
        path = directory / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    document = render_alertmanager_config(settings, config_dir=str(directory), secrets_dir=str(directory / "secrets"))
    config = directory / "alertmanager.yml"
    config.write_text(yaml.safe_dump(local_config(document, webhook_url), sort_keys=True))
    return config


def amtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([AMTOOL, *args], capture_output=True, text=True, timeout=60)
