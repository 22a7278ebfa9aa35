"""Only the stack network may write to Prometheus: proven with the real binaries on 127.0.0.1.

The stack's Prometheus runs with the rendered command (its remote-write receiver on, for Loki's
ruler); the published side is real nginx with the rendered proxy config pointed at it. A second
real Prometheus plays the writers: it remote-writes its own series both straight to Prometheus (the
stack side, as Loki's ruler does) and through the proxy (any process on the host), labelled by path.
"""

from __future__ import annotations

import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from render.prometheus import prometheus_command
from render.prometheus_proxy import render_prometheus_proxy_config
from services.core import core_services
from services.topology import Endpoint
from tests.conftest import STACKS, stack_settings
from tests.e2e.procs import PROMETHEUS_BINARY, Processes, free_port, http_ok, wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.e2e


def status(url: str, method: str = "GET", body: bytes | None = None) -> int:
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def post_query(base: str, expr: str) -> list[dict]:
    """A query as Grafana sends it (`httpMethod: POST`)."""
    import json

    request = urllib.request.Request(
        f"{base}/api/v1/query", data=urllib.parse.urlencode({"query": expr}).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())["data"]["result"]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """(stack Prometheus URL, published proxy URL, writer Prometheus URL), all on loopback."""
    workdir: Path = tmp_path_factory.mktemp("prometheus-proxy")
    settings = stack_settings("staging")
    prometheus_port, proxy_port, writer_port = free_port(), free_port(), free_port()
    (workdir / "prometheus.yml").write_text(yaml.safe_dump({"global": {"scrape_interval": "1s"}}))
    # The rendered command, with local paths and a loopback listener in place of the container's.
    command = [
        argument
        for argument in prometheus_command(
            settings, str(workdir / "prometheus.yml"), str(workdir / "data"), prometheus_port
        )
        if not argument.startswith("--web.listen-address")
    ]
    (workdir / "nginx.conf").write_text(
        render_prometheus_proxy_config(Endpoint("127.0.0.1", prometheus_port), proxy_port, None, str(workdir))
    )
    stack_url, proxy_url = f"http://127.0.0.1:{prometheus_port}", f"http://127.0.0.1:{proxy_port}"
    writes = [
        {
            "url": f"{url}/api/v1/write",
            "write_relabel_configs": [{"target_label": "path", "replacement": path}],
            "queue_config": {"batch_send_deadline": "1s"},
        }
        for path, url in (("stack", stack_url), ("published", proxy_url))
    ]
    (workdir / "writer.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s"},
                "scrape_configs": [{"job_name": "writer", "static_configs": [{"targets": [f"127.0.0.1:{writer_port}"]}]}],
                "remote_write": writes,
            }
        )
    )
    with Processes() as processes:
        processes.start([PROMETHEUS_BINARY, *command, f"--web.listen-address=127.0.0.1:{prometheus_port}"], workdir / "prometheus.log")
        wait_until(lambda: http_ok(f"{stack_url}/-/ready"), 30, "Prometheus ready")
        processes.start([NGINX, "-c", str(workdir / "nginx.conf"), "-p", str(workdir)], workdir / "nginx.log")
        wait_until(lambda: http_ok(f"{proxy_url}/-/ready"), 30, "the proxy passing /-/ready")
        processes.start(
            [PROMETHEUS_BINARY, f"--config.file={workdir / 'writer.yml'}", f"--storage.tsdb.path={workdir / 'writer'}",
             f"--web.listen-address=127.0.0.1:{writer_port}"],
            workdir / "writer.log",
        )
        wait_until(lambda: http_ok(f"http://127.0.0.1:{writer_port}/-/ready"), 30, "the writer ready")
        yield stack_url, proxy_url, f"http://127.0.0.1:{writer_port}"


def test_remote_write_only_from_the_stack_side_and_queries_through_the_published_side(published):
    """Mutations caught: Prometheus published directly again (no proxy) or the proxy passing POST
    anywhere -> the `published` series arrive; the receiver flag dropped from the rendered command
    -> the `stack` series never arrive; the proxy refusing POST queries -> Grafana's query fails."""
    stack_url, proxy_url, writer_url = published
    # The stack side's write arrives, and is read back through the published side as Grafana does.
    wait_until(lambda: post_query(proxy_url, 'up{job="writer",path="stack"}'), 60, "the stack-side write, read through the proxy")
    # The published side's write was tried and refused, not merely late.
    failed = f'prometheus_remote_storage_samples_failed_total{{url="{proxy_url}/api/v1/write"}}'
    wait_until(lambda: float((post_query(writer_url, failed) or [{"value": [0, "0"]}])[0]["value"][1]) > 0, 60,
               "the writer's samples refused by the proxy")
    assert post_query(stack_url, 'up{path="published"}') == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/write"),
        ("POST", "/api/v1/otlp/v1/metrics"),
        ("POST", "/api/v1/admin/tsdb/snapshot"),
        ("PUT", "/api/v1/admin/tsdb/delete_series?match[]=up"),
        ("POST", "/-/reload"),
        ("PUT", "/-/quit"),
        # Path tricks normalise to the write endpoint, never to an allowed query one.
        ("POST", "/api/v1/query/../write"),
        ("POST", "/api/v1/query%2F..%2Fwrite"),
    ],
)
def test_the_published_side_refuses_writes_and_the_admin_apis(published, method, path):
    """Mutation caught: a method or path added to the proxy's allow-list that writes."""
    _, proxy_url, _ = published
    assert status(f"{proxy_url}{path}", method, b"") == 403


def test_the_published_side_serves_reads(published):
    """Mutation caught: the proxy refusing what users and the UI read (GET anywhere, POSTed queries)."""
    stack_url, proxy_url, _ = published
    for path in ("/-/ready", "/api/v1/status/buildinfo", "/api/v1/labels", "/api/v1/query?query=1", "/graph"):
        assert status(f"{proxy_url}{path}") == 200, path
    assert status(f"{proxy_url}/api/v1/query_range", "POST", b"query=1&start=0&end=60&step=15") == 200
    # The same write straight to Prometheus reaches its receiver (400: not a valid remote-write body).
    assert status(f"{stack_url}/api/v1/write", "POST", b"") == 400


@pytest.mark.parametrize("stack", STACKS)
def test_prometheus_is_published_only_through_the_proxy(stack):
    """Mutation caught: Prometheus' own port published again beside the proxy."""
    settings = stack_settings(stack)
    services = core_services(settings)
    assert all(port.published is None for port in services["prometheus"].ports)
    (proxy_port,) = services["prometheus-proxy"].ports
    assert proxy_port.published == settings.prometheus.port
    assert "--web.enable-remote-write-receiver" in services["prometheus"].command
