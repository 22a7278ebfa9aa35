"""Entry point of the Pulumi program: load settings, declare the stack, export its URLs."""

import sys
from pathlib import Path

# The CLI runs this file from stack/; the project's packages live one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi  # noqa: E402

from components.stack import MonitoringStack, MonitoringStackArgs  # noqa: E402
from settings import load_settings  # noqa: E402

loaded = load_settings()
stack = MonitoringStack("monitoring", MonitoringStackArgs(settings=loaded.settings, secrets=loaded.secrets))

pulumi.export("environment", loaded.settings.environment)
pulumi.export("grafana_url", stack.grafana_url)
pulumi.export("prometheus_url", stack.prometheus_url)
pulumi.export("loki_url", stack.loki_url)
pulumi.export("alertmanager_url", stack.alertmanager_url)
if stack.status_page is not None:
    pulumi.export("status_page_url", stack.status_page.url)
if "monitoring-api" in stack.services:
    # Published (staging), or the cluster-internal Service address.
    api = stack.services["monitoring-api"]
    pulumi.export("monitoring_api_url", api.external_url if api.spec.ports[0].published else api.internal_url)
