"""Grafana Alloy, the log collector that replaces Promtail: its service description deployed on the stack's platform."""

from __future__ import annotations

from components.service import ServiceComponent


class Alloy(ServiceComponent):
    TYPE = "monitoring:alloy:Alloy"
