"""Process fixtures for the end-to-end tests: every process a test starts is stopped after it."""

from __future__ import annotations

import pytest

from tests.e2e.procs import Processes, WebhookReceiver


@pytest.fixture(scope="module")
def processes():
    started = Processes()
    yield started
    started.stop_all()


@pytest.fixture(scope="module")
def receiver():
    with WebhookReceiver() as running:
        yield running
