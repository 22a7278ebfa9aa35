"""Thousands of generated settings through the program's own parse path (`settings.parse_settings`):
each bad one fails with exactly one line per problem naming its key, never a traceback.

Runs are derandomized (a fixed seed derived from each test's name), so every run checks the same
examples and a failure replays as is; `print_blob` prints the `@reproduce_failure` line too.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from settings import parse_settings
from tests.properties.generators import BASES, apply, is_byte_size, is_duration, mutations
from tests.properties.support import LINE, error_lines, names, replayable


@pytest.mark.parametrize("stack", sorted(BASES))
def test_the_stacks_as_shipped_parse(stack):
    assert error_lines(BASES[stack], stack) == []


@replayable(1500)
@given(stack=st.sampled_from(sorted(BASES)), problems=mutations)
def test_every_problem_gets_one_line_naming_its_key(stack, problems):
    lines = error_lines(apply(BASES[stack], problems), stack)
    assert lines, f"accepted: {problems}"
    for line in lines:
        assert LINE.match(line) and "Traceback" not in line, line
    for problem in problems:
        naming = [line for line in lines if names(problem, line)]
        assert len(naming) == 1, f"{problem}: {lines}"
    assert len(lines) == len(problems), f"{problems}: {lines}"
    if any(problem.kind == "unknown key" for problem in problems):
        assert any("unknown setting; known keys here:" in line for line in lines)


def test_the_oracles_know_good_from_bad():
    assert all(is_duration(text) for text in ("30d", "1h30m", "5m", "100ms", "1y2w", "30s"))
    assert not any(is_duration(text) for text in ("30 days", "0s", "1m1h", "5", "1d1d", "", "1.5h"))
    assert all(is_byte_size(text) for text in ("512MB", "50GB", "1TB", "10B"))
    assert not any(is_byte_size(text) for text in ("0GB", "50 GB", "50G", "50GiB", "1.5GB"))


def test_a_partly_set_section_means_its_documented_defaults():
    # Regression: `exporters.pushgateway: {targets: [...]}` turned the Pushgateway off, because its
    # default was an instance (mode real) that a partial mapping replaced whole (mode off).
    settings_ = parse_settings({"exporters": {"pushgateway": {"targets": ["gateway-2:9091"]}}}, "staging")
    assert settings_.exporters.pushgateway.mode == "real"
    for section, leaf_default in section_defaults(parse_settings({}, "staging")):
        assert leaf_default == type(leaf_default)(), f"{section}: a partial mapping would not mean its default"


def section_defaults(instance, prefix=""):
    """(key, default) of every section whose class can be built from its own defaults."""
    for name in type(instance).model_fields:
        value = getattr(instance, name)
        if isinstance(value, BaseModel):
            if all(not field.is_required() for field in type(value).model_fields.values()):
                yield prefix + name, value
            yield from section_defaults(value, f"{prefix}{name}.")


@pytest.mark.parametrize(
    "raw, line",
    [
        # Regression: a service listed twice was reported as its own port clash.
        ({"exposure": {"publish": ["grafana", "grafana"]}}, 'monitoring:exposure.publish: ["grafana", "grafana"] lists a service twice'),
        # Regression: JSON config decodes NaN and Infinity, which reached the rules as text.
        ({"alerting": {"rule_overrides": {"NodeHighCpuUtilisation": {"threshold": float("nan")}}}},
         "monitoring:alerting.rule_overrides.NodeHighCpuUtilisation.threshold: NaN is not a finite number"),
        ({"logs": {"alerts": {"min_error_lines_per_s": float("inf")}}},
         "monitoring:logs.alerts.min_error_lines_per_s: Infinity is not a finite number"),
        # Regression: pydantic's own wording leaked through ("input should be a valid tuple").
        ({"sla": {"services": "abc"}}, 'monitoring:sla.services: "abc" is not a list'),
        # Regression: pydantic reads true as 1, so `port: true` became port 1.
        ({"prometheus": {"port": True}}, "monitoring:prometheus.port: true is a boolean, not a number"),
        # Regression: a bad mapping key was named `...external_labels.1bad.[key]`.
        ({"prometheus": {"external_labels": {"1bad": "x"}}},
         'monitoring:prometheus.external_labels.1bad: "1bad" is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)'),
    ],
)
def test_found_by_generation(raw, line):
    assert error_lines(raw, "staging") == [line]
