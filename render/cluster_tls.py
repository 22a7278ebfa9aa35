"""Alertmanager's gossip over mutual TLS (`--cluster.tls-config`), when TLS is on and the peers mesh.

The file's format is Alertmanager's `cluster.TLSTransportConfig` (cluster/tls_config.go, the same in
v0.25.0, Debian's, and v0.28.1, the pinned image): `tls_server_config` is exporter-toolkit's
`web.TLSConfig` (the keys of `--web.config.file`'s `tls_server_config`), `tls_client_config` is
prometheus/common's `config.TLSConfig`. With it, memberlist's packets and streams both go over TLS
on TCP (cluster/tls_transport.go): the mesh port carries no UDP any more.

Every peer serves and dials with the one Alertmanager certificate. A joining peer must present a
certificate the stack's CA signed for client authentication (only Alertmanager's certificate
carries `client_auth`, components/certificates.py) that names `alertmanager` (`client_allowed_sans`,
exporter-toolkit v0.10+, i.e. Alertmanager 0.26+); a dialing peer checks the other's certificate
for the name `alertmanager`, whatever address memberlist dials: it resolves the peers' stable
names (`--cluster.peer`) to pod IPs before it dials, so the name to check cannot come from the
address.

The file holds only paths (the certificate, key and CA are secret files): a plain config file.
"""

from __future__ import annotations

from typing import Any

from render.tls_clients import server_name
from render.web_config import CA_FILE, CERT_FILE, KEY_FILE, SECRETS_DIR, tls_on
from services.high_availability import replicated
from settings.model import StackSettings

CLUSTER_TLS_FILE = "cluster-tls.yml"
# The service whose replicas gossip (the only one whose certificate also authenticates a client).
GOSSIP_SERVICE = "alertmanager"


def gossip_tls_on(settings: StackSettings) -> bool:
    """Whether Alertmanager's peers gossip over mutual TLS: TLS on, and several peers (a cluster).
    A single Alertmanager (Docker) has no mesh (`--cluster.listen-address=`)."""
    return tls_on(settings) and replicated(settings)


def authenticates_clients(settings: StackSettings, service: str) -> bool:
    """Whether `service`'s certificate must also be valid for client authentication (`client_auth`):
    Alertmanager's, when its peers dial each other with it."""
    return service == GOSSIP_SERVICE and gossip_tls_on(settings)


def render_cluster_tls_config(settings: StackSettings, secrets_dir: str = SECRETS_DIR) -> dict[str, Any]:
    """The `--cluster.tls-config` document: serve with the peer's certificate and require a client
    certificate from the stack's CA naming Alertmanager; dial with the same certificate and check
    the other peer's against the CA by Alertmanager's name."""
    name = server_name(settings, GOSSIP_SERVICE)
    cert, key, ca = (f"{secrets_dir}/{CERT_FILE}", f"{secrets_dir}/{KEY_FILE}", f"{secrets_dir}/{CA_FILE}")
    return {
        "tls_server_config": {
            "cert_file": cert,
            "key_file": key,
            "client_auth_type": "RequireAndVerifyClientCert",
            "client_ca_file": ca,
            "client_allowed_sans": [name],
            "min_version": "TLS12",
        },
        "tls_client_config": {
            "cert_file": cert,
            "key_file": key,
            "ca_file": ca,
            "server_name": name,
            "insecure_skip_verify": False,
        },
    }


def cluster_tls_flag(config_dir: str) -> str:
    return f"--cluster.tls-config={config_dir}/{CLUSTER_TLS_FILE}"
