"""Pyroscope: its service description deployed on the stack's platform."""

from __future__ import annotations

from components.service import ServiceComponent


class Pyroscope(ServiceComponent):
    TYPE = "monitoring:pyroscope:Pyroscope"
