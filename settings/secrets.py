"""The secrets a stack reads with `require_secret`; each says when it is needed."""

from __future__ import annotations

import json
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
    # What that file holds when a tool wants more than the bare value; None writes the value as set.
    file_content: Callable[[StackSettings, str], str] | None = None
    # A stand-in of the right shape for offline previews (given the placeholder text); None: the text.
    placeholder: Callable[[StackSettings, str], str] | None = None

    def content(self, settings: StackSettings, value: str) -> str:
        return self.file_content(settings, value) if self.file_content else value


def aws_credentials_file(settings: StackSettings, secret_access_key: str) -> str:
    """An AWS shared-credentials file: Alertmanager's SNS notifier has no `*_file` option for its
    keys (sigv4 takes them inline only, up to 0.28 at least), but its AWS SDK reads this file from
    AWS_SHARED_CREDENTIALS_FILE."""
    sms = settings.alerting.receivers.sms
    if sms is None:
        raise ValueError("an SNS credentials file needs alerting.receivers.sms")
    return f"[default]\naws_access_key_id = {sms.access_key_id}\naws_secret_access_key = {secret_access_key.strip()}\n"


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
    SecretSpec(
        "sms_aws_secret_access_key",
        "the AWS secret access key of alerting.receivers.sms.access_key_id (SMS through Amazon SNS)",
        lambda s: s.alerting.receivers.sms is not None,
        "sms_aws_credentials",
        aws_credentials_file,
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
    # Tempo reads it from an environment variable it expands into its config (traces.tempo.tempo_secret_env).
    SecretSpec(
        "tempo_s3_secret_access_key",
        "the secret access key of Tempo's S3 bucket (traces.tempo.s3)",
        lambda s: s.runs_traces and s.traces.tempo.s3 is not None,
        "tempo_s3_secret_access_key",
    ),
    # Prometheus reads it as basic_auth.password_file or authorization.credentials_file (render.remote_write).
    SecretSpec(
        "prometheus_remote_write_credentials",
        "the password (auth basic) or bearer token (auth bearer) of prometheus.remote_write",
        lambda s: s.prometheus.remote_write is not None and s.prometheus.remote_write.auth != "none",
        "prometheus_remote_write_credentials",
    ),
    # The real exporters' database credentials, needed only when the stack deploys that exporter.
    SecretSpec(
        "postgres_exporter_password",
        "the password of exporters.postgres.user (postgres exporter in real mode)",
        lambda s: s.exporters.postgres.mode == "real",
        "postgres_exporter_password",
    ),
    # redis_exporter reads it from REDIS_PASSWORD (it has no file option).
    SecretSpec(
        "redis_exporter_password",
        "the Redis password (exporters.redis.password: true, redis exporter in real mode)",
        lambda s: s.exporters.redis.mode == "real" and s.exporters.redis.password,
        "redis_exporter_password",
    ),
    *ALERTING_SECRETS,
    # restic reads it with --password-file; backup/ puts the S3 key in restic's environment from its file.
    SecretSpec(
        "backup_repository_password",
        "the password that encrypts the restic backup repository (backups run)",
        lambda s: s.runs_backups,
        "backup_repository_password",
    ),
    SecretSpec(
        "backup_s3_secret_access_key",
        "the secret access key of backup.s3.access_key_id (the backup repository's bucket)",
        lambda s: s.runs_backups and s.backup.s3 is not None,
        "backup_s3_secret_access_key",
    ),
    # The monitoring API's bearer tokens: the file `python -m api --tokens-file` reads, one
    # `read <token>` or `write <token>` a line (tokens of 16 characters or more).
    SecretSpec(
        "monitoring_api_tokens",
        "the monitoring API's bearer tokens, one `read <token>` or `write <token>` a line (api.enabled)",
        lambda s: s.api.enabled,
        "monitoring_api_tokens",
        placeholder=lambda s, text: f"read {text}-read-token\nwrite {text}-write-token\n",
    ),
    SecretSpec(
        "monitoring_api_grafana_token",
        "a Grafana service account token the monitoring API manages its dashboards with (api.grafana_token)",
        lambda s: s.api.enabled and s.api.grafana_token,
        "monitoring_api_grafana_token",
    ),
    # TLS and authentication (settings/security.py): the stack's own clients sign in as
    # security.auth.client_user; the program hashes every password with bcrypt for the web configs.
    SecretSpec(
        "web_client_password",
        "the password of security.auth.client_user, the user the stack's own clients sign in as",
        lambda s: s.security.auth.enabled,
        "web_client_password",
    ),
    SecretSpec(
        "web_user_passwords",
        'a JSON object {"<user>": "<password>"} with the password of every user of security.auth.users',
        lambda s: s.security.auth.enabled and bool(s.security.auth.users),
        "web_user_passwords",
        placeholder=lambda s, text: json.dumps({user.name: f"{text}-{user.name}" for user in s.security.auth.users}),
    ),
    SecretSpec(
        "tls_ca_certificate",
        "your CA's certificate, PEM (security.tls.mode provided), which signs every service certificate",
        lambda s: s.security.tls.mode == "provided",
        "ca.crt",
    ),
    SecretSpec(
        "tls_ca_private_key",
        "your CA's private key, PEM (security.tls.mode provided)",
        lambda s: s.security.tls.mode == "provided",
        "ca.key",
    ),
    # Grafana expands $__file{...} from these files (render/grafana_auth.py).
    SecretSpec(
        "grafana_oauth_client_secret",
        "the OAuth2 client secret of security.sso.oauth.client_id",
        lambda s: s.security.sso.oauth is not None,
        "grafana_oauth_client_secret",
    ),
    SecretSpec(
        "grafana_ldap_bind_password",
        "the password of security.sso.ldap.bind_dn",
        lambda s: s.security.sso.ldap is not None,
        "grafana_ldap_bind_password",
    ),
)

SECRET_KEYS = frozenset(spec.key for spec in SECRETS)


def needed_secrets(settings: StackSettings) -> list[SecretSpec]:
    return [spec for spec in SECRETS if spec.needed(settings)]


def set_secret_command(key: str, stack: str) -> str:
    return f"pulumi config set --secret monitoring:{key} <value> -s {stack}"
