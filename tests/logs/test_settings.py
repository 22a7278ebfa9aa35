"""The logs settings section: defaults, and one clear line per bad value."""

from __future__ import annotations

import pytest

from settings import SettingsError, parse_settings
from settings.logs import LogsSettings
from tests.conftest import stack_raw_config
from tests.logs.conftest import settings_for


def problems(**logs: object) -> list[str]:
    with pytest.raises(SettingsError) as error:
        settings_for("staging", **logs)
    return error.value.lines


def test_defaults():
    logs = settings_for("staging").logs
    assert logs.journal and logs.containers and not logs.drop_debug
    assert logs.journal_path == "/var/log/journal"
    assert [(o.selector, o.period) for o in logs.retention_overrides] == [('{level="debug"}', "7d")]
    assert logs.s3 is None


def test_alloy_is_the_default_collector_of_the_model_and_of_both_stacks(stack):
    """Promtail is end of life: a stack gets Alloy unless it asks for Promtail."""
    assert LogsSettings().collector == "alloy"
    assert settings_for(stack).logs.collector == "alloy"
    assert stack_raw_config(stack)["logs"]["collector"] == "alloy"  # said in the stack file, not only implied
    assert settings_for(stack, collector="promtail").logs.collector == "promtail"


def test_collector_choice():
    assert problems(collector="fluentbit") == [
        "monitoring:logs.collector: \"fluentbit\" is not allowed; allowed: 'alloy' or 'promtail'"
    ]


def test_journal_path_is_one_of_journald_directories():
    assert settings_for("staging", journal_path="/run/log/journal").logs.journal_path == "/run/log/journal"
    assert problems(journal_path="/var/log/journald") == [
        "monitoring:logs.journal_path: \"/var/log/journald\" is not allowed; allowed: '/var/log/journal' or '/run/log/journal'"
    ]


def test_file_sources():
    assert problems(files=[{"path": "var/log/*.log"}]) == [
        'monitoring:logs.files[0].path: "var/log/*.log" is not an absolute path or glob without spaces or \'**\' like /var/log/app/*.log'
    ]
    assert problems(files=[{"path": "/var/log/*.log", "labels": {"request_id": "x"}}]) == [
        'monitoring:logs.files[0].labels.request_id: "x" is not an allowed log label; allowed: service, container'
    ]
    assert problems(files=[{"path": "/a/*.log"}, {"path": "/a/*.log"}]) == ['monitoring:logs.files[1].path: "/a/*.log" is listed twice']


def test_retention_override_and_rate_limit():
    assert problems(retention_overrides=[{"selector": "level=debug", "period": "7d"}]) == [
        'monitoring:logs.retention_overrides[0].selector: "level=debug" is not a LogQL stream selector like {level="debug"}'
    ]
    assert problems(retention_overrides=[{"selector": '{level="debug"}', "period": "36h"}]) == [
        'monitoring:logs.retention_overrides[0].period: "36h" is not a whole number of days (Loki deletes by 24h periods)'
    ]
    assert problems(stream_rate_limit={"rate": 100, "burst": 10}) == [
        "monitoring:logs.stream_rate_limit.burst: 10 is below rate 100; a burst must allow at least one second of lines"
    ]


def test_s3_requires_its_fields():
    lines = problems(s3={"endpoint": "minio:9000"})
    assert "monitoring:logs.s3.bucket: is required" in lines
    assert "monitoring:logs.s3.access_key_id: is required" in lines


def test_loki_bursts_cover_their_rates():
    with pytest.raises(SettingsError) as error:
        parse_settings({"loki": {"limits": {"ingestion_rate_mb": 20, "ingestion_burst_mb": 10}}}, "staging")
    assert error.value.lines == ["monitoring:loki.limits.ingestion_burst_mb: 10.0 is below ingestion_rate_mb 20"]
