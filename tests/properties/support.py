"""What the property tests share: replayable hypothesis settings and the settings error lines."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, settings

from settings import SettingsError, parse_settings
from tests.properties.generators import Mutation


def replayable(examples: int) -> settings:
    return settings(
        max_examples=examples, derandomize=True, deadline=None, print_blob=True, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


LINE = re.compile(r"^monitoring:[^\s:]+: \S.*$")


def error_lines(raw, stack) -> list[str]:
    try:
        parse_settings(raw, stack)
    except SettingsError as exc:
        return exc.lines
    return []


def key_of(line: str) -> str:
    return line.split(": ", 1)[0]


def names(mutation: Mutation, line: str) -> bool:
    key = key_of(line)
    return key == mutation.key or key.startswith((mutation.key + ".", mutation.key + "["))
