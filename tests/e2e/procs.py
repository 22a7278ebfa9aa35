"""Real processes on 127.0.0.1 for end-to-end tests and benchmarks: Prometheus, Alertmanager and
mock exporters on free ports, a webhook receiver that records what Alertmanager sends, and the
rendered configs pointed at them. Everything started through a `Processes` is stopped by its
`stop_all` (the pytest fixture in conftest calls it; scripts use it as a context manager)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from alerting.alertmanager import alertmanager_files, alertmanager_secret_files, render_alertmanager_config
from render.prometheus import render_prometheus_config
from rules import render_modules
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


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll `condition` until it returns something truthy; its value, or TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except OSError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout:g}s")
        time.sleep(interval)


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def http_json(url: str, method: str = "GET", body: Any = None, timeout: float = 10) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


@dataclass
class Processes:
    running: list[subprocess.Popen] = field(default_factory=list)

    def start(self, args: list[str], log: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen:
        """Start `args` logging to `log`; `env` adds variables to this process' environment."""
        handle = log.open("w")
        process = subprocess.Popen(args, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                                   env={**os.environ, **env} if env else None)
        handle.close()
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

    def __enter__(self) -> "Processes":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def start_real(processes: Processes, binary: str, port: int, workdir: Path, *args: str) -> None:
    """A real exporter (a Debian binary) listening on 127.0.0.1:`port`."""
    processes.start([binary, f"--web.listen-address=127.0.0.1:{port}", *args], workdir / f"{binary.split('/')[-1]}.log")
    wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/metrics"), 30, f"{binary} on {port}")


# --- Mock exporters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mock:
    exporter: str
    ports: tuple[int, ...]

    @property
    def targets(self) -> list[str]:
        return [f"127.0.0.1:{port}" for port in self.ports]

    def set_fault(self, kind: str, host: int = 0, **params: Any) -> Any:
        return http_json(f"http://127.0.0.1:{self.ports[host]}/-/fault", "POST", {"kind": kind, **params})

    def clear_faults(self, host: int = 0) -> Any:
        return http_json(f"http://127.0.0.1:{self.ports[host]}/-/fault", "DELETE")


def start_mock(processes: Processes, exporter: str, workdir: Path, hosts: int = 1, seed: int = 1,
               clock_offset: float = 0.0, extra_args: tuple[str, ...] = ()) -> Mock:
    """A mock exporter simulating `hosts` hosts on consecutive free ports, its clock `clock_offset`
    seconds ahead; `extra_args` are more of its options (`--cpus 64`)."""
    while True:
        first = free_port()
        ports = tuple(range(first, first + hosts))
        if all(_port_free(port) for port in ports):
            break
    processes.start(
        [sys.executable, "-m", "mock_exporter", "--exporter", exporter, "--listen", f"127.0.0.1:{first}",
         "--hosts", str(hosts), "--seed", str(seed), "--clock-offset", repr(clock_offset), *extra_args],
        workdir / f"mock-{exporter}-{first}.log",
    )
    for port in ports:
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/metrics"), 30, f"mock {exporter} on {port}")
    return Mock(exporter, ports)


def start_mocks(processes: Processes, settings: StackSettings, workdir: Path,
                hosts: int | Mapping[str, int] = 1, clock_offsets: Mapping[str, float] | None = None) -> dict[str, Mock]:
    """One mock per exporter the settings run as mock (or shadow), simulating `hosts` hosts (one
    number for all, or per exporter), with its clock shifted by `clock_offsets[exporter]`."""
    return {
        exporter: start_mock(processes, exporter, workdir, hosts if isinstance(hosts, int) else hosts.get(exporter, 1),
                             clock_offset=(clock_offsets or {}).get(exporter, 0.0))
        for exporter in MOCKED
        if settings.exporters.mode(exporter) in ("mock", "shadow")
    }


# --- Prometheus --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prometheus:
    url: str

    def query(self, expr: str) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"query": expr})
        return http_json(f"{self.url}/api/v1/query?{query}")["data"]["result"]

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def alerts(self) -> list[dict[str, Any]]:
        return http_json(f"{self.url}/api/v1/alerts")["data"]["alerts"]

    def targets_up(self) -> bool:
        targets = http_json(f"{self.url}/api/v1/targets")["data"]["activeTargets"]
        return bool(targets) and all(t["health"] == "up" for t in targets)


def write_prometheus_config(
    settings: StackSettings, workdir: Path, endpoints: dict[str, Endpoint], services: tuple[str, ...],
    mocks: dict[str, Mock] | None = None, window_scale: float = 1.0,
) -> Path:
    """prometheus.yml (rendered for these endpoints) and the rule files of `services` under `workdir`.
    Extra simulated hosts of a mock are added to its rendered job."""
    rules_dir = workdir / "rules"
    rules_dir.mkdir(parents=True, exist_ok=True)
    for name, document in render_modules(settings, services, window_scale).items():
        (rules_dir / name).write_text(yaml.safe_dump(document, sort_keys=True))
    config = render_prometheus_config(settings, endpoints, rules_dir=str(rules_dir))
    for job in config["scrape_configs"]:
        mock = (mocks or {}).get(job["job_name"].removesuffix("-mock"))
        if job["job_name"].endswith("-mock") and mock and len(mock.ports) > 1:
            job["static_configs"][0]["targets"] = mock.targets
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=True))
    return path


def start_prometheus(processes: Processes, config: Path, workdir: Path, port: int, resend_delay: str = "1s") -> Prometheus:
    """Prometheus on `port`. It re-sends firing alerts every `resend_delay` (1m by default): short,
    so an alert whose first send raced Alertmanager's discovery is not held back a minute."""
    processes.start(
        [PROMETHEUS_BINARY, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'prometheus-data'}",
         f"--web.listen-address=127.0.0.1:{port}", f"--rules.alert.resend-delay={resend_delay}", "--log.level=warn"],
        workdir / "prometheus.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(f"{url}/-/ready"), 30, "Prometheus ready")
    return Prometheus(url)


# --- Alertmanager ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alertmanager:
    url: str

    def silence(self, matchers: dict[str, str], minutes: int = 30, comment: str = "acknowledged") -> str:
        now = time.time()
        body = {
            "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()],
            "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 1)),
            "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + minutes * 60)),
            "createdBy": "e2e",
            "comment": comment,
        }
        return http_json(f"{self.url}/api/v2/silences", "POST", body)["silenceID"]

    def alerts(self) -> list[dict[str, Any]]:
        return http_json(f"{self.url}/api/v2/alerts")


def write_alertmanager_config(settings: StackSettings, workdir: Path, webhook_url: str | None,
                              secrets: dict[str, str] | None = None) -> Path:
    """alertmanager.yml + templates under `workdir/alertmanager`, secrets as files in `workdir/secrets`.

    The local Alertmanager (Debian 0.25) predates the webhook's `url_file` (the pinned image has
    it): the local copy carries `webhook_url` in `url`, the only field that differs."""
    config_dir, secrets_dir = workdir / "alertmanager", workdir / "secrets"
    needed = {key for key, _ in alertmanager_secret_files(settings)} - {"webhook_url"}
    if missing := needed - set(secrets or {}):
        raise ValueError(f"the settings' receivers read secrets {sorted(missing)}: pass them in `secrets`")
    secrets_dir.mkdir(parents=True, exist_ok=True)
    for key, value in (secrets or {}).items():
        (secrets_dir / key).write_text(value)
    for relpath, content in alertmanager_files(settings, str(config_dir), str(secrets_dir)).items():
        path = config_dir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    document = render_alertmanager_config(settings, str(config_dir), str(secrets_dir))
    for receiver in document["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook.pop("url_file")
            webhook["url"] = webhook_url
    path = config_dir / "alertmanager.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=True))
    return path


def start_alertmanager(processes: Processes, config: Path, workdir: Path, port: int) -> Alertmanager:
    processes.start(
        [ALERTMANAGER_BINARY, f"--config.file={config}", f"--storage.path={workdir / 'alertmanager-data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"],
        workdir / "alertmanager.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(f"{url}/-/ready"), 30, "Alertmanager ready")
    return Alertmanager(url)


# --- Webhook receiver --------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    path: str
    received_at: float  # monotonic
    received_wall: float  # epoch seconds, comparable with Prometheus' activeAt
    body: dict[str, Any]


class WebhookReceiver:
    """An HTTP server on a free loopback port recording every JSON POST (Alertmanager's webhook and
    Slack payloads alike), by path. It answers `status` (200; a test sets 500 to break delivery)."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.status = 200
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with receiver._lock:
                    receiver.deliveries.append(Delivery(self.path, time.monotonic(), time.time(), body))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok" if receiver.status == 200 else b"unavailable")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def received(self, path: str = "/webhook") -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.path == path]

    def wait_for(self, predicate: Callable[[Delivery], bool], timeout: float, what: str, path: str = "/webhook") -> Delivery:
        return wait_until(lambda: next((d for d in self.received(path) if predicate(d)), None), timeout, what)


def notification(alertname: str, status: str, receiver: str | None = None) -> Callable[[Delivery], bool]:
    """Matches an Alertmanager webhook payload carrying `alertname` in `status` (sent to `receiver`)."""

    def matches(delivery: Delivery) -> bool:
        body = delivery.body
        return (
            (receiver is None or body.get("receiver") == receiver)
            and any(a["labels"].get("alertname") == alertname and a["status"] == status for a in body.get("alerts", []))
        )

    return matches


# --- A whole local stack -----------------------------------------------------------------------


@dataclass
class LocalStack:
    prometheus: Prometheus
    alertmanager: Alertmanager
    mocks: dict[str, Mock]


def start_local_stack(processes: Processes, settings: StackSettings, workdir: Path, webhook_url: str | None = None,
                      secrets: dict[str, str] | None = None, hosts: int | Mapping[str, int] = 1,
                      services: tuple[str, ...] = ("prometheus", "alertmanager"),
                      window_scale: float = 1.0, clock_offsets: Mapping[str, float] | None = None) -> LocalStack:
    """Mocks of the settings' mocked exporters, Alertmanager and Prometheus with the rendered
    configs and the rules of `services` (the stack services that run here). A run of seconds
    needs `window_scale` < 1: a 5m rate over 20 s of data reads a twentieth of the real rate."""
    mocks = start_mocks(processes, settings, workdir, hosts, clock_offsets)
    alertmanager_port, prometheus_port = free_port(), free_port()
    alertmanager = start_alertmanager(
        processes, write_alertmanager_config(settings, workdir, webhook_url, secrets), workdir, alertmanager_port
    )
    endpoints = {
        "prometheus": Endpoint("127.0.0.1", prometheus_port),
        "alertmanager": Endpoint("127.0.0.1", alertmanager_port),
        **{f"mock-{name}": Endpoint("127.0.0.1", mock.ports[0]) for name, mock in mocks.items()},
    }
    config = write_prometheus_config(settings, workdir, endpoints, services, mocks, window_scale)
    prometheus = start_prometheus(processes, config, workdir, prometheus_port)
    return LocalStack(prometheus, alertmanager, mocks)


def judged_in_seconds(alerts: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(alertname, state) of the alerts a run of seconds can judge. SLO burn-rate alerts are left
    out: their long windows (1h to 3d; a fifteenth of that when scaled) hold only the seconds the
    test ran, so one slow request among fifty reads as a burning budget. Days of healthy mock data
    prove them silent instead (tests/rules/test_slo_healthy_days.py)."""
    return {(a["labels"]["alertname"], a["state"]) for a in alerts if "slo" not in a["labels"]}


# --- Settings for fast local runs --------------------------------------------------------------


def fast_settings(interval: str = "1s", for_scale: float = 0.02, alerting: dict[str, Any] | None = None,
                  environment: str = "e2e") -> StackSettings:
    """Every interval `interval`, only the mocked exporters on (as mocks), every `for` scaled down,
    every Alertmanager wait short, the webhook and Slack receivers configured."""
    from settings import parse_settings

    fast_route = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}
    raw = {
        "prometheus": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
        "exporters": {
            **{name: {"mode": "mock", "scrape_interval": interval} for name in MOCKED},
            **{name: {"mode": "off"} for name in ("postgres", "redis", "blackbox", "pushgateway")},
        },
        "alerting": {
            "group_wait": "1s",
            "group_interval": "1s",
            "receivers": {"webhook": {}, "slack": {"channel": "#alerts"}},
            "routes": {name: fast_route for name in ("critical", "warning", "info", "security", "heartbeat")},
            "escalation": {"after": "8s", "repeat_interval": "1h"},
            "for_scale": for_scale,
            **(alerting or {}),
        },
        # The capacity peaks and trends evaluate on their own (5 m) interval by default.
        "capacity": {"evaluation_interval": interval},
    }
    return parse_settings(raw, environment)
