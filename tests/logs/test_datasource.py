"""The Loki datasource links trace ids in log lines to traces."""

from __future__ import annotations

import pytest
import re2

from components.grafana_datasources import loki_json_data
from settings import SettingsError, parse_settings
from tests.logs.conftest import settings_for

LINES = {
    '{"level":"info","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}': "4bf92f3577b34da6a3ce929d0e0e4736",
    "level=warn trace_id=0af7651916cd43dd8448eb211c80319c msg=x": "0af7651916cd43dd8448eb211c80319c",
    '{"traceId":"a3ce929d0e0e47364bf92f3577b34da6"}': "a3ce929d0e0e47364bf92f3577b34da6",
}


def test_no_trace_link_without_a_tracing_target():
    # Tempo runs by default and becomes the link's target (tests/traces/test_correlation.py): without it, none.
    assert "derivedFields" not in loki_json_data(parse_settings({"traces": {"enabled": False}}, "staging"))


def test_trace_link_to_a_tracing_datasource():
    data = loki_json_data(settings_for("staging", trace_link={"datasource_uid": "tempo"}))
    (field,) = data["derivedFields"]
    assert field["datasourceUid"] == "tempo" and field["url"] == "${__value.raw}"
    matcher = re2.compile(field["matcherRegex"])
    for line, trace_id in LINES.items():
        assert matcher.search(line).group(1) == trace_id


def test_trace_link_to_an_external_viewer():
    template = "https://jaeger.example.org/trace/${__value.raw}"
    (field,) = loki_json_data(settings_for("prod", trace_link={"url_template": template}))["derivedFields"]
    assert field["url"] == template and "datasourceUid" not in field


def test_one_trace_target_only():
    with pytest.raises(SettingsError) as error:
        settings_for("staging", trace_link={"datasource_uid": "tempo", "url_template": "https://x.example.org/${__value.raw}"})
    assert error.value.lines == [
        'monitoring:logs.trace_link.url_template: "https://x.example.org/${__value.raw}" is set together with datasource_uid; set one of them'
    ]
