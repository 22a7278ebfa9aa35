"""Every process an API test starts is stopped after its module."""

from __future__ import annotations

import pytest

from tests.e2e.procs import Processes


@pytest.fixture(scope="module")
def processes():
    with Processes() as started:
        yield started
