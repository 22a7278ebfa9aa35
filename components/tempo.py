"""Tempo: its service description deployed on the stack's platform."""

from __future__ import annotations

from components.service import ServiceComponent


class Tempo(ServiceComponent):
    TYPE = "monitoring:tempo:Tempo"
