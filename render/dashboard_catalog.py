"""The dashboards the stack provisions, by fixed uid, with their titles.

Kept apart from `dashboards/` (which loads grafana-foundation-sdk): alert rules link to these uids
and are built while settings are validated, before any dashboard is."""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

DASHBOARD_TITLES: Mapping[str, str] = MappingProxyType({
    "stack-overview": "Stack overview",
    "node": "Nodes (USE)",
    "containers": "Containers",
    "gpu": "GPUs",
    "llm-serving": "LLM serving",
    "logs": "Logs",
    "alerts-slos": "Alerts and SLOs",
    "data-validation": "Data validation",
    "meta-monitoring": "Meta-monitoring",
    "capacity": "Capacity planning",
    "services": "Services (traces)",
    "profiling": "Profiling",
})
