"""The settings model: defaults, the two stacks' files, and one exact line per bad setting."""

from __future__ import annotations

import pydantic
import pytest

from settings import SettingsError, StackSettings, parse_settings
from settings.model import PrometheusSettings
from settings.types import duration_seconds
from tests.conftest import STACKS, stack_settings

BAD_SETTINGS = [
    (
        {"prometheus": {"retention": "30 days"}},
        'monitoring:prometheus.retention: "30 days" is not a duration like 30d, 12h, 30s or 1h30m',
    ),
    (
        {"grafna": {"port": 3000}},
        "monitoring:grafna: unknown setting; known keys here: " + ", ".join(sorted(StackSettings.model_fields)),
    ),
    (
        {"prometheus": {"retension": "30d"}},
        "monitoring:prometheus.retension: unknown setting; known keys here: "
        + ", ".join(sorted(PrometheusSettings.model_fields)),
    ),
    ({"platform": "k8s"}, "monitoring:platform: \"k8s\" is not allowed; allowed: 'docker' or 'kubernetes'"),
    ({"prometheus": {"port": "abc"}}, 'monitoring:prometheus.port: "abc" is not a whole number'),
    ({"prometheus": {"port": 70000}}, "monitoring:prometheus.port: 70000 is out of range; must be <= 65535"),
    (
        {"loki": {"port": 23001}},
        "monitoring:loki.port: 23001 is already the host port of prometheus; host ports must differ",
    ),
    (
        {"prometheus": {"image": "prom/prometheus:latest"}},
        "monitoring:prometheus.image: \"prom/prometheus:latest\" uses the moving tag 'latest': "
        "pin a released version (repo/name:1.2.3)",
    ),
    (
        {"grafana": {"image": "grafana/grafana"}},
        'monitoring:grafana.image: "grafana/grafana" is not pinned: give a version tag (repo/name:1.2.3) '
        "or a digest (@sha256:...)",
    ),
    (
        {"loki": {"retention": "36h"}},
        'monitoring:loki.retention: "36h" is not a whole number of days (Loki deletes by 24h periods)',
    ),
    (
        {"prometheus": {"scrape_timeout": "1m"}},
        'monitoring:prometheus.scrape_timeout: "1m" is longer than scrape_interval 30s',
    ),
    (
        {"prometheus": {"retention_size": "50 gigs"}},
        'monitoring:prometheus.retention_size: "50 gigs" is not a size like 512MB, 50GB or 1TB',
    ),
    (
        {"grafana": {"resources": {"cpus": 0, "memory_mb": 512}}},
        "monitoring:grafana.resources.cpus: 0 is out of range; must be > 0.0",
    ),
    (
        {"grafana": {"resources": {"cpus": 1}}},
        "monitoring:grafana.resources.memory_mb: is required",
    ),
    (
        {"exposure": {"bind_address": "localhost"}},
        'monitoring:exposure.bind_address: "localhost" input is not a valid IPv4 address',
    ),
    (
        {"exposure": {"publish": ["loki"]}},
        'monitoring:exposure.publish: ["loki"] leaves Grafana unpublished and grafana.url is unset: '
        "Pulumi could not reach Grafana to provision it",
    ),
    ({"environment": "Prod_1"}, 'monitoring:environment: "Prod_1" is not a name of lowercase letters, digits and '
     "'-' starting with a letter (max 31)"),
    ({"protect_state": "maybe"}, 'monitoring:protect_state: "maybe" is not true or false'),
    (
        {"exporters": {"dcgm": {"mode": "real"}}},
        'monitoring:exporters.dcgm.mode: "real" is ahead of node.mode \'mock\': the rollout goes '
        "node -> cadvisor -> dcgm -> vllm; move node first or set exporters.allow_out_of_order: true",
    ),
    (
        {"exporters": {"postgres": {"mode": "mock"}}},
        "monitoring:exporters.postgres.mode: \"mock\" is not allowed; allowed: 'real' or 'off'",
    ),
    (
        {"exporters": {"node": {"targets": ["db-1:9100", "not a target"]}}},
        'monitoring:exporters.node.targets[1]: "not a target" is not a host:port target',
    ),
    ({"docker": {"log_max_files": 0}}, "monitoring:docker.log_max_files: 0 is out of range; must be >= 1"),
    (
        {"exposure": {"publish": ["grafana", "api"]}},
        'monitoring:exposure.publish: ["grafana", "api"] lists api while api.enabled is false: there is no API to publish',
    ),
    ({"prometheus": "30d"}, 'monitoring:prometheus: "30d" is not a mapping of settings'),
    # Traces and profiles (settings/traces.py).
    ({"logs": {"collector": "promtail"}, "traces": {"enabled": True}}, 'monitoring:traces.enabled: true needs logs.collector alloy (Promtail collects logs only): set logs.collector: alloy or traces.enabled: false'),
    ({"traces": {"sampling": {"tail": {"latency_threshold": "30s"}}}}, 'monitoring:traces.sampling.tail.latency_threshold: "30s" is not below sampling.tail.decision_wait 10s: a slow trace would be decided before it ends'),
    ({"traces": {"sampling": {"head_ratio": 0}}}, 'monitoring:traces.sampling.head_ratio: 0 is out of range; must be > 0.0'),
    ({"profiles": {"targets": [{"address": "api", "service_name": "api"}]}}, 'monitoring:profiles.targets[0].address: "api" is not a host:port target'),
]


@pytest.mark.parametrize("raw, expected", BAD_SETTINGS, ids=[line.split(":")[1] for _, line in BAD_SETTINGS])
def test_bad_setting_gives_one_exact_line(raw, expected):
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, "staging")
    assert caught.value.lines == [expected]


def test_unknown_top_level_key_lists_the_real_sections():
    assert {"prometheus", "grafana", "loki", "alertmanager", "exporters", "exposure"} <= set(StackSettings.model_fields)


def test_every_problem_is_reported_at_once():
    with pytest.raises(SettingsError) as caught:
        parse_settings({"prometheus": {"retention": "x", "port": "y"}, "typo": 1}, "staging")
    keys = sorted(line.split(":")[1] for line in caught.value.lines)
    assert keys == ["prometheus.port", "prometheus.retention", "typo"]


def test_defaults_follow_seed_001():
    settings = parse_settings({}, "staging")
    assert (settings.grafana.port, settings.prometheus.port, settings.loki.port) == (23000, 23001, 23002)
    assert settings.prometheus.scrape_interval == settings.prometheus.evaluation_interval == "30s"
    assert duration_seconds(settings.prometheus.retention) == duration_seconds(settings.loki.retention) == 30 * 86400
    assert str(settings.exposure.bind_address) == "127.0.0.1"
    assert settings.environment == "staging" and settings.prefix == "monitoring-staging"


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_are_valid(stack):
    settings = stack_settings(stack)
    assert settings.environment == stack


def test_prod_sets_its_own_values():
    staging, prod = stack_settings("staging"), stack_settings("prod")
    assert prod.protect_state and not staging.protect_state
    assert prod.grafana.port != staging.grafana.port
    assert prod.prometheus.retention_size is not None
    assert prod.prometheus.resources.memory_mb > staging.prometheus.resources.memory_mb


def test_settings_are_immutable():
    """Mutation caught: a model no longer frozen (only pydantic's frozen-instance error passes)."""
    settings = parse_settings({}, "staging")
    with pytest.raises(pydantic.ValidationError, match="frozen_instance"):
        settings.prometheus.port = 1  # type: ignore[misc]


@pytest.mark.parametrize("value", ["30d", "12h", "1h30m", "500ms", "2w"])
def test_valid_durations(value):
    assert parse_settings({"prometheus": {"retention": value}}, "s").prometheus.retention == value


# A section with several independent cross-field problems (model validators): every one gets its line,
# with the same wording as when it is alone.
SEVERAL_CROSS_FIELD_PROBLEMS = [
    (
        # (Not min_history, whose comparison with a refused trend_window would be no second problem.)
        {"capacity": {"trend_window": "36h", "urgent_within": "30d", "evaluation_interval": "2h"}},
        ['monitoring:capacity.trend_window: "36h" is not a whole number of days of at least 2d (the trend is '
         "fitted to daily peaks)",
         'monitoring:capacity.urgent_within: "30d" is not shorter than horizon 30d',
         'monitoring:capacity.evaluation_interval: "2h" is above 1h: the daily peaks would miss their hour'],
    ),
    (
        {"loki": {"limits": {"ingestion_rate_mb": 10, "ingestion_burst_mb": 5,
                             "per_stream_rate_limit_mb": 4, "per_stream_rate_limit_burst_mb": 2}}},
        ["monitoring:loki.limits.ingestion_burst_mb: 5.0 is below ingestion_rate_mb 10",
         "monitoring:loki.limits.per_stream_rate_limit_burst_mb: 2.0 is below per_stream_rate_limit_mb 4"],
    ),
    (
        # The top-level section: the published API, a host port clash and a real vLLM without targets.
        {"exposure": {"publish": ["grafana", "prometheus", "api"]}, "prometheus": {"port": 23000},
         "exporters": {"allow_out_of_order": True, "vllm": {"mode": "real"}}},
        ['monitoring:exposure.publish: ["grafana", "prometheus", "api"] lists api while api.enabled is false: '
         "there is no API to publish",
         "monitoring:prometheus.port: 23000 is already the host port of grafana; host ports must differ",
         "monitoring:exporters.vllm.targets: [] lists no vLLM server while vllm.mode is 'real': add host:port "
         "targets or set prometheus.targets_dir"],
    ),
    (
        # One problem from each of what were three separate validators of the section.
        {"alerting": {"disabled_rules": ["NoSuchAlert"], "escalation": {"after": "1s", "slack_channel": "#oncall"}}},
        ['monitoring:alerting.disabled_rules[0]: "NoSuchAlert" names no alert of this stack; see docs/runbooks/ '
         "for every alert",
         'monitoring:alerting.escalation.slack_channel: "#oncall" needs receivers.slack to be configured',
         'monitoring:alerting.escalation.after: "1s" is not longer than routes.critical.group_wait 5s'],
    ),
    (
        {"sla": {"state_window": "6h", "outage_below": 0.9995}},
        ['monitoring:sla.state_window: "6h" is not shorter than burn_window 6h',
         "monitoring:sla.outage_below: 0.9995 is not below services[0].availability.objective 0.999"],
    ),
    (
        {"kubernetes": {"in_cluster": True, "context": "kind", "host_namespace": "monitoring"}},
        ['monitoring:kubernetes.context: "kind" must be unset when in_cluster is true',
         'monitoring:kubernetes.host_namespace: "monitoring" must differ from namespace (it is not restricted)'],
    ),
    (
        {"logs": {"retention_overrides": [{"selector": "level=debug", "period": "36h"}]}},
        ['monitoring:logs.retention_overrides[0].selector: "level=debug" is not a LogQL stream selector like '
         '{level="debug"}',
         'monitoring:logs.retention_overrides[0].period: "36h" is not a whole number of days (Loki deletes by '
         "24h periods)"],
    ),
]


@pytest.mark.parametrize(("raw", "lines"), SEVERAL_CROSS_FIELD_PROBLEMS,
                         ids=[next(iter(raw)) for raw, _ in SEVERAL_CROSS_FIELD_PROBLEMS])
def test_every_cross_field_problem_of_a_section_gets_its_line(raw, lines):
    """Two or three independent cross-field problems in one section: exactly that many lines, each
    naming its key, in the validator's order; no traceback.

    Mutations checked (each fails this test): `cross_field` raising only the first problem found;
    settings/errors.py formatting only the first problem of a FieldProblems; AlertingSettings stopping
    at the first of its three checks that finds a problem (as three separate model validators would:
    pydantic stops at the first that raises); a validator raising its FieldProblem again instead of
    yielding it (StackSettings._consistent, CapacitySettings)."""
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, "staging")
    assert caught.value.lines == lines
    assert "Traceback" not in str(caught.value)
