"""Real processes on 127.0.0.1 for the live dashboard checks: mock exporters and Prometheus with the
rendered configuration and rules. Every process is stopped by the caller's `stop_all`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alerting.alertmanager import render_alertmanager_config
from render.prometheus import render_prometheus_config
from rules import render_rule_files
from services.topology import Endpoint
from settings.model import StackSettings

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_BINARY = "/usr/bin/prometheus"
ALERTMANAGER_BINARY = "/usr/bin/prometheus-alertmanager"
MOCKED = ("node", "cadvisor", "dcgm", "vllm")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, deadline_seconds: float = 30) -> None:
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {deadline_seconds}s")
        time.sleep(0.2)


@dataclass
class Processes:
    running: list[subprocess.Popen] = field(default_factory=list)

    def start(self, args: list[str], log: Path) -> subprocess.Popen:
        handle = log.open("w")
        process = subprocess.Popen(args, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)
        self.running.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.terminate()
        for process in self.running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.running.clear()


def start_mock(processes: Processes, exporter: str, workdir: Path, hosts: int = 1) -> list[int]:
    """A mock exporter simulating `hosts` hosts on consecutive ports; returns their ports."""
    while True:
        first = free_port()
        ports = list(range(first, first + hosts))
        if all(_port_free(port) for port in ports):
            break
    processes.start(
        [sys.executable, "-m", "mock_exporter", "--exporter", exporter, "--listen", f"127.0.0.1:{first}", "--hosts", str(hosts)],
        workdir / f"mock-{exporter}.log",
    )
    for port in ports:
        wait_http(f"http://127.0.0.1:{port}/metrics")
    return ports


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def write_prometheus_files(settings: StackSettings, endpoints: dict[str, Endpoint], workdir: Path, extra_targets: dict[str, list[str]]) -> Path:
    rules_dir = workdir / "rules"
    rules_dir.mkdir(parents=True, exist_ok=True)
    for name, document in render_rule_files(settings).items():
        (rules_dir / name).write_text(yaml.safe_dump(document, sort_keys=True))
    config = render_prometheus_config(settings, endpoints, rules_dir=str(rules_dir))
    for job in config["scrape_configs"]:
        # More simulated hosts than the one address the rendered job names (bench at realistic size).
        exporter = job["job_name"].removesuffix("-mock")
        if job["job_name"].endswith("-mock") and extra_targets.get(exporter):
            job["static_configs"][0]["targets"].extend(extra_targets[exporter])
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=True))
    return path


def start_alertmanager(settings: StackSettings, processes: Processes, workdir: Path) -> int:
    config = workdir / "alertmanager.yml"
    config.write_text(yaml.safe_dump(render_alertmanager_config(settings), sort_keys=True))
    port = free_port()
    processes.start(
        [
            ALERTMANAGER_BINARY,
            f"--config.file={config}",
            f"--storage.path={workdir / 'alertmanager'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        workdir / "alertmanager.log",
    )
    wait_http(f"http://127.0.0.1:{port}/-/ready")
    return port


def instant_query(prometheus_url: str, expr: str, timeout: float = 10) -> dict[str, Any]:
    query = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{prometheus_url}/api/v1/query?{query}", timeout=timeout) as response:
        return json.loads(response.read())


def start_stack(settings: StackSettings, workdir: Path, processes: Processes, hosts: dict[str, int] | None = None) -> str:
    """Mocks of every mocked exporter plus Prometheus scraping them and itself; returns its URL."""
    hosts = hosts or {}
    endpoints: dict[str, Endpoint] = {}
    extra: dict[str, list[str]] = {}
    for exporter in MOCKED:
        if settings.exporters.mode(exporter) in ("mock", "shadow"):
            ports = start_mock(processes, exporter, workdir, hosts.get(exporter, 1))
            endpoints[f"mock-{exporter}"] = Endpoint("127.0.0.1", ports[0])
            extra[exporter] = [f"127.0.0.1:{port}" for port in ports[1:]]
    prometheus_port = free_port()
    endpoints["prometheus"] = Endpoint("127.0.0.1", prometheus_port)
    endpoints["alertmanager"] = Endpoint("127.0.0.1", start_alertmanager(settings, processes, workdir))
    config = write_prometheus_files(settings, endpoints, workdir, extra)
    processes.start(
        [
            PROMETHEUS_BINARY,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
            "--log.level=warn",
        ],
        workdir / "prometheus.log",
    )
    url = f"http://127.0.0.1:{prometheus_port}"
    wait_http(f"{url}/-/ready")
    return url


def live_settings(base: dict[str, Any], interval: str = "2s") -> dict[str, Any]:
    """Stack settings for a fast live run: every interval `interval`, only the mocked exporters on."""
    raw = json.loads(json.dumps(base))
    raw["prometheus"] = {**raw.get("prometheus", {}), "scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": "1s"}
    exporters = dict(raw.get("exporters", {}))
    for name in MOCKED:
        exporters[name] = {**exporters.get(name, {}), "mode": "mock", "scrape_interval": interval}
    for name in ("postgres", "redis", "blackbox", "pushgateway"):
        exporters[name] = {**exporters.get(name, {}), "mode": "off"}
    raw["exporters"] = exporters
    # The SLO's long windows (1d, 3d, 30d) are evaluated on their own, slower interval.
    raw["alerting"] = {**raw.get("alerting", {}), "slo_long_interval": interval}
    return raw
