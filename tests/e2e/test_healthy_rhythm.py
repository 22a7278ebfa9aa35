"""Healthy data raises nothing but the Watchdog at any hour of the day, not only at the hour CI
happens to run. The mocks' clocks are shifted to the quietest moment of their simulated day (few
requests: small samples make noisy ratios and quantiles) and to the busiest (utilisations closest
to their thresholds); real Prometheus evaluates the rendered rules on what they serve."""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from mock_exporter.base import HostOptions
from mock_exporter.registry import SIMULATORS
from mock_exporter.signals import seconds_until
from tests.e2e.procs import (
    MOCKED, LocalStack, Processes, WebhookReceiver, fast_settings, judged_in_seconds, start_local_stack,
    wait_until,
)

pytestmark = pytest.mark.e2e

SEED = 1  # start_mock's seed: host 0 of every mock
WINDOW_SCALE = 1 / 15  # 5m windows become 20 s, matching the scaled `for`s
SETTINGS = fast_settings()


def simulator(exporter: str, now: float):
    return SIMULATORS[exporter](HostOptions(seed=SEED, started_at=now, hostname="mock-host-1"))


def clock_offsets(extreme: str, now: float) -> dict[str, float]:
    return {exporter: seconds_until(simulator(exporter, now).rhythm, now, extreme) for exporter in MOCKED}


@pytest.fixture(scope="module", params=("trough", "peak"))
def phased(request, tmp_path_factory) -> Iterator[tuple[LocalStack, WebhookReceiver, dict[str, float]]]:
    offsets = clock_offsets(request.param, time.time())
    workdir = tmp_path_factory.mktemp(f"e2e-{request.param}")
    with Processes() as processes, WebhookReceiver() as receiver:
        stack = start_local_stack(
            processes, SETTINGS, workdir, webhook_url=f"{receiver.url}/webhook",
            secrets={"slack_api_url": f"{receiver.url}/slack"}, window_scale=WINDOW_SCALE, clock_offsets=offsets,
        )
        wait_until(stack.prometheus.targets_up, 30, "every target up")
        yield stack, receiver, offsets


def test_the_mocks_serve_the_shifted_hour(phased):
    stack, _, offsets = phased
    vllm = simulator("vllm", time.time())
    expected = vllm._gauges(time.time() + offsets["vllm"])["vllm:num_requests_running"]
    result = wait_until(lambda: stack.prometheus.query('vllm:num_requests_running{exporter="vllm"}'), 15, "vLLM gauge")
    served = float(result[0]["value"][1])
    # Rounded from a level that moves slowly: the scrape a second earlier may read one request apart.
    assert abs(served - expected) <= 1, (served, expected)


def test_healthy_data_fires_nothing_but_the_watchdog(phased):
    stack, receiver, _ = phased
    # Long enough for every (scaled) rate window to fill and every scaled `for` of a false positive.
    time.sleep(25)
    active = judged_in_seconds(stack.prometheus.alerts())
    assert active == {("Watchdog", "firing")}, f"false positives: {sorted(active)}"
    notified = {a["labels"]["alertname"] for d in receiver.received("/webhook") for a in d.body["alerts"]
                if "slo" not in a["labels"]}
    assert notified <= {"Watchdog"}, f"notified: {sorted(notified)}"
    chat = [d.body for d in receiver.received("/slack") if "ErrorBudgetBurn" not in str(d.body)]
    assert not chat, f"a healthy stack wrote to the people's chat: {chat}"
