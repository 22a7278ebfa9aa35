"""The simulated exporters by name."""

from __future__ import annotations

from mock_exporter.base import Simulator
from mock_exporter.cadvisor import CadvisorSimulator
from mock_exporter.dcgm import DcgmSimulator
from mock_exporter.node import NodeSimulator
from mock_exporter.spanmetrics import SpanMetricsSimulator
from mock_exporter.vllm import VllmSimulator

# Stand-ins for the exporters of the catalog's mock-to-real rollout.
SIMULATORS: dict[str, type[Simulator]] = {
    cls.exporter: cls for cls in (NodeSimulator, CadvisorSimulator, DcgmSimulator, VllmSimulator)
}
# Every kind the program serves: the rollout's mocks, and `spanmetrics`, the series Tempo's
# metrics-generator derives from the traced flow. It stands in for no scraped exporter (a real
# generator remote-writes them), so it is no rollout step: a kind for demos and tests.
KINDS: dict[str, type[Simulator]] = {**SIMULATORS, SpanMetricsSimulator.exporter: SpanMetricsSimulator}
