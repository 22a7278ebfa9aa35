"""alertmanager.yml: seed 004's routing table, receivers, inhibition, escalation and templates.

| route    | receiver   | integrations                             | group_wait | repeat |
| critical | critical   | PagerDuty + SMS + Slack (+ webhook)      | 5s         | 4h     |
| warning  | warning    | Slack (+ webhook)                        | 30s        | 24h    |
| info     | info       | low-noise Slack, no resolve              | 5m         | 24h    |
| security | security   | PagerDuty + SMS + e-mail + Slack         | 0s         | 1h     |

Every integration is optional; a receiver without any is Alertmanager's null receiver, so the
tree is valid with nothing configured. Credentials are read from files under `/run/secrets`,
never written here (SMS goes through Amazon SNS, whose notifier takes AWS keys inline only: its
SDK reads them from the credentials file AWS_SHARED_CREDENTIALS_FILE names instead). Acknowledging
an alert is silencing it: a critical alert still firing and unsilenced `escalation.after` after it
started also reaches the escalation receiver (a sibling of the critical route, reached through
`continue: true`, whose group_wait is that delay).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from render.serialize import to_yaml
from settings.model import StackSettings

CONFIG_DIR = "/etc/alertmanager"
# Where the platform mounts each secret file (services.spec.SecretFile).
SECRETS_DIR = "/run/secrets"
TEMPLATE_FILE = "templates/monitoring.tmpl"

DEFAULT = "default"
CRITICAL = "critical"
WARNING = "warning"
INFO = "info"
SECURITY = "security"
ESCALATION = "escalation"
HEARTBEAT = "heartbeat"
GROUP_BY = ["env", "alertname", "severity"]

# Secret key -> file name under SECRETS_DIR (the SecretSpecs in settings.secrets use the same).
SLACK_SECRET = "slack_api_url"
PAGERDUTY_SECRET = "pagerduty_routing_key"
EMAIL_SECRET = "email_auth_password"
WEBHOOK_SECRET = "webhook_url"
SMS_CREDENTIALS = "sms_aws_credentials"
# SNS message attribute: Transactional texts are delivered with priority (and may cost more).
SMS_TYPE = {"AWS.SNS.SMS.SMSType": "Transactional"}

TITLE = '{{ template "monitoring.title" . }}'
TEXT = '{{ template "monitoring.text" . }}'

# Message templates: every notification carries summary, severity, runbook and dashboard links.
TEMPLATES = """\
{{ define "monitoring.title" -}}
[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] \
{{ .CommonLabels.severity }} {{ .CommonLabels.alertname }} ({{ .CommonLabels.env }})
{{- end }}

{{ define "monitoring.text" -}}
{{ range .Alerts -}}
*{{ .Annotations.summary }}*
Severity: {{ .Labels.severity }}{{ if .Labels.instance }} | Instance: {{ .Labels.instance }}{{ end }}
{{ .Annotations.description }}
Runbook: {{ .Annotations.runbook_url }}
Dashboard: {{ .Annotations.dashboard_url }}
{{ end -}}
{{- end }}

{{ define "monitoring.sms" -}}
{{ template "monitoring.title" . }}
{{ range .Alerts }}{{ .Annotations.summary }}
{{ end }}{{ .CommonAnnotations.runbook_url }}
{{- end }}

{{ define "monitoring.color" -}}
{{ if eq .Status "resolved" }}good{{ else if eq .CommonLabels.severity "critical" }}danger{{ else }}warning{{ end }}
{{- end }}

{{ define "monitoring.email.html" -}}
<h2>{{ template "monitoring.title" . }}</h2>
{{ range .Alerts -}}
<p><b>{{ .Annotations.summary }}</b><br>
Severity: {{ .Labels.severity }}{{ if .Labels.instance }} &middot; Instance: {{ .Labels.instance }}{{ end }}<br>
{{ .Annotations.description }}<br>
<a href="{{ .Annotations.runbook_url }}">Runbook</a> &middot; <a href="{{ .Annotations.dashboard_url }}">Dashboard</a></p>
{{ end -}}
{{- end }}
"""


def _secret(secrets_dir: str, key: str) -> str:
    return str(PurePosixPath(secrets_dir) / key)


class _Integrations:
    """Builds each integration's config from the settings, or nothing when it is not configured."""

    def __init__(self, settings: StackSettings, secrets_dir: str):
        self.settings = settings
        self.receivers = settings.alerting.receivers
        self.secrets_dir = secrets_dir

    def slack(self, channel: str | None, send_resolved: bool = True) -> dict[str, Any]:
        if not self.receivers.slack or not channel:
            return {}
        return {
            "slack_configs": [
                {
                    "api_url_file": _secret(self.secrets_dir, SLACK_SECRET),
                    "channel": channel,
                    "send_resolved": send_resolved,
                    "title": TITLE,
                    "text": TEXT,
                    "color": '{{ template "monitoring.color" . }}',
                }
            ]
        }

    def pagerduty(self) -> dict[str, Any]:
        pagerduty = self.receivers.pagerduty
        if not pagerduty:
            return {}
        return {
            "pagerduty_configs": [
                {
                    "routing_key_file": _secret(self.secrets_dir, PAGERDUTY_SECRET),
                    "client": pagerduty.client_name,
                    "client_url": self.settings.grafana_url,
                    "description": TITLE,
                    "severity": '{{ if eq .CommonLabels.severity "critical" }}critical{{ else }}warning{{ end }}',
                    "details": {
                        "summary": "{{ .CommonAnnotations.summary }}",
                        "runbook": "{{ .CommonAnnotations.runbook_url }}",
                        "dashboard": "{{ .CommonAnnotations.dashboard_url }}",
                        "firing": TEXT,
                    },
                    "send_resolved": True,
                }
            ]
        }

    def email(self, to: str | None) -> dict[str, Any]:
        email = self.receivers.email
        if not email or not to:
            return {}
        config: dict[str, Any] = {
            "to": to,
            "from": email.from_address,
            "smarthost": email.smarthost,
            "require_tls": email.require_tls,
            "send_resolved": True,
            "headers": {"Subject": TITLE},
            "html": '{{ template "monitoring.email.html" . }}',
        }
        if email.auth_username:
            config["auth_username"] = email.auth_username
            config["auth_password_file"] = _secret(self.secrets_dir, EMAIL_SECRET)
        return {"email_configs": [config]}

    def sms(self) -> dict[str, Any]:
        # Fields of Alertmanager 0.28.1's SNSConfig (sns_configs exist since 0.23). Its sigv4 block
        # (prometheus/sigv4 v0.1.0) has no key file: left without keys, the AWS SDK's default chain
        # reads the credentials file that alertmanager_environment names.
        sms = self.receivers.sms
        if not sms:
            return {}
        sigv4 = {"region": sms.region}
        api_url = {"api_url": sms.api_url} if sms.api_url else {}
        return {
            "sns_configs": [
                {
                    "phone_number": number,
                    "sigv4": sigv4,
                    **api_url,
                    # A text shows no subject, but SNS still rejects one over 100 characters or
                    # with line breaks, which the default subject template can produce.
                    "subject": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}",
                    # Alertmanager cuts a longer text at 1600 bytes, SNS's limit for SMS.
                    "message": '{{ template "monitoring.sms" . }}',
                    "attributes": SMS_TYPE,
                    "send_resolved": True,
                }
                for number in sms.phone_numbers
            ]
        }

    def webhook(self, send_resolved: bool = True) -> dict[str, Any]:
        webhook = self.receivers.webhook
        if not webhook:
            return {}
        return {
            "webhook_configs": [
                {
                    "url_file": _secret(self.secrets_dir, WEBHOOK_SECRET),
                    "send_resolved": send_resolved,
                    "max_alerts": webhook.max_alerts,
                }
            ]
        }


def _merge(name: str, *parts: dict[str, Any]) -> dict[str, Any]:
    receiver: dict[str, Any] = {"name": name}
    for part in parts:
        for key, configs in part.items():
            receiver.setdefault(key, []).extend(configs)
    return receiver


def component_receiver(component: str) -> str:
    return f"component-{component}"


def receivers(settings: StackSettings, secrets_dir: str = SECRETS_DIR) -> list[dict[str, Any]]:
    alerting = settings.alerting
    make = _Integrations(settings, secrets_dir)
    slack = alerting.receivers.slack
    email = alerting.receivers.email
    chat = slack.channel if slack else None
    low_noise = (slack.low_noise_channel or slack.channel) if slack else None
    escalation = alerting.escalation
    result = [
        _merge(DEFAULT, make.slack(chat), make.webhook()),
        _merge(CRITICAL, make.pagerduty(), make.sms(), make.slack(chat), make.webhook()),
        _merge(WARNING, make.slack(chat), make.webhook()),
        _merge(INFO, make.slack(low_noise, send_resolved=False), make.webhook(send_resolved=False)),
        _merge(SECURITY, make.pagerduty(), make.sms(), make.email((email.security_to or email.to) if email else None),
               make.slack(chat), make.webhook()),
        _merge(HEARTBEAT, make.webhook()),
    ]
    if escalation.enabled:
        result.append(_merge(ESCALATION, make.slack(escalation.slack_channel), make.email(escalation.email_to), make.webhook()))
    for component, route in sorted(alerting.component_routes.items()):
        result.append(_merge(component_receiver(component), make.slack(route.slack_channel), make.email(route.email_to)))
    return result


def _route(receiver: str, matchers: list[str], timing: Any, **extra: Any) -> dict[str, Any]:
    return {
        "receiver": receiver,
        "matchers": matchers,
        "group_wait": timing.group_wait,
        "group_interval": timing.group_interval,
        "repeat_interval": timing.repeat_interval,
        **extra,
    }


def routes(settings: StackSettings) -> list[dict[str, Any]]:
    alerting = settings.alerting
    timings = alerting.routes
    escalation = alerting.escalation
    tree = [
        # The always-firing heartbeat goes to the dead man's switch only, never to people.
        _route(HEARTBEAT, ['alertname="Watchdog"'], timings.heartbeat),
        _route(SECURITY, ['category="security"'], timings.security),
        # Component teams hear about their alerts in addition to the severity routes below.
        *(
            {"receiver": component_receiver(component), "matchers": [f'component="{component}"'], "continue": True}
            for component in sorted(alerting.component_routes)
        ),
        _route(CRITICAL, ['severity="critical"'], timings.critical, **({"continue": True} if escalation.enabled else {})),
    ]
    if escalation.enabled:
        tree.append(
            {
                "receiver": ESCALATION,
                "matchers": ['severity="critical"'],
                # Waiting this long before the first notification is the escalation delay: an
                # alert silenced (acknowledged) or resolved in the meantime never reaches it.
                "group_wait": escalation.after,
                "group_interval": timings.critical.group_interval,
                "repeat_interval": escalation.repeat_interval,
            }
        )
    tree.append(_route(WARNING, ['severity="warning"'], timings.warning))
    tree.append(_route(INFO, ['severity="info"'], timings.info))
    return tree


def inhibit_rules() -> list[dict[str, Any]]:
    return [
        # A critical alert silences the warning/info version of the same alert on the same instance.
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity=~"warning|info"'],
            "equal": ["env", "alertname", "instance"],
        },
        # A target that cannot be scraped explains every alert computed from its series.
        {
            "source_matchers": ['alertname=~".+TargetDown"'],
            "target_matchers": ['alertname!~".+Target(Down|Absent|Flapping)"', 'alertname!="Watchdog"'],
            "equal": ["env", "job", "instance"],
        },
    ]


def render_alertmanager_config(
    settings: StackSettings, config_dir: str = CONFIG_DIR, secrets_dir: str = SECRETS_DIR
) -> dict[str, Any]:
    alerting = settings.alerting
    return {
        "global": {"resolve_timeout": "5m"},
        "templates": [str(PurePosixPath(config_dir) / "templates" / "*.tmpl")],
        "route": {
            "receiver": DEFAULT,
            "group_by": GROUP_BY,
            "group_wait": alerting.group_wait,
            "group_interval": alerting.group_interval,
            "repeat_interval": alerting.repeat_interval,
            "routes": routes(settings),
        },
        "inhibit_rules": inhibit_rules(),
        "receivers": receivers(settings, secrets_dir),
    }


def alertmanager_files(
    settings: StackSettings, config_dir: str = CONFIG_DIR, secrets_dir: str = SECRETS_DIR
) -> dict[str, str]:
    """Relative path under the config directory -> content: the config and its templates."""
    return {
        "alertmanager.yml": to_yaml(render_alertmanager_config(settings, config_dir, secrets_dir)),
        TEMPLATE_FILE: TEMPLATES,
    }


def alertmanager_secret_files(settings: StackSettings) -> list[tuple[str, str]]:
    """(secret key, file name under /run/secrets) of every credential the config reads."""
    from settings.secrets import ALERTING_SECRET_KEYS, needed_secrets

    return [(spec.key, spec.file_name) for spec in needed_secrets(settings) if spec.key in ALERTING_SECRET_KEYS]


def alertmanager_environment(settings: StackSettings, secrets_dir: str = SECRETS_DIR) -> dict[str, str]:
    """Variables Alertmanager needs: where the SNS notifier's AWS SDK finds its credentials."""
    if settings.alerting.receivers.sms is None:
        return {}
    return {"AWS_SHARED_CREDENTIALS_FILE": _secret(secrets_dir, SMS_CREDENTIALS)}
