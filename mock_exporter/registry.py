"""The simulated exporters by name."""

from __future__ import annotations

from mock_exporter.base import Simulator
from mock_exporter.cadvisor import CadvisorSimulator
from mock_exporter.dcgm import DcgmSimulator
from mock_exporter.node import NodeSimulator
from mock_exporter.vllm import VllmSimulator

SIMULATORS: dict[str, type[Simulator]] = {
    cls.exporter: cls for cls in (NodeSimulator, CadvisorSimulator, DcgmSimulator, VllmSimulator)
}
