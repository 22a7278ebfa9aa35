"""Kubernetes service discovery in the rendered prometheus.yml.

Statically: every pod the Kubernetes platform runs is selected by exactly the labels and namespace
the platform gives it; the SD blocks use only fields of the pinned Prometheus (vendored inventory);
the prod config with its SD swapped for file SD passes Debian's promtool. Live (real Prometheus 2.42,
file SD target groups carrying the discovery labels Kubernetes SD sets): the rendered relabeling
yields Docker's `exporter`/`source`/`env`/`instance` plus `namespace`/`pod`/`node`, drops what it
must, and the kubelet's cAdvisor series feed the container rules.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from platforms.kubernetes_objects import pod_security_level
from render.exporters import exporter_service
from render.kubernetes_sd import NAME_LABEL, PART_OF_LABEL, SERVICE_ACCOUNT_DIR, meta_label, namespace_of
from rules import render_rule_files
from services.api import api_services
from services.cluster import for_platform
from services.core import core_services
from services.exporters import exporter_services
from services.topology import internal_endpoints
from settings import parse_settings
from tests.conftest import stack_raw_config
from tests.e2e.procs import PROMETHEUS_BINARY, Processes, free_port, http_json, wait_until, http_ok
from tests.kubernetes.k8s_render import (
    http_client_fields, kubernetes_jobs, meta_label_known, node_target, pod_target, raw_on_platform,
    unknown_fields, with_file_sd,
)

VLLM_NAMESPACE = "llm"
# Services with no metrics endpoint of their own (nginx in front of Prometheus).
# nginx fronts serve no metrics: the read-only proxy and the gateway (render/gateway.py).
NOT_SCRAPED = {"prometheus-proxy", "gateway"}


def every_exporter_settings(tls: bool = True, **prometheus):
    """Prod on Kubernetes with every exporter running (mocks and real side by side); without prod's
    TLS and authentication with `tls=False`, for a local Prometheus that has no /run/secrets (the TLS
    proof is tests/security/test_tls_e2e.py)."""
    raw = raw_on_platform(stack_raw_config("prod"), "kubernetes")
    if not tls:
        raw.pop("security", None)
    raw["exporters"] = {
        "mock_image": raw["exporters"]["mock_image"],
        **{name: {"mode": "shadow"} for name in ("node", "cadvisor", "dcgm", "vllm")},
        **{name: {"mode": "real"} for name in ("postgres", "redis", "blackbox", "pushgateway")},
    }
    raw["kubernetes"]["discovery"] = {"vllm": {"namespaces": [VLLM_NAMESPACE]}}
    raw["prometheus"] = {**raw["prometheus"], **prometheus}
    return parse_settings(raw, "prod")


SETTINGS = every_exporter_settings()


def rendered(settings=SETTINGS) -> dict:
    """prometheus.yml as the Prometheus service receives it."""
    return yaml.safe_load(core_services(settings)["prometheus"].file("prometheus.yml").content)


def selected_services(config: dict) -> dict[str, tuple[str, list[str]]]:
    """service -> (job, namespaces) for every job that keeps the stack's pods by name."""
    keys = [meta_label(NAME_LABEL), meta_label(PART_OF_LABEL)]
    found = {}
    for job in kubernetes_jobs(config):
        for rule in job["relabel_configs"]:
            if rule.get("action") == "keep" and rule["source_labels"] == keys:
                service, part_of = rule["regex"].split(";")
                assert service not in found, f"{service} selected by {found[service][0]} and {job['job_name']}"
                found[service] = (job["job_name"], job["kubernetes_sd_configs"][0]["namespaces"]["names"])
    return found


def test_every_pod_of_the_stack_is_scraped_in_the_namespace_the_platform_puts_it():
    specs = for_platform(SETTINGS, {**core_services(SETTINGS), **exporter_services(SETTINGS, "mock:0.1.0"),
                                    **api_services(SETTINGS, internal_endpoints(SETTINGS), "api:0.1.0")})
    kubernetes = SETTINGS.kubernetes
    expected = {
        spec.name: [kubernetes.namespace if pod_security_level(spec) == "restricted" else kubernetes.agents_namespace]
        for spec in specs.values()
        if spec.name not in NOT_SCRAPED
    }
    selected = {service: namespaces for service, (_, namespaces) in selected_services(rendered()).items()}
    assert selected == expected
    assert all(namespace_of(SETTINGS, name) == namespaces[0] for name, namespaces in expected.items())


def test_real_cadvisor_is_the_kubelets_and_vllm_the_users_labelled_pods():
    jobs = {job["job_name"]: job for job in rendered()["scrape_configs"]}
    cadvisor = jobs["cadvisor"]
    assert cadvisor["kubernetes_sd_configs"] == [{"role": "node"}]
    assert (cadvisor["scheme"], cadvisor["metrics_path"]) == ("https", "/metrics/cadvisor")
    assert cadvisor["tls_config"]["insecure_skip_verify"] is False
    vllm = jobs["vllm"]
    assert vllm["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": [VLLM_NAMESPACE]}}]
    assert {"source_labels": [meta_label("app.kubernetes.io/name")], "regex": "vllm", "action": "keep"} in vllm["relabel_configs"]
    # The stack deploys no cAdvisor on a cluster, and the mock is still its own job.
    assert "cadvisor" not in selected_services(rendered()) and "mock-cadvisor" in selected_services(rendered())


def test_sd_blocks_use_only_fields_of_the_pinned_prometheus():
    config = rendered()
    problems = []
    for job in kubernetes_jobs(config):
        name = job["job_name"]
        problems += [f"{name}: {p}" for p in unknown_fields(job["kubernetes_sd_configs"], ["kubernetes_sd_config"])]
        for field in http_client_fields() & job.keys():
            problems += [f"{name}: {p}" for p in unknown_fields(job[field], _field_type(field), field)]
        roles = {sd["role"] for sd in job["kubernetes_sd_configs"]}
        for rule in job["relabel_configs"]:
            for label in rule.get("source_labels", []):
                if label.startswith("__meta_kubernetes_") and not any(meta_label_known(role, label) for role in roles):
                    problems.append(f"{name}: reads {label}, which role {sorted(roles)} does not set")
    assert problems == []
    assert len(list(kubernetes_jobs(config))) > 10


def _field_type(field: str):
    from tests.kubernetes.k8s_render import inventory

    return inventory()["types"]["http_client_config"][field]


def test_the_field_check_rejects_what_prometheus_would():
    # The negative control: a misspelt field, an unknown role and an unknown TLS field are caught.
    wrong = [{"role": "pods", "namespace": {"names": ["x"]}, "tls_config": {"verify": True}}]
    problems = unknown_fields(wrong, ["kubernetes_sd_config"])
    assert len(problems) == 3
    assert any("namespace: unknown field" in p for p in problems)
    assert any("'pods' is not one of" in p for p in problems)
    assert any("tls_config.verify: unknown field" in p for p in problems)
    assert not meta_label_known("node", "__meta_kubernetes_pod_name")


def write_rules(settings, directory: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    for name, document in render_rule_files(settings).items():
        (directory / name).write_text(yaml.safe_dump(document, sort_keys=True))
    return f"{directory}/*.yml"


def test_prod_config_with_file_sd_passes_promtool(tmp_path):
    # The service account's token and CA that Kubernetes mounts into the pod (promtool opens them).
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("token")
    (account / "ca.crt").write_text("")
    text = yaml.safe_dump(with_file_sd(rendered(), tmp_path / "sd")).replace(SERVICE_ACCOUNT_DIR, str(account))
    config = yaml.safe_load(text)
    config["rule_files"] = [write_rules(SETTINGS, tmp_path / "rules")]
    (tmp_path / "sd").mkdir()
    for job in config["scrape_configs"]:
        for sd in job.get("file_sd_configs", []):
            Path(sd["files"][0]).write_text("[]")
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=True))
    checked = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The swap itself is what a cluster-less promtool needs: the original is refused for its SD blocks.
    original = tmp_path / "original.yml"
    original.write_text(yaml.safe_dump({**rendered(), "rule_files": config["rule_files"]}, sort_keys=True))
    refused = subprocess.run(["promtool", "check", "config", str(original)], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "kubernetes_sd_configs" in refused.stdout + refused.stderr


# --- Live: the rendered relabeling in a real Prometheus ------------------------------------------

# A kubelet's /metrics/cadvisor for one node: a vLLM container with a memory limit, its pod's cgroup
# (container="") and its sandbox (container="POD"), labels as the kubelet sets them.
KUBELET_CADVISOR = """\
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="vllm",id="/kubepods/pod1/c1",image="vllm/vllm-openai:v0.10.0",name="c1",namespace="llm",pod="vllm-0"} 950
container_memory_working_set_bytes{container="",id="/kubepods/pod1",image="",name="",namespace="llm",pod="vllm-0"} 990
container_memory_working_set_bytes{container="POD",id="/kubepods/pod1/p1",image="registry.k8s.io/pause:3.10",name="p1",namespace="llm",pod="vllm-0"} 1
# TYPE container_spec_memory_limit_bytes gauge
container_spec_memory_limit_bytes{container="vllm",id="/kubepods/pod1/c1",image="vllm/vllm-openai:v0.10.0",name="c1",namespace="llm",pod="vllm-0"} 1000
container_spec_memory_limit_bytes{container="",id="/kubepods/pod1",image="",name="",namespace="llm",pod="vllm-0"} 1000
container_spec_memory_limit_bytes{container="POD",id="/kubepods/pod1/p1",image="registry.k8s.io/pause:3.10",name="p1",namespace="llm",pod="vllm-0"} 1000
"""


class FakeKubelet:
    """Serves KUBELET_CADVISOR on /metrics/cadvisor (plain HTTP: the test's only rewrite of the job)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = KUBELET_CADVISOR.encode() if self.path == "/metrics/cadvisor" else b""
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_address() -> str:
    return f"127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    settings = every_exporter_settings(tls=False, scrape_interval="1s", evaluation_interval="1s", scrape_timeout="1s")
    workdir = tmp_path_factory.mktemp("k8s-relabel")
    sd_dir = workdir / "sd"
    sd_dir.mkdir()
    config = with_file_sd(rendered(settings), sd_dir)
    config["rule_files"] = [write_rules(settings, workdir / "rules")]
    kubelet = FakeKubelet()
    cadvisor = next(job for job in config["scrape_configs"] if job["job_name"] == "cadvisor")
    cadvisor.update(scheme="http", scrape_interval="1s")
    del cadvisor["tls_config"], cadvisor["authorization"]
    stack = {NAME_LABEL: "", PART_OF_LABEL: "monitoring"}
    groups = {
        "node": [
            pod_target(closed_address(), "monitoring-host", "node-exporter-a", "n1", {**stack, NAME_LABEL: "node-exporter"}),
            pod_target(closed_address(), "monitoring-host", "node-exporter-b", "n2", {**stack, NAME_LABEL: "node-exporter"}),
            # Not the stack's: another app's pod, and the stack's name on a pod not part of it.
            pod_target(closed_address(), "monitoring-host", "other-x", "n1", {**stack, NAME_LABEL: "other"}),
            pod_target(closed_address(), "monitoring-host", "node-exporter-c", "n3", {NAME_LABEL: "node-exporter"}),
            # A finished pod still listed by the API.
            pod_target(closed_address(), "monitoring-host", "node-exporter-d", "n4", {**stack, NAME_LABEL: "node-exporter"},
                       phase="Succeeded"),
        ],
        "node-mock": [pod_target("10.0.0.7:8080", "monitoring", "mock-node-5f7c", "n2", {**stack, NAME_LABEL: "mock-node"})],
        "vllm": [pod_target("10.0.0.9:9999", VLLM_NAMESPACE, "vllm-0", "n1", {"app.kubernetes.io/name": "vllm"})],
        "prometheus": [
            pod_target("10.0.0.11:9090", "monitoring", f"prometheus-{i}", f"n{i + 1}", {**stack, NAME_LABEL: "prometheus"})
            for i in range(2)
        ],
        "cadvisor": [node_target(kubelet.address, "n1")],
    }
    for job in config["scrape_configs"]:
        for sd in job.get("file_sd_configs", []):
            Path(sd["files"][0]).write_text(json.dumps(groups.get(job["job_name"], [])))
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=True))
    port = free_port()
    processes = Processes()
    try:
        processes.start(
            [PROMETHEUS_BINARY, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            workdir / "prometheus.log",
        )
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(f"{url}/-/ready"), 30, "Prometheus ready")
        yield settings, url
    finally:
        processes.stop_all()
        kubelet.close()


def active_targets(url: str) -> dict[str, list[dict[str, str]]]:
    by_job: dict[str, list[dict[str, str]]] = {}
    for target in http_json(f"{url}/api/v1/targets")["data"]["activeTargets"]:
        # The address the target is scraped at, next to its labels.
        address = urllib.parse.urlsplit(target["scrapeUrl"]).netloc
        by_job.setdefault(target["labels"]["job"], []).append({**target["labels"], "__address__": address})
    return by_job


@pytest.mark.e2e
def test_relabeling_gives_docker_labels_plus_pod_metadata(live):
    _, url = live
    wanted = ("node", "node-mock", "vllm", "prometheus", "cadvisor")

    def discovered():
        found = active_targets(url)
        return found if all(job in found for job in wanted) else None

    targets = wait_until(discovered, 20, "every job's targets discovered")
    node = sorted(targets["node"], key=lambda t: t["instance"])
    assert [{k: v for k, v in t.items() if k != "__address__"} for t in node] == [
        {"job": "node", "exporter": "node", "source": "real", "env": "prod", "instance": instance,
         "namespace": "monitoring-host", "pod": pod, "node": instance}
        for instance, pod in (("n1", "node-exporter-a"), ("n2", "node-exporter-b"))
    ]
    # Addressed at the pod's IP and the exporter's own port, whatever port the pod declared.
    assert {re.sub(r":\d+$", "", t["__address__"]) for t in node} == {"127.0.0.1"}
    assert {t["__address__"].rsplit(":", 1)[1] for t in node} == {"9100"}
    assert targets["node-mock"] == [
        {"__address__": "10.0.0.7:9100", "job": "node-mock", "exporter": "node", "source": "mock", "env": "prod",
         "instance": "mock-node-5f7c:9100", "namespace": "monitoring", "pod": "mock-node-5f7c", "node": "n2"}
    ]
    assert targets["vllm"] == [
        {"__address__": "10.0.0.9:8000", "job": "vllm", "exporter": "vllm", "source": "real", "env": "prod",
         "instance": "vllm-0:8000", "namespace": VLLM_NAMESPACE, "pod": "vllm-0", "node": "n1"}
    ]
    assert sorted(t["instance"] for t in targets["prometheus"]) == ["prometheus-0:9090", "prometheus-1:9090"]
    assert all(t["service"] == "prometheus" and t["env"] == "prod" for t in targets["prometheus"])
    assert [{k: t[k] for k in ("exporter", "source", "env", "instance", "node")} for t in targets["cadvisor"]] == [
        {"exporter": "cadvisor", "source": "real", "env": "prod", "instance": "n1", "node": "n1"}
    ]


@pytest.mark.e2e
def test_kubelet_cadvisor_series_feed_the_container_rules(live):
    _, url = live
    query = "container:container_memory_working_set_bytes:ratio_limit"

    def recorded():
        result = http_json(f"{url}/api/v1/query?query={query}")["data"]["result"]
        return result or None

    result = wait_until(recorded, 20, f"{query} recorded from the kubelet's series")
    # Only the container itself: the pod's cgroup and its sandbox have no container name.
    assert [(r["metric"]["name"], r["metric"]["pod"], r["metric"]["namespace"], r["metric"]["instance"], r["value"][1])
            for r in result] == [("vllm", "vllm-0", "llm", "n1", "0.95")]
