"""Alert routing settings (receivers and routes are added by the alerting module)."""

from __future__ import annotations

from settings.types import Duration, Strict


class AlertingSettings(Strict):
    # Alertmanager grouping defaults for the root route.
    group_wait: Duration = "30s"
    group_interval: Duration = "5m"
    repeat_interval: Duration = "4h"
