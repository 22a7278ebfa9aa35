"""A local stack for the API's end-to-end tests and benchmark: the mocks, real Alertmanager and real
Prometheus (the rendered configs, plus the user rules directory the API writes to, and the
lifecycle endpoint it reloads through), and `python -m api` in front of them."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import yaml

from services.topology import Endpoint
from settings.model import StackSettings
from tests.e2e.procs import (
    PROMETHEUS_BINARY, Alertmanager, Mock, Processes, Prometheus, free_port, http_ok, start_alertmanager, start_mocks,
    wait_until, write_alertmanager_config, write_prometheus_config,
)

READ_TOKEN = "read-token-0123456789abcdef"
WRITE_TOKEN = "write-token-0123456789abcdef"


@dataclass
class ApiStack:
    api: str
    prometheus: Prometheus
    alertmanager: Alertmanager
    mocks: dict[str, Mock]
    rules_dir: Path


def start_api(processes: Processes, workdir: Path, upstreams: Mapping[str, str], rules_dir: Path | None = None,
              extra: tuple[str, ...] = ()) -> str:
    tokens = workdir / "tokens"
    tokens.write_text(f"read {READ_TOKEN}\nwrite {WRITE_TOKEN}\n")
    port = free_port()
    args = [sys.executable, "-m", "api", "--listen", f"127.0.0.1:{port}", "--tokens-file", str(tokens), *extra]
    for name, url in upstreams.items():
        args += [f"--{name}", url]
    if rules_dir is not None:
        args += ["--rules-dir", str(rules_dir)]
    processes.start(args, workdir / f"api-{port}.log")
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(f"{url}/monitoring/healthz"), 30, "monitoring API ready")
    return url


def start_api_stack(processes: Processes, settings: StackSettings, workdir: Path, hosts: int = 1,
                    services: tuple[str, ...] = ("prometheus", "alertmanager")) -> ApiStack:
    mocks = start_mocks(processes, settings, workdir, hosts)
    alertmanager_port, prometheus_port = free_port(), free_port()
    alertmanager = start_alertmanager(
        processes, write_alertmanager_config(settings, workdir, "http://127.0.0.1:9/unused",
                                             {"slack_api_url": "http://127.0.0.1:9/unused"}),
        workdir, alertmanager_port)
    endpoints = {
        "prometheus": Endpoint("127.0.0.1", prometheus_port),
        "alertmanager": Endpoint("127.0.0.1", alertmanager_port),
        **{f"mock-{name}": Endpoint("127.0.0.1", mock.ports[0]) for name, mock in mocks.items()},
    }
    config = write_prometheus_config(settings, workdir, endpoints, services, mocks)
    rules_dir = workdir / "user-rules"
    rules_dir.mkdir()
    document = yaml.safe_load(config.read_text())
    document["rule_files"].append(f"{rules_dir}/*.yml")
    config.write_text(yaml.safe_dump(document, sort_keys=True))
    processes.start(
        [PROMETHEUS_BINARY, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'prometheus-data'}",
         f"--web.listen-address=127.0.0.1:{prometheus_port}", "--rules.alert.resend-delay=1s", "--log.level=warn",
         "--web.enable-lifecycle"],
        workdir / "prometheus.log")
    prometheus = Prometheus(f"http://127.0.0.1:{prometheus_port}")
    wait_until(lambda: http_ok(f"{prometheus.url}/-/ready"), 30, "Prometheus ready")
    api = start_api(processes, workdir, {"prometheus": prometheus.url, "alertmanager": alertmanager.url}, rules_dir,
                    ("--prometheus-reload-url", f"{prometheus.url}/-/reload"))
    return ApiStack(api, prometheus, alertmanager, mocks, rules_dir)
