"""Recording and alert rules as data, rendered to Prometheus rule files."""

from __future__ import annotations

from typing import Any

from render.prometheus import SELF_SCRAPED
from settings.model import StackSettings


def render_rule_files(settings: StackSettings) -> dict[str, dict[str, Any]]:
    """File name -> rule file document, for `/etc/prometheus/rules/`."""
    jobs = "|".join(SELF_SCRAPED)
    return {
        "stack.yml": {
            "groups": [
                {
                    "name": "stack",
                    "rules": [
                        {
                            "alert": "Watchdog",
                            "expr": "vector(1)",
                            "labels": {"severity": "info"},
                            "annotations": {
                                "summary": "Alerting pipeline heartbeat: always firing.",
                                "description": "If this alert stops arriving, Prometheus or Alertmanager is broken.",
                            },
                        },
                        {
                            "alert": "StackServiceDown",
                            "expr": f'up{{job=~"{jobs}"}} == 0',
                            "for": "2m",
                            "labels": {"severity": "critical"},
                            "annotations": {
                                "summary": "{{ $labels.job }} at {{ $labels.instance }} is down.",
                                "description": "Prometheus has failed to scrape {{ $labels.job }} for 2 minutes.",
                            },
                        },
                    ],
                }
            ]
        }
    }
