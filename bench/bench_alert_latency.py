"""Trigger-to-delivery latency of a critical alert through real Prometheus and Alertmanager.

    .venv/bin/python bench/bench_alert_latency.py [--stack staging] [--trials 2]

Runs the node mock, Debian's Prometheus and Alertmanager on 127.0.0.1 with the stack's rendered
configuration: its scrape and evaluation intervals and its critical route (group_wait 5 s in both
stacks). The measured alert is NodeTargetDown, made critical with `for: 0s` through
`rule_overrides` so the figure is the pipeline's, not the rule's hold time. Each trial takes the
node mock down and records:

- detection:  fault -> alert active in Prometheus (bounded by scrape + evaluation interval);
- delivery:   alert active (its `activeAt`, the trigger) -> webhook notification received;
- total:      fault -> notification.

Seed 002's target is delivery < 30 s; the script exits 1 when a trial misses it. Loopback only;
every process is stopped on exit; each trial is bounded by --timeout.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from settings import parse_settings  # noqa: E402
from settings.types import duration_seconds  # noqa: E402
from tests.conftest import stack_raw_config  # noqa: E402
from tests.e2e.procs import (  # noqa: E402
    Processes,
    WebhookReceiver,
    notification,
    start_local_stack,
    wait_until,
)

TARGET_SECONDS = 30.0
ALERT = "NodeTargetDown"


def bench_settings(stack: str):
    raw = stack_raw_config(stack)
    raw["exporters"] = {
        "node": {"mode": "mock"},
        **{name: {"mode": "off"} for name in ("cadvisor", "dcgm", "vllm", "postgres", "redis", "blackbox", "pushgateway")},
    }
    alerting = dict(raw.get("alerting", {}))
    alerting["receivers"] = {"webhook": {}}
    alerting["rule_overrides"] = {**alerting.get("rule_overrides", {}), ALERT: {"severity": "critical", "for": "0s"}}
    raw["alerting"] = alerting
    return parse_settings(raw, stack)


def active_at(prometheus, alertname: str) -> float | None:
    for alert in prometheus.alerts():
        if alert["labels"]["alertname"] == alertname and alert["state"] == "firing":
            return datetime.fromisoformat(alert["activeAt"].replace("Z", "+00:00")[:26] + "+00:00").timestamp()
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="staging", choices=("staging", "prod"))
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=150, help="seconds per trial")
    args = parser.parse_args()

    settings = bench_settings(args.stack)
    scrape, evaluation = settings.prometheus.scrape_interval, settings.prometheus.evaluation_interval
    print(f"stack {args.stack}: scrape every {scrape}, evaluate every {evaluation}, "
          f"critical group_wait {settings.alerting.routes.critical.group_wait}; alert {ALERT} (critical, for 0s)")
    rows = []
    for trial in range(1, args.trials + 1):
        # A fresh stack per trial: after a notification, Alertmanager sends the group's next change
        # only at its group_interval (5 m), which would measure the interval, not the pipeline.
        with tempfile.TemporaryDirectory() as tmp, Processes() as processes, WebhookReceiver() as receiver:
            stack = start_local_stack(processes, settings, Path(tmp), webhook_url=f"{receiver.url}/webhook")
            wait_until(stack.prometheus.targets_up, duration_seconds(scrape) * 3 + 10, "every target up")
            fault_at = time.time()
            stack.mocks["node"].set_fault("down")
            delivered = receiver.wait_for(notification(ALERT, "firing", "critical"), args.timeout, f"trial {trial}: {ALERT} delivered")
            active = wait_until(lambda: active_at(stack.prometheus, ALERT), 10, "activeAt")
            rows.append((active - fault_at, delivered.received_wall - active, delivered.received_wall - fault_at))
            print(f"trial {trial}: detection {rows[-1][0]:6.1f} s   delivery {rows[-1][1]:5.1f} s   total {rows[-1][2]:6.1f} s")
    delivery = [row[1] for row in rows]
    print(f"delivery (trigger -> notification): median {statistics.median(delivery):.1f} s, worst {max(delivery):.1f} s "
          f"(target < {TARGET_SECONDS:.0f} s)")
    print(f"total (fault -> notification):     median {statistics.median(r[2] for r in rows):.1f} s, "
          f"worst {max(r[2] for r in rows):.1f} s (includes detection, up to one scrape + one evaluation interval)")
    return 0 if max(delivery) < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
