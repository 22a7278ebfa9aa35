"""Alerting settings: receivers, the routing table's timings, escalation, rule overrides and SLOs.

Routing timings are seed 004's table (critical 5s/4h, warning 30s/24h, info 5m/24h, security
0s/1h). Receivers are all optional; their credentials are Pulumi secrets delivered as files (see
`settings.secrets`), so nothing here is secret.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Iterator, Literal

from pydantic import AfterValidator, Field, model_validator

from settings.errors import FieldProblem, cross_field
from settings.types import Duration, LabelName, Name, Strict, duration_seconds

Severity = Literal["critical", "warning", "info"]

# The window placeholder an SLI query uses for every window the generator needs.
WINDOW_PLACEHOLDER = "$window"
_RULE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]+$")


def _matching(pattern: str, problem: str) -> AfterValidator:
    """A string validator: the value must match `pattern`, else the settings line says `problem`."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise ValueError(problem)
        return value

    return AfterValidator(check)


def _some_numbers(numbers: tuple[str, ...]) -> tuple[str, ...]:
    # Checked after the numbers themselves, so a bad number is not also reported as "too short".
    if not 1 <= len(numbers) <= 20:
        raise ValueError("needs 1 to 20 phone numbers")
    return numbers


def _promql_problem(query: str) -> str | None:
    import promql_parser

    try:
        promql_parser.parse(query)
    except (ValueError, TypeError) as error:
        return str(error).splitlines()[0]
    return None


# group_wait may be zero (the security route sends at once); Duration forbids zero.
Wait = Annotated[str, _matching(r"0s|(?=\d)(\d+h)?(\d+m)?(\d+s)?", "is not a duration like 0s, 30s, 5m or 1h")]
Email = Annotated[str, _matching(r"[^@\s]+@[^@\s]+\.[^@\s]+", "is not an e-mail address like oncall@example.org")]
HostPort = Annotated[str, _matching(r"[A-Za-z0-9._-]+:\d{1,5}", "is not a host:port like smtp.example.org:587")]
Channel = Annotated[str, _matching(r"[#@]?[a-z0-9][a-z0-9._-]{0,79}", "is not a Slack channel like #alerts")]
# E.164, the only form SNS takes a phone number in: +, country code, subscriber number.
PhoneNumber = Annotated[str, _matching(r"\+[1-9]\d{6,14}", "is not a phone number in E.164 form like +14155550123")]
AwsRegion = Annotated[str, _matching(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d", "is not an AWS region like eu-west-1")]
# IAM's AccessKeyId: 16 to 128 upper-case letters and digits (AKIA... for an IAM user's key).
AwsAccessKeyId = Annotated[
    str, _matching(r"[A-Z0-9]{16,128}", "is not an AWS access key id like AKIAIOSFODNN7EXAMPLE")
]
SnsUrl = Annotated[str, _matching(r"https?://[^\s/]+(/\S*)?", "is not a URL like https://sns.eu-west-1.amazonaws.com")]


class SlackSettings(Strict):
    # The webhook URL is the secret `slack_api_url`.
    channel: Channel
    # Info alerts go here (no resolve messages); defaults to `channel`.
    low_noise_channel: Channel | None = None


class PagerDutySettings(Strict):
    # The Events API v2 routing key is the secret `pagerduty_routing_key`.
    client_name: str = Field(default="monitoring-stack", min_length=1, max_length=100)


class EmailSettings(Strict):
    to: Email
    from_address: Email
    smarthost: HostPort
    # The password is the secret `email_auth_password`, needed only when a user name is set.
    auth_username: str | None = Field(default=None, min_length=1)
    require_tls: bool = True
    # Security alerts also go to this list; defaults to `to`.
    security_to: Email | None = None


class WebhookSettings(Strict):
    # The URL is the secret `webhook_url`. 0 sends every alert of a group.
    max_alerts: int = Field(default=0, ge=0, le=1000)


class SmsSettings(Strict):
    """Text messages through Amazon SNS (Alertmanager's `sns_configs`, since 0.23), one per number.
    The IAM user's secret key is the secret `sms_aws_secret_access_key`; it needs `sns:Publish`."""

    phone_numbers: Annotated[tuple[PhoneNumber, ...], AfterValidator(_some_numbers)]
    region: AwsRegion
    access_key_id: AwsAccessKeyId
    # Another SNS endpoint (a VPC interface endpoint, a proxy); unset uses the region's own.
    api_url: SnsUrl | None = None


class ReceiversSettings(Strict):
    slack: SlackSettings | None = None
    pagerduty: PagerDutySettings | None = None
    email: EmailSettings | None = None
    webhook: WebhookSettings | None = None
    sms: SmsSettings | None = None


class RouteTiming(Strict):
    group_wait: Wait
    group_interval: Duration
    repeat_interval: Duration


class RoutesSettings(Strict):
    critical: RouteTiming = RouteTiming(group_wait="5s", group_interval="5m", repeat_interval="4h")
    warning: RouteTiming = RouteTiming(group_wait="30s", group_interval="5m", repeat_interval="24h")
    info: RouteTiming = RouteTiming(group_wait="5m", group_interval="30m", repeat_interval="24h")
    security: RouteTiming = RouteTiming(group_wait="0s", group_interval="1m", repeat_interval="1h")
    # The always-firing Watchdog: how often the heartbeat reaches the webhook.
    heartbeat: RouteTiming = RouteTiming(group_wait="0s", group_interval="1m", repeat_interval="5m")


class ComponentRoute(Strict):
    """Extra notification of one component's alerts (label `component`) to its team."""

    slack_channel: Channel | None = None
    email_to: Email | None = None


class EscalationSettings(Strict):
    # Acknowledging is silencing: a critical alert still firing and unsilenced this long after it
    # started also reaches the escalation receiver.
    enabled: bool = True
    after: Duration = "30m"
    repeat_interval: Duration = "4h"
    slack_channel: Channel | None = None
    email_to: Email | None = None


class RuleOverride(Strict):
    """Changes to one default alert, by name; unset fields keep the default."""

    threshold: float | None = None
    for_: Wait | None = Field(default=None, alias="for")
    severity: Severity | None = None
    labels: dict[LabelName, str] = Field(default_factory=dict)

    model_config = Strict.model_config | {"populate_by_name": True}


class SloSettings(Strict):
    """An SLO over a 30-day window. The SLI is `bad/total` or `good/total`; each query holds
    `$window` where its range goes, and the generator fills in every window it needs."""

    name: Name
    description: str = Field(min_length=1, max_length=300)
    objective: float = Field(gt=0.5, lt=1)
    total: str = Field(min_length=1)
    good: str | None = None
    bad: str | None = None
    # The labels the SLI keeps (its `by` clause); alerts and the budget are per these labels.
    labels: tuple[LabelName, ...] = ("env",)

    @model_validator(mode="after")
    @cross_field
    def _one_sli_form(self) -> Iterator[FieldProblem]:
        if (self.good is None) == (self.bad is None):
            yield FieldProblem("good", self.good, "and bad: set exactly one of them (the SLI is good/total or bad/total)")
        for field in ("total", "good", "bad"):
            query = getattr(self, field)
            if query is not None and WINDOW_PLACEHOLDER not in query:
                yield FieldProblem(field, query, f"has no {WINDOW_PLACEHOLDER} where its range goes, e.g. rate(x[$window])")
            elif query is not None and (problem := _promql_problem(query.replace(WINDOW_PLACEHOLDER, "5m"))):
                yield FieldProblem(field, query, f"is not valid PromQL: {problem}")


# The two default SLOs: the stack's own services up, and vLLM time to first token under 1 s.
# `le` is matched as 1 or 1.0: Prometheus 3 normalises classic-histogram `le` values.
DEFAULT_SLOS: tuple[SloSettings, ...] = (
    SloSettings(
        name="stack-availability",
        description="The monitoring stack's own services answer their scrapes.",
        objective=0.999,
        good='sum by (env) (sum_over_time(up{service!=""}[$window]))',
        total='sum by (env) (count_over_time(up{service!=""}[$window]))',
    ),
    SloSettings(
        name="llm-ttft",
        description="vLLM requests get their first token within 1 second.",
        objective=0.99,
        good='sum by (env, source) (rate(vllm:time_to_first_token_seconds_bucket{exporter="vllm",le=~"1|1.0"}[$window]))',
        total='sum by (env, source) (rate(vllm:time_to_first_token_seconds_count{exporter="vllm"}[$window]))',
        labels=("env", "source"),
    ),
)


class AlertingSettings(Strict):
    # Root route grouping (alerts that match no severity route).
    group_wait: Wait = "30s"
    group_interval: Duration = "5m"
    repeat_interval: Duration = "4h"
    receivers: ReceiversSettings = ReceiversSettings()
    routes: RoutesSettings = RoutesSettings()
    component_routes: dict[Name, ComponentRoute] = Field(default_factory=dict)
    escalation: EscalationSettings = EscalationSettings()
    # Where runbooks are served: `<base>/docs/runbooks/<domain>.md#<alert>`; unset gives the
    # repository-relative path.
    runbook_base_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+[^/\s]$")
    # Per-alert changes and alerts switched off, by alert name.
    rule_overrides: dict[str, RuleOverride] = Field(default_factory=dict)
    disabled_rules: tuple[str, ...] = ()
    # Multiplies every alert's `for` (end-to-end tests use a small factor); 1 keeps the defaults.
    for_scale: float = Field(default=1.0, gt=0, le=10)
    # Evaluation interval of the slow SLO windows (1d, 3d, 30d), which read long ranges.
    slo_long_interval: Duration = "5m"
    slos: tuple[SloSettings, ...] = DEFAULT_SLOS

    @model_validator(mode="after")
    @cross_field
    def _consistent(self) -> Iterator[FieldProblem]:
        # One validator for the three checks: pydantic stops at the first validator that raises,
        # and each problem of the section gets its line.
        yield from self._rule_names_exist()
        yield from self._channels_have_receivers()
        yield from self._escalation_after_first_page()

    def _rule_names_exist(self) -> Iterator[FieldProblem]:
        names = [slo.name for slo in self.slos]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            yield FieldProblem("slos", duplicates, "repeats an SLO name; names must be unique")
        if not self.rule_overrides and not self.disabled_rules:
            return
        # Imported here: the rule catalog is built from these settings' types.
        from rules.names import known_alert_names

        known = known_alert_names(tuple(slo.name for slo in self.slos))
        for name in self.rule_overrides:
            if name not in known:
                yield FieldProblem(f"rule_overrides.{name}", self.rule_overrides[name].model_dump(by_alias=True, exclude_defaults=True), _unknown(name, known))
        for index, name in enumerate(self.disabled_rules):
            if name not in known:
                yield FieldProblem(f"disabled_rules.{index}", name, _unknown(name, known))

    def _channels_have_receivers(self) -> Iterator[FieldProblem]:
        routes: dict[str, ComponentRoute | EscalationSettings] = {
            f"component_routes.{name}": route for name, route in self.component_routes.items()
        }
        routes["escalation"] = self.escalation
        for key, route in routes.items():
            if route.slack_channel and self.receivers.slack is None:
                yield FieldProblem(f"{key}.slack_channel", route.slack_channel, "needs receivers.slack to be configured")
            if route.email_to and self.receivers.email is None:
                yield FieldProblem(f"{key}.email_to", route.email_to, "needs receivers.email to be configured")

    def _escalation_after_first_page(self) -> Iterator[FieldProblem]:
        if self.escalation.enabled and duration_seconds(self.escalation.after) <= _seconds(self.routes.critical.group_wait):
            yield FieldProblem(
                "escalation.after", self.escalation.after, f"is not longer than routes.critical.group_wait {self.routes.critical.group_wait}"
            )


def _seconds(wait: str) -> float:
    return 0.0 if wait == "0s" else duration_seconds(wait)


def _unknown(name: str, known: frozenset[str]) -> str:
    if not _RULE_NAME.match(name):
        return "is not an alert name (PascalCase like NodeHighCpuUtilisation)"
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see docs/runbooks/ for every alert"
    return f"names no alert of this stack{hint}"
