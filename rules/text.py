"""Go-template fragments for alert annotations, so rule modules read as plain f-strings."""

from __future__ import annotations


def label(name: str) -> str:
    return "{{ $labels." + name + " }}"


VALUE = "{{ $value }}"
VALUE_PCT = "{{ $value | humanizePercentage }}"
VALUE_DURATION = "{{ $value | humanizeDuration }}"
VALUE_HUMAN = "{{ $value | humanize }}"
INSTANCE = label("instance")
# Where the effective threshold (default or override) goes in a text; formatted per rule.
THRESHOLD = "{threshold}"
