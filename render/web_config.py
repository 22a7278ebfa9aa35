"""The Prometheus web configuration file (`--web.config.file`) of every service whose HTTP server is
exporter-toolkit's: Prometheus, Alertmanager, the Pushgateway and the node, blackbox, postgres and
dcgm exporters - and of the mock exporters, which read the same keys (mock_exporter/webconfig.py).
It holds the TLS server settings and the basic-auth users with their bcrypt hashes.

Keys as exporter-toolkit documents them (docs/web-configuration.md) for the versions these tools
vendor: v0.8 in Prometheus 2.42 / Alertmanager 0.25 (Debian, what the tests run) up to v0.14 in
Prometheus 3.5 / Alertmanager 0.28 (the pinned images); `tls_server_config.min_version` and
`basic_auth_users` exist in all of them.

The hashes derive from Pulumi secrets, so the rendered file reaches the container as a secret file;
this module stays pure (the caller passes the passwords).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Mapping

import bcrypt

from settings.model import StackSettings
from settings.security import WEB_CONFIG_SERVICES

SECRETS_DIR = "/run/secrets"
# File names under the secrets directory (the same on every platform).
CA_FILE = "ca.crt"
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
WEB_CONFIG_FILE = "web-config.yml"
CLIENT_PASSWORD_FILE = "web_client_password"
# `Basic <base64(user:password)>` of the client user: what a health check sends (never in a pod spec).
HEALTH_AUTHORIZATION_FILE = "health_authorization"

# bcrypt's cost: exporter-toolkit checks a password once per connection and caches the result.
BCRYPT_COST = 10
_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def bcrypt_hash(user: str, password: str) -> str:
    """bcrypt of `password` with a salt derived from the user and the password themselves.

    A random salt would give a new web configuration, hence a restarted service, at every
    `pulumi up`; a derived salt keeps the file stable until the password changes and still differs
    between users and passwords."""
    digest = hashlib.sha256(f"monitoring-web-config\0{user}\0{password}".encode()).digest()
    # 22 characters of bcrypt's base64: 21 full ones and a last one carrying 2 bits (0, 16, 32 or 48).
    salt = "".join(_BCRYPT_ALPHABET[byte % 64] for byte in digest[:21]) + _BCRYPT_ALPHABET[(digest[21] % 4) * 16]
    return bcrypt.hashpw(password.encode(), f"$2b${BCRYPT_COST:02d}${salt}".encode()).decode()


def tls_on(settings: StackSettings) -> bool:
    return settings.security.tls.enabled


def auth_on(settings: StackSettings) -> bool:
    return settings.security.auth.enabled


# Mock exporters are keyed `mock-<exporter>` (their service name) wherever TLS is decided.
MOCK_PREFIX = "mock-"
# Servers reading the same file besides WEB_CONFIG_SERVICES (the ones users can be listed for):
# dcgm-exporter (exporter-toolkit v0.16 in 4.8.2: `--web-config-file`) and every mock exporter.
WEB_CONFIG_FLAGS = {"dcgm": "--web-config-file"}
DEFAULT_WEB_CONFIG_FLAG = "--web.config.file"
MOCK_WEB_CONFIG_FLAG = "--web-config-file"


def is_mock(service: str) -> bool:
    return service.startswith(MOCK_PREFIX)


def reads_web_config(service: str) -> bool:
    """Whether `service`'s server reads a web configuration file (whatever the settings)."""
    return service in WEB_CONFIG_SERVICES or service in WEB_CONFIG_FLAGS or is_mock(service)


def serves_web_config(settings: StackSettings, service: str) -> bool:
    """Whether `service` (a stack service, an exporter name or `mock-<exporter>`) gets a web configuration file."""
    return tls_on(settings) and reads_web_config(service)


def web_users(settings: StackSettings, service: str) -> list[str]:
    """The users allowed on `service`: the stack's client user, then the listed users it names."""
    if not auth_on(settings):
        return []
    auth = settings.security.auth
    return [auth.client_user] + [user.name for user in auth.users if service in user.services]


def render_web_config(
    settings: StackSettings, service: str, passwords: Mapping[str, str], secrets_dir: str = SECRETS_DIR
) -> dict[str, Any]:
    """The web configuration of `service`; `passwords` maps every user of `web_users` to its password."""
    document: dict[str, Any] = {
        "tls_server_config": {
            "cert_file": f"{secrets_dir}/{CERT_FILE}",
            "key_file": f"{secrets_dir}/{KEY_FILE}",
            "min_version": "TLS12",
        }
    }
    users = web_users(settings, service)
    if missing := [user for user in users if user not in passwords]:
        raise ValueError(f"no password for web user(s) {', '.join(missing)} of {service}: see web_user_passwords")
    if users:
        document["basic_auth_users"] = {user: bcrypt_hash(user, passwords[user]) for user in users}
    return document


def health_authorization(settings: StackSettings, client_password: str) -> str:
    """The Authorization header value of the client user (what health checks read from a file)."""
    token = base64.b64encode(f"{settings.security.auth.client_user}:{client_password}".encode()).decode()
    return f"Basic {token}"


def web_config_flag(settings: StackSettings, service: str, secrets_dir: str = SECRETS_DIR) -> tuple[str, ...]:
    """`--web.config.file=...` (the service's spelling of it) for a service that serves one, nothing otherwise."""
    if not serves_web_config(settings, service):
        return ()
    flag = MOCK_WEB_CONFIG_FLAG if is_mock(service) else WEB_CONFIG_FLAGS.get(service, DEFAULT_WEB_CONFIG_FLAG)
    return (f"{flag}={secrets_dir}/{WEB_CONFIG_FILE}",)
