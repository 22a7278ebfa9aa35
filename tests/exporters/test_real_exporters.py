"""The contracts against the real exporters Debian 12 ships: this is what proves the contracts
match reality. Only the differences each contract declares for the Debian build are tolerated
(`Contract.as_served_by_debian`). A missing binary fails the test; CI installs them."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import quote

import pytest

from exporters.contracts import CONTRACTS, check_exposition
from exporters.exposition import parse
from tests.exporters.conftest import (
    LOOPBACK,
    ServiceProcess,
    free_port,
    http,
    require_binary,
    start_mock,
    stop,
)

pytestmark = pytest.mark.real_exporters

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
BLACKBOX_EXPORTER = "/usr/bin/prometheus-blackbox-exporter"
PUSHGATEWAY = "/usr/bin/prometheus-pushgateway"
POSTGRES_EXPORTER = "/usr/bin/prometheus-postgres-exporter"
REDIS_EXPORTER = "/usr/bin/prometheus-redis-exporter"
REDIS_SERVER = "/usr/bin/redis-server"
# Debian's PostgreSQL major version varies by release: take the newest installed.
POSTGRES_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), default=Path("/usr/lib/postgresql/15/bin"))


def debian(exporter: str):
    return CONTRACTS[exporter].as_served_by_debian()


@pytest.fixture(scope="module")
def node_exporter(service_factory: Callable[..., ServiceProcess]) -> ServiceProcess:
    binary = require_binary(NODE_EXPORTER)
    port = free_port()
    return service_factory(
        [binary, f"--web.listen-address={LOOPBACK}:{port}"], f"http://{LOOPBACK}:{port}/metrics"
    )


def test_real_node_exporter_satisfies_its_contract(node_exporter: ServiceProcess) -> None:
    assert check_exposition(debian("node"), http(node_exporter.url).text) == []


def test_mock_and_real_node_exporter_agree_family_by_family(node_exporter: ServiceProcess) -> None:
    mock = start_mock("--exporter", "node", "--seed", "1")
    try:
        mock_families = parse(mock.scrape().text)
    finally:
        stop(mock.process)
    real_families = parse(http(node_exporter.url).text)
    compared = 0
    for family in CONTRACTS["node"].families:
        if family.debian_absent:
            continue
        real, mocked = real_families[family.name], mock_families[family.name]
        assert (mocked.type, real.type) == (family.type, family.type), family.name
        assert mocked.sample_names() == real.sample_names(), family.name
        # The mock follows the pinned upstream version; Debian's build may lack declared labels.
        not_in_debian = family.labels - (family.debian_labels or family.labels)
        assert mocked.label_names() - not_in_debian == real.label_names(), family.name
        compared += 1
    assert compared == len(CONTRACTS["node"].families)


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is needed to make the TLS probe target's certificate")
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return key, cert


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """No request logs in test output."""


@pytest.fixture(scope="module")
def tls_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("tls")
    key, cert = _self_signed_certificate(directory)
    (directory / "index.html").write_text("ok\n")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer((LOOPBACK, 0), lambda *a: _Quiet(*a, directory=str(directory)))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://{LOOPBACK}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def blackbox(service_factory: Callable[..., ServiceProcess], tmp_path_factory: pytest.TempPathFactory) -> ServiceProcess:
    binary = require_binary(BLACKBOX_EXPORTER)
    config = tmp_path_factory.mktemp("blackbox") / "blackbox.yml"
    config.write_text(
        "modules:\n"
        "  http_2xx:\n    prober: http\n    timeout: 5s\n"
        "  https_2xx:\n    prober: http\n    timeout: 5s\n"
        "    http:\n      fail_if_not_ssl: true\n      tls_config:\n        insecure_skip_verify: true\n"
    )
    port = free_port()
    return service_factory(
        [binary, f"--config.file={config}", f"--web.listen-address={LOOPBACK}:{port}"],
        f"http://{LOOPBACK}:{port}/metrics",
    )


def probe(blackbox: ServiceProcess, module: str, target: str) -> str:
    base = blackbox.url.rsplit("/", 1)[0]
    return http(f"{base}/probe?module={module}&target={quote(target, safe='')}", timeout=10).text


def test_real_blackbox_exporter_satisfies_its_contract(blackbox: ServiceProcess, tls_target: str) -> None:
    contract = debian("blackbox")
    tls_probe = probe(blackbox, "https_2xx", tls_target)
    assert check_exposition(contract, tls_probe, endpoint="/probe") == []
    assert parse(tls_probe)["probe_success"].samples[0].value == 1
    assert check_exposition(contract, http(blackbox.url).text, endpoint="/metrics") == []


def test_blackbox_probes_the_mock_exporter_over_http(blackbox: ServiceProcess) -> None:
    mock = start_mock("--exporter", "node")
    try:
        families = parse(probe(blackbox, "http_2xx", f"{mock.url}/metrics"))
    finally:
        stop(mock.process)
    assert families["probe_success"].samples[0].value == 1
    assert families["probe_http_status_code"].samples[0].value == 200


def test_real_pushgateway_satisfies_its_contract(service_factory: Callable[..., ServiceProcess]) -> None:
    binary = require_binary(PUSHGATEWAY)
    port = free_port()
    gateway = service_factory(
        # Memory only: the binary's default persistence file is shared by every run on the machine.
        [binary, f"--web.listen-address={LOOPBACK}:{port}", "--persistence.file="], f"http://{LOOPBACK}:{port}/metrics"
    )
    pushed = http(f"http://{LOOPBACK}:{port}/metrics/job/contract_test", "PUT", b"batch_last_success_timestamp_seconds 1\n")
    assert pushed.status == 200
    assert check_exposition(debian("pushgateway"), http(gateway.url).text) == []


@pytest.fixture(scope="module")
def redis_exporter(service_factory: Callable[..., ServiceProcess]) -> ServiceProcess:
    redis = require_binary(REDIS_SERVER)
    exporter = require_binary(REDIS_EXPORTER)
    redis_port, exporter_port = free_port(), free_port()
    server = subprocess.Popen(
        [redis, "--port", str(redis_port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(redis_port, server)
        yield service_factory(
            [exporter, "-redis.addr", f"redis://{LOOPBACK}:{redis_port}", "-web.listen-address", f"{LOOPBACK}:{exporter_port}"],
            f"http://{LOOPBACK}:{exporter_port}/metrics",
        )
    finally:
        stop(server)


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args[0]} exited with {process.returncode}")
        try:
            socket.create_connection((LOOPBACK, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"nothing listens on {LOOPBACK}:{port} after {timeout}s")


def test_real_redis_exporter_satisfies_its_contract(redis_exporter: ServiceProcess) -> None:
    text = http(redis_exporter.url).text
    assert parse(text)["redis_up"].samples[0].value == 1
    assert check_exposition(debian("redis"), text) == []


@pytest.fixture(scope="module")
def postgres_exporter(service_factory: Callable[..., ServiceProcess]) -> Iterator[ServiceProcess]:
    for tool in ("initdb", "pg_ctl", "postgres"):
        require_binary(str(POSTGRES_BIN / tool))
    exporter = require_binary(POSTGRES_EXPORTER)
    runuser = require_binary("/usr/sbin/runuser") if os.geteuid() == 0 else None
    as_postgres = [runuser, "-u", "postgres", "--"] if runuser else []
    directory = Path(tempfile.mkdtemp(prefix="pg-contract-"))
    if runuser:
        shutil.chown(directory, "postgres", "postgres")
    data, port = directory / "data", free_port()
    pg_ctl = [*as_postgres, str(POSTGRES_BIN / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run([*as_postgres, str(POSTGRES_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                       check=True, capture_output=True)
        subprocess.run([*pg_ctl, "-w", "-l", str(directory / "log"), "-o",
                        f"-k {directory} -p {port} -c listen_addresses='' -c fsync=off", "start"],
                       check=True, capture_output=True)
        exporter_port = free_port()
        yield service_factory(
            [exporter, f"--web.listen-address={LOOPBACK}:{exporter_port}"],
            f"http://{LOOPBACK}:{exporter_port}/metrics",
            env={"DATA_SOURCE_NAME": f"user=postgres host={directory} port={port} dbname=postgres sslmode=disable"},
        )
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


def test_real_postgres_exporter_satisfies_its_contract(postgres_exporter: ServiceProcess) -> None:
    text = http(postgres_exporter.url).text
    assert parse(text)["pg_up"].samples[0].value == 1
    assert check_exposition(debian("postgres"), text) == []


def test_every_debian_difference_is_a_real_one(node_exporter: ServiceProcess, blackbox: ServiceProcess, tls_target: str) -> None:
    """A declared Debian difference must be observed, or the declaration is stale and hides drift."""
    served = {
        "node": parse(http(node_exporter.url).text),
        "blackbox": {**parse(probe(blackbox, "https_2xx", tls_target)), **parse(http(blackbox.url).text)},
    }
    for exporter, families in served.items():
        for family in CONTRACTS[exporter].families:
            if family.debian_absent:
                assert family.name not in families, f"{family.name} is served by Debian after all"
            elif family.debian_labels is not None:
                assert families[family.name].label_names() != family.labels, f"{family.name} labels match upstream"
