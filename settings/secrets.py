"""The secrets a stack reads with `require_secret`; each says when it is needed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from settings.model import StackSettings


@dataclass(frozen=True)
class SecretSpec:
    key: str  # config key under the `monitoring:` namespace
    purpose: str
    needed: Callable[[StackSettings], bool]
    # How the value reaches its container: a file under /run/secrets (never a rendered document).
    file_name: str


# Alertmanager receivers' credentials, each needed only when its receiver is configured; the file
# names are what alerting.alertmanager points its `*_file` fields at.
ALERTING_SECRETS: tuple[SecretSpec, ...] = (
    SecretSpec(
        "slack_api_url",
        "the Slack incoming-webhook URL (alerting.receivers.slack)",
        lambda s: s.alerting.receivers.slack is not None,
        "slack_api_url",
    ),
    SecretSpec(
        "pagerduty_routing_key",
        "the PagerDuty Events v2 routing key (alerting.receivers.pagerduty)",
        lambda s: s.alerting.receivers.pagerduty is not None,
        "pagerduty_routing_key",
    ),
    SecretSpec(
        "email_auth_password",
        "the SMTP password of alerting.receivers.email.auth_username",
        lambda s: s.alerting.receivers.email is not None and s.alerting.receivers.email.auth_username is not None,
        "email_auth_password",
    ),
    SecretSpec(
        "webhook_url",
        "the generic webhook URL (alerting.receivers.webhook)",
        lambda s: s.alerting.receivers.webhook is not None,
        "webhook_url",
    ),
)
ALERTING_SECRET_KEYS = frozenset(spec.key for spec in ALERTING_SECRETS)

SECRETS: tuple[SecretSpec, ...] = (
    SecretSpec("grafana_admin_password", "the Grafana admin password", lambda s: True, "grafana_admin_password"),
    # Loki reads it from an environment variable it expands into its config (logs.loki.loki_secret_env).
    SecretSpec(
        "loki_s3_secret_access_key",
        "the secret access key of Loki's S3 bucket (logs.s3)",
        lambda s: s.logs.s3 is not None,
        "loki_s3_secret_access_key",
    ),
    *ALERTING_SECRETS,
)

SECRET_KEYS = frozenset(spec.key for spec in SECRETS)


def needed_secrets(settings: StackSettings) -> list[SecretSpec]:
    return [spec for spec in SECRETS if spec.needed(settings)]


def set_secret_command(key: str, stack: str) -> str:
    return f"pulumi config set --secret monitoring:{key} <value> -s {stack}"
