"""High availability for real: the Kubernetes rendering of Alertmanager's peer arguments and of
Prometheus' replica label, alert relabeling and peer list, run by Debian's Alertmanager (0.25) and
Prometheus (2.42) on 127.0.0.1.

The only rewrites are the ones a cluster does for us or that loopback forces: the kubelet expands
`$(POD_IP)` and `${POD_NAME}`, the peers' DNS names become loopback ports, discovered pods become
file SD target groups (see k8s_render), and the peers wait 5 s for each other instead of 15 s
(`--cluster.peer-timeout`) so the test runs in tens of seconds.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from render.kubernetes_sd import NAME_LABEL, PART_OF_LABEL
from render.prometheus_ha import REPLICA_ENV, REPLICA_LABEL
from rules import render_modules
from services.cluster import for_platform
from services.core import core_services
from services.high_availability import ALERTMANAGER_CLUSTER_PORT, ALERTMANAGER_PEERS, PROMETHEUS_REPLICAS
from settings import parse_settings
from tests.e2e.procs import (
    ALERTMANAGER_BINARY, PROMETHEUS_BINARY, Processes, WebhookReceiver, fast_settings, free_port, http_json, http_ok,
    notification, start_mock, wait_until, write_alertmanager_config,
)
from tests.kubernetes.k8s_render import pod_target, raw_on_platform, with_file_sd

pytestmark = pytest.mark.e2e

PEER_TIMEOUT_S = 5
SETTINGS = parse_settings(
    raw_on_platform(
        json.loads(
            fast_settings(
                alerting={"receivers": {"webhook": {}}, "rule_overrides": {"NodeTargetDown": {"severity": "critical"}}}
            ).model_dump_json()
        ),
        "kubernetes",
    ),
    "e2e",
)
SPECS = for_platform(SETTINGS, core_services(SETTINGS))


def loopback_alertmanager_args(args: tuple[str, ...], workdir: Path, config: Path, web_port: int,
                               gossip_ports: list[int], ordinal: int) -> list[str]:
    """The rendered arguments of peer `ordinal`, pointed at loopback ports and local paths."""
    peer = re.compile(r"--cluster\.peer=alertmanager-(\d+)\.[a-z0-9.-]+\.svc:" + str(ALERTMANAGER_CLUSTER_PORT))
    own = f"127.0.0.1:{gossip_ports[ordinal]}"
    rewritten = []
    for arg in args:
        flag = arg.split("=", 1)[0]
        if flag == "--config.file":
            arg = f"--config.file={config}"
        elif flag == "--storage.path":
            arg = f"--storage.path={workdir / f'alertmanager-{ordinal}'}"
        elif flag == "--web.listen-address":
            arg = f"--web.listen-address=127.0.0.1:{web_port}"
        elif flag == "--cluster.listen-address":
            assert arg == f"--cluster.listen-address=0.0.0.0:{ALERTMANAGER_CLUSTER_PORT}", arg
            arg = f"--cluster.listen-address={own}"
        elif flag == "--cluster.advertise-address":
            assert arg == f"--cluster.advertise-address=$(POD_IP):{ALERTMANAGER_CLUSTER_PORT}", arg
            arg = f"--cluster.advertise-address={own}"
        elif flag == "--cluster.peer":
            match = peer.fullmatch(arg)
            assert match, f"not a peer's stable name: {arg}"
            arg = f"--cluster.peer=127.0.0.1:{gossip_ports[int(match.group(1))]}"
        rewritten.append(arg)
    return rewritten + [f"--cluster.peer-timeout={PEER_TIMEOUT_S}s", "--log.level=warn"]


def cluster_members(url: str) -> float | None:
    with urllib.request.urlopen(f"{url}/metrics", timeout=2) as response:
        text = response.read().decode()
    match = re.search(r"^alertmanager_cluster_members (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def notifications_sent(prometheus_url: str) -> dict[str, float]:
    """Alertmanager URL -> alerts this Prometheus has sent there (its own metric)."""
    with urllib.request.urlopen(f"{prometheus_url}/metrics", timeout=2) as response:
        text = response.read().decode()
    return {url: float(value) for url, value in
            re.findall(r'^prometheus_notifications_sent_total\{alertmanager="([^"]+)"\} (\S+)$', text, re.MULTILINE)}


def prometheus_config(workdir: Path, alertmanagers: list[str], node_mock: str) -> Path:
    """The replicas' rendered prometheus.yml: the peers at their loopback ports, the mock node
    exporter as the pod the node-mock job discovers, the rules of Prometheus and Alertmanager."""
    config = yaml.safe_load(SPECS["prometheus"].file("prometheus.yml").content)
    peers = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert len(peers) == ALERTMANAGER_PEERS
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = alertmanagers
    config = with_file_sd(config, workdir / "sd")
    (workdir / "sd").mkdir()
    mock_port = node_mock.rsplit(":", 1)[1]
    for job in config["scrape_configs"]:
        groups = []
        if job["job_name"] == "node-mock":
            groups = [pod_target(node_mock, "monitoring", "mock-node-0", "n1",
                                 {NAME_LABEL: "mock-node", PART_OF_LABEL: "monitoring"})]
            # The mock listens on a free port, not the node exporter's 9100 the pods are addressed at.
            for rule in job["relabel_configs"]:
                if rule.get("target_label") == "__address__":
                    rule["replacement"] = re.sub(r":\d+$", f":{mock_port}", rule["replacement"])
        for sd in job.get("file_sd_configs", []):
            Path(sd["files"][0]).write_text(json.dumps(groups))
    rules_dir = workdir / "rules"
    rules_dir.mkdir()
    for name, document in render_modules(SETTINGS, ("prometheus", "alertmanager"), 1 / 15).items():
        (rules_dir / name).write_text(yaml.safe_dump(document, sort_keys=True))
    config["rule_files"] = [f"{rules_dir}/*.yml"]
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=True))
    return path


def firing(receiver: WebhookReceiver, alertname: str, route: str) -> list:
    """Notifications of `alertname` firing sent to the `route` receiver (escalation is a second one)."""
    return [d for d in receiver.received() if notification(alertname, "firing", route)(d)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ha")
    processes = Processes()
    with WebhookReceiver() as receiver:
        try:
            config = write_alertmanager_config(SETTINGS, workdir, f"{receiver.url}/webhook")
            web_ports = [free_port() for _ in range(ALERTMANAGER_PEERS)]
            gossip_ports = [free_port() for _ in range(ALERTMANAGER_PEERS)]
            peers = [
                processes.start(
                    [ALERTMANAGER_BINARY, *loopback_alertmanager_args(
                        SPECS["alertmanager"].command, workdir, config, web_ports[i], gossip_ports, i)],
                    workdir / f"alertmanager-{i}.log",
                )
                for i in range(ALERTMANAGER_PEERS)
            ]
            urls = [f"http://127.0.0.1:{port}" for port in web_ports]
            for url in urls:
                wait_until(lambda: http_ok(f"{url}/-/ready"), 30, f"Alertmanager {url} ready")
            mock = start_mock(processes, "node", workdir)
            path = prometheus_config(workdir, [f"127.0.0.1:{port}" for port in web_ports], mock.targets[0])
            prometheus_urls, replicas = [], []
            for ordinal in range(PROMETHEUS_REPLICAS):
                port = free_port()
                replicas.append(processes.start(
                    [PROMETHEUS_BINARY, f"--config.file={path}", f"--storage.tsdb.path={workdir / f'prometheus-{ordinal}'}",
                     f"--web.listen-address=127.0.0.1:{port}", "--rules.alert.resend-delay=1s", "--log.level=warn",
                     # Debian's 2.x expands ${POD_NAME} only behind this flag (the pinned 3.x always does).
                     "--enable-feature=expand-external-labels"],
                    workdir / f"prometheus-{ordinal}.log",
                    # What the kubelet sets from the pod's name (the StatefulSet's prometheus-<i>).
                    env={REPLICA_ENV: f"prometheus-{ordinal}"},
                ))
                prometheus_urls.append(f"http://127.0.0.1:{port}")
                wait_until(lambda: http_ok(f"{prometheus_urls[-1]}/-/ready"), 30, "Prometheus ready")
            yield {"peers": peers, "urls": urls, "replicas": replicas, "prometheus": prometheus_urls,
                   "receiver": receiver, "mock": mock}
        finally:
            processes.stop_all()


def test_three_peers_form_one_cluster(cluster):
    for url in cluster["urls"]:
        wait_until(lambda: cluster_members(url) == ALERTMANAGER_PEERS, 30, f"{url} sees {ALERTMANAGER_PEERS} members")


def test_both_replicas_send_to_every_peer_and_the_receiver_gets_one_notification(cluster):
    for url in cluster["prometheus"]:
        active = wait_until(
            lambda: (found := http_json(f"{url}/api/v1/alertmanagers")["data"]["activeAlertmanagers"])
            and len(found) == ALERTMANAGER_PEERS and found, 20, "three Alertmanagers active")
        assert len(active) == ALERTMANAGER_PEERS
        # Each replica carries its own replica label.
        labels = http_json(f"{url}/api/v1/status/config")["data"]["yaml"]
        assert f"{REPLICA_LABEL}: prometheus-" in labels

    def every_peer_holds_the_watchdog():
        held = [[a for a in http_json(f"{url}/api/v2/alerts") if a["labels"]["alertname"] == "Watchdog"]
                for url in cluster["urls"]]
        return held if all(len(alerts) == 1 for alerts in held) else None

    # Each peer holds one Watchdog (the replicas' copies are the same alert), without the replica label.
    held = wait_until(every_peer_holds_the_watchdog, 30, "the Watchdog on every peer")
    assert all(REPLICA_LABEL not in alerts[0]["labels"] for alerts in held)
    # Every replica has sent to every peer.
    peers = sorted(f"{peer}/api/v2/alerts" for peer in cluster["urls"])
    for url in cluster["prometheus"]:
        wait_until(lambda: sorted(u for u, n in notifications_sent(url).items() if n > 0) == peers, 20,
                   f"{url} sending to every peer")

    receiver = cluster["receiver"]
    first = receiver.wait_for(notification("Watchdog", "firing", "heartbeat"), 30, "the Watchdog notification")
    # Every peer's turn passes (peer i waits i peer timeouts, then reads the shared notification log).
    time.sleep(ALERTMANAGER_PEERS * PEER_TIMEOUT_S + 3)
    deliveries = firing(receiver, "Watchdog", "heartbeat")
    assert len(deliveries) == 1, [d.body["alerts"] for d in deliveries]
    assert [a["labels"].get(REPLICA_LABEL) for a in first.body["alerts"]] == [None]


def test_losing_a_peer_and_a_replica_loses_no_notification(cluster):
    receiver = cluster["receiver"]
    assert not firing(receiver, "NodeTargetDown", "critical")
    for process in (cluster["peers"][0], cluster["replicas"][0]):
        process.terminate()
        process.wait(timeout=15)
    cluster["mock"].set_fault("down")
    receiver.wait_for(notification("NodeTargetDown", "firing", "critical"), 60, "NodeTargetDown from the survivors")
    time.sleep(ALERTMANAGER_PEERS * PEER_TIMEOUT_S + 3)
    deliveries = firing(receiver, "NodeTargetDown", "critical")
    assert len(deliveries) == 1, [d.body["alerts"] for d in deliveries]
    alert = next(a for a in deliveries[0].body["alerts"] if a["labels"]["alertname"] == "NodeTargetDown")
    assert (alert["labels"]["pod"], alert["labels"]["namespace"], REPLICA_LABEL in alert["labels"]) == (
        "mock-node-0", "monitoring", False)
