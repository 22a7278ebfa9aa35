"""Alertmanager: its service description deployed on the stack's platform."""

from __future__ import annotations

from components.service import ServiceComponent


class Alertmanager(ServiceComponent):
    TYPE = "monitoring:alertmanager:Alertmanager"
