"""Exporters: a real exporter the stack runs, or the mock that stands in for it during the rollout."""

from __future__ import annotations

from components.service import ServiceComponent


class Exporter(ServiceComponent):
    TYPE = "monitoring:exporters:Exporter"


class MockExporter(ServiceComponent):
    TYPE = "monitoring:exporters:MockExporter"
