"""Alertmanager's gossip over mutual TLS for real: three Debian Alertmanagers (0.25) started with the
prod shape's rendered arguments and the delivered `cluster-tls.yml` (render/cluster_tls.py) form one
cluster and share a silence; a fourth Alertmanager does not get in when it gossips in clear, speaks TLS without a client
certificate, presents a certificate from another CA, or presents the stack CA's certificate of
another service (which is valid for server authentication only).

Rewrites, besides those of test_ha_cluster (loopback ports for the peers' stable names, local
paths): `/run/secrets` becomes this test's secrets directory, `--web.config.file` is dropped (the
HTTPS web side is proven in tests/security; here the API is read over plain HTTP), and
`client_allowed_sans` is dropped when the local Alertmanager is older than 0.26 (its exporter-toolkit
v0.8.2 rejects the key as unknown; the pinned v0.28.1's v0.13.2 reads it). The certificates carry the
program's names (render.tls_clients.certificate_names) and, for Alertmanager, the client-auth use the
program gives it (render.cluster_tls.authenticates_clients).

Mutations checked (each makes a test here fail):
- `--cluster.tls-config` not added (services/cluster.py): the peers gossip in clear, the plain
  intruder joins;
- `client_auth_type: RequireAndVerifyClientCert` removed: the foreign-CA and server-only intruders join;
- `server_name` removed from `tls_client_config`: peers dial 127.0.0.1 and the certificate names no
  IP, so the three never form a cluster;
- `client_auth` not in Alertmanager's certificate (authenticates_clients returning False): the peers
  refuse each other.
"""

from __future__ import annotations

import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from render.cluster_tls import CLUSTER_TLS_FILE, authenticates_clients
from render.tls_clients import certificate_names
from render.web_config import CA_FILE, CERT_FILE, KEY_FILE, SECRETS_DIR
from services.cluster import for_platform
from services.core import core_services
from services.high_availability import ALERTMANAGER_PEERS
from settings import parse_settings
from tests.e2e.procs import (
    ALERTMANAGER_BINARY, Processes, fast_settings, free_port, http_json, http_ok, wait_until, write_alertmanager_config,
)
from tests.kubernetes.k8s_render import raw_on_platform
from tests.kubernetes.test_ha_cluster import loopback_alertmanager_args
from tests.security.certs import LocalCa

pytestmark = pytest.mark.e2e

RAW = raw_on_platform(fast_settings(alerting={"receivers": {"webhook": {}}}).model_dump(mode="json"), "kubernetes")
RAW["security"] = {"tls": {"mode": "generated"}}
SETTINGS = parse_settings(RAW, "gossip-tls")
SPEC = for_platform(SETTINGS, core_services(SETTINGS))["alertmanager"]
# Long enough for a refused join to have been tried and retried (memberlist's first push/pull).
INTRUDER_WAIT_S = 8


def local_version() -> tuple[int, int]:
    out = subprocess.run([ALERTMANAGER_BINARY, "--version"], capture_output=True, text=True, check=True)
    major, minor = re.search(r"version (\d+)\.(\d+)", out.stdout + out.stderr).groups()
    return int(major), int(minor)


def write_cluster_tls(secrets: Path, path: Path, certificate: bool = True) -> Path:
    """The delivered cluster-tls.yml with the secrets directory rewritten to `secrets` (without a
    client certificate to present: `certificate=False`)."""
    document = yaml.safe_load(SPEC.file(CLUSTER_TLS_FILE).content)
    if not certificate:
        for key in ("cert_file", "key_file"):
            document["tls_client_config"].pop(key)
    for side in document.values():
        for key, value in side.items():
            if isinstance(value, str) and value.startswith(f"{SECRETS_DIR}/"):
                side[key] = str(secrets / value.removeprefix(f"{SECRETS_DIR}/"))
    if local_version() < (0, 26):
        document["tls_server_config"].pop("client_allowed_sans")
    path.write_text(yaml.safe_dump(document, sort_keys=True))
    return path


def secrets_dir(directory: Path, ca: LocalCa, cert_ca: LocalCa, service: str, client_auth: bool) -> Path:
    """ca.crt of the stack's CA, and tls.crt/tls.key issued by `cert_ca` with `service`'s names."""
    dns, ips = certificate_names(SETTINGS, service)
    cert_ca.write_service(directory, service, dns, ips, client_auth=client_auth)
    (directory / CA_FILE).write_bytes(ca.pem)
    return directory


def peer_args(workdir: Path, config: Path, web_port: int, gossip_ports: list[int], ordinal: int,
              cluster_tls: Path | None) -> list[str]:
    args = []
    for arg in loopback_alertmanager_args(SPEC.command, workdir, config, web_port, gossip_ports, ordinal):
        flag = arg.split("=", 1)[0]
        if flag == "--web.config.file":
            continue
        if flag == "--cluster.tls-config":
            if cluster_tls is None:
                continue
            arg = f"--cluster.tls-config={cluster_tls}"
        args.append(arg)
    return args


def status_peers(url: str) -> int:
    return len(http_json(f"{url}/api/v2/status")["cluster"].get("peers") or [])


def silence(url: str, alertname: str) -> str:
    body = {"matchers": [{"name": "alertname", "value": alertname, "isRegex": False}],
            "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
            "createdBy": "test", "comment": "gossip over TLS"}
    return http_json(f"{url}/api/v2/silences", "POST", body)["silenceID"]


def silence_ids(url: str) -> set[str]:
    return {s["id"] for s in http_json(f"{url}/api/v2/silences")}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("gossip-tls")
    ca, foreign = LocalCa.create(), LocalCa.create("another CA")
    own = secrets_dir(workdir / "secrets-alertmanager", ca, ca, "alertmanager",
                      authenticates_clients(SETTINGS, "alertmanager"))
    intruders = {
        "plain": None,
        # TLS, trusting the stack's CA, but no client certificate.
        "no-certificate": secrets_dir(workdir / "secrets-none", ca, ca, "alertmanager", True),
        "foreign-ca": secrets_dir(workdir / "secrets-foreign", ca, foreign, "alertmanager", True),
        # What the program issues every other service: the stack's CA, server authentication only.
        "server-only": secrets_dir(workdir / "secrets-prometheus", ca, ca, "prometheus",
                                   authenticates_clients(SETTINGS, "prometheus")),
    }
    processes = Processes()
    try:
        config = write_alertmanager_config(SETTINGS, workdir, "http://127.0.0.1:9/webhook")
        total = ALERTMANAGER_PEERS + len(intruders)
        web_ports = [free_port() for _ in range(total)]
        gossip_ports = [free_port() for _ in range(total)]
        own_tls = write_cluster_tls(own, workdir / "cluster-tls-alertmanager.yml")
        urls = []
        for i in range(ALERTMANAGER_PEERS):
            processes.start([ALERTMANAGER_BINARY, *peer_args(workdir, config, web_ports[i], gossip_ports, i, own_tls)],
                            workdir / f"alertmanager-{i}.log")
            urls.append(f"http://127.0.0.1:{web_ports[i]}")
        for url in urls:
            wait_until(lambda: http_ok(f"{url}/-/ready"), 30, f"Alertmanager {url} ready")
        intruder_urls = {}
        for offset, (name, secrets) in enumerate(intruders.items()):
            i = ALERTMANAGER_PEERS + offset
            tls = write_cluster_tls(secrets, workdir / f"cluster-tls-{name}.yml", name != "no-certificate") if secrets else None
            args = peer_args(workdir, config, web_ports[i], gossip_ports, 0, tls)
            # Its own addresses and storage; it asks to join the peers by their gossip ports.
            args = [a for a in args if not a.startswith(("--cluster.listen-address", "--cluster.advertise-address",
                                                          "--storage.path"))]
            args += [f"--cluster.listen-address=127.0.0.1:{gossip_ports[i]}",
                     f"--cluster.advertise-address=127.0.0.1:{gossip_ports[i]}",
                     f"--storage.path={workdir / f'intruder-{name}'}"]
            processes.start([ALERTMANAGER_BINARY, *args], workdir / f"intruder-{name}.log")
            intruder_urls[name] = f"http://127.0.0.1:{web_ports[i]}"
        for name, url in intruder_urls.items():
            wait_until(lambda: http_ok(f"{url}/-/ready"), 30, f"intruder {name} ready")
        yield {"urls": urls, "intruders": intruder_urls, "workdir": workdir}
    finally:
        processes.stop_all()


def test_rendered_peers_form_one_cluster_over_tls_and_share_silences(mesh):
    urls = mesh["urls"]
    for url in urls:
        wait_until(lambda: status_peers(url) == ALERTMANAGER_PEERS, 30, f"{url} sees {ALERTMANAGER_PEERS} peers")
        assert http_json(f"{url}/api/v2/status")["cluster"]["status"] == "ready"
    created = silence(urls[0], "GossipOverTls")
    for url in urls[1:]:
        wait_until(lambda: created in silence_ids(url), 20, f"the silence reaching {url}")
    # The gossip went through the TLS transport (its own counters, cluster/tls_transport.go).
    for url in urls:
        assert tls_packet_bytes(url) > 0, url


def tls_packet_bytes(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=2) as response:
        text = response.read().decode()
    return sum(float(v) for v in re.findall(r"^alertmanager_tls_transport_packet_bytes_sent_total (\S+)$", text, re.M))


def test_no_intruder_joins_the_mesh(mesh):
    urls, intruders = mesh["urls"], mesh["intruders"]
    # Each intruder has asked peer 0 to join by now; give memberlist time to retry.
    wait_until(lambda: all(status_peers(url) == ALERTMANAGER_PEERS for url in urls), 30, "the three peers")
    time.sleep(INTRUDER_WAIT_S)
    assert [status_peers(url) for url in urls] == [ALERTMANAGER_PEERS] * ALERTMANAGER_PEERS
    for name, url in intruders.items():
        assert status_peers(url) <= 1, f"intruder {name} sees the mesh"
        if name != "plain":
            # Refused by the peer's server (TLS alert bad_certificate), not by the intruder's own check.
            log = (mesh["workdir"] / f"intruder-{name}.log").read_text()
            assert "remote error: tls: bad certificate" in log, log[-2000:]
    # Nothing an intruder holds reaches the mesh, and nothing of the mesh reaches an intruder.
    planted = {name: silence(url, f"Planted-{name}") for name, url in intruders.items()}
    ours = silence(urls[1], "OnlyForPeers")
    wait_until(lambda: all(ours in silence_ids(url) for url in urls), 20, "the peers' silence on every peer")
    time.sleep(3)
    for url in urls:
        assert not set(planted.values()) & silence_ids(url), f"an intruder's silence reached {url}"
    for name, url in intruders.items():
        assert ours not in silence_ids(url), f"the peers' silence reached intruder {name}"
