"""Process fixtures for the exporter tests: every process binds 127.0.0.1 on a free port and is
stopped by a finalizer, whatever the test outcome."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


@dataclass
class Response:
    status: int
    content_type: str
    text: str


def http(url: str, method: str = "GET", body: bytes | None = None, timeout: float = 5.0) -> Response:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return Response(reply.status, reply.headers.get("Content-Type", ""), reply.read().decode())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.headers.get("Content-Type", ""), error.read().decode())


def wait_until_serving(url: str, process: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before serving {url}")
        try:
            if http(url, timeout=1.0).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class MockProcess:
    process: subprocess.Popen
    addresses: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.addresses[0]}"

    def scrape(self, host: int = 0) -> Response:
        return http(f"http://{self.addresses[host]}/metrics")


def start_mock(*args: str, hosts: int = 1) -> MockProcess:
    """Start `python -m mock_exporter` on ephemeral ports and read the addresses it prints."""
    command = [sys.executable, "-m", "mock_exporter", "--listen", f"{LOOPBACK}:0", "--hosts", str(hosts), *args]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    mock = MockProcess(process)
    try:
        assert process.stdout is not None
        for _ in range(hosts):
            line = process.stdout.readline()
            if not line.startswith("listening "):
                raise RuntimeError(f"mock exporter did not start: {line!r} {process.stderr.read() if process.stderr else ''}")
            mock.addresses.append(line.split("address=", 1)[1].strip())
    except BaseException:
        stop(process)
        raise
    return mock


@pytest.fixture
def mock_factory() -> Iterator[Callable[..., MockProcess]]:
    started: list[MockProcess] = []

    def factory(*args: str, hosts: int = 1) -> MockProcess:
        mock = start_mock(*args, hosts=hosts)
        started.append(mock)
        return mock

    yield factory
    for mock in started:
        stop(mock.process)


def require_binary(path: str) -> str:
    """Real exporters are installed in CI: a missing one is a failure, never a skip."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        found = shutil.which(os.path.basename(path))
        if found is None:
            pytest.fail(f"{path} is not installed: install the Debian package providing it (CI does)")
        return found
    return path


@dataclass
class ServiceProcess:
    process: subprocess.Popen
    url: str


@pytest.fixture(scope="module")
def service_factory() -> Iterator[Callable[..., ServiceProcess]]:
    """Start a real binary listening on a free loopback port; stopped at the end of the module."""
    started: list[subprocess.Popen] = []

    def factory(argv: list[str], health_url: str, env: dict[str, str] | None = None, cwd: str | None = None) -> ServiceProcess:
        process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, cwd=cwd,
        )
        started.append(process)
        try:
            wait_until_serving(health_url, process)
        except (RuntimeError, TimeoutError) as error:
            stop(process)
            stderr = process.stderr.read().decode(errors="replace")[-2000:] if process.stderr else ""
            pytest.fail(f"{argv[0]} did not start: {error}\n{stderr}")
        return ServiceProcess(process, health_url)

    yield factory
    for process in reversed(started):
        stop(process)


def pytest_configure(config: pytest.Config) -> None:
    # The project's pytest configuration registers this marker too; registering it here keeps
    # `pytest tests/exporters` clean under --strict-markers when run on its own.
    config.addinivalue_line("markers", "real_exporters: runs the real exporters Debian ships")
