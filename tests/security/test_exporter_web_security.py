"""dcgm-exporter and redis_exporter serve TLS and basic authentication with the stack's, through the
options their pinned versions have (tests/security/upstream/exporter-web-security.yaml, read from
NVIDIA/dcgm-exporter 4.5.3-4.8.2 and oliver006/redis_exporter v1.88.0):

- dcgm-exporter reads the rendered web configuration (exporter-toolkit v0.16) with `--web-config-file`;
- redis_exporter gets its certificate and key with `--tls-server-*` and one user with
  `--basic-auth-username` plus the bcrypt hash in REDIS_EXPORTER_BASIC_AUTH_HASH_PASSWORD - a secret
  environment variable, since no file option exists - and never a password on its command line;
- the real Debian redis_exporter serves HTTPS with those TLS flags and the certificate the program
  names `redis-exporter`. Debian's binary is 1.45.0, older than the basic-auth flags (added upstream
  later, present in v1.88.0): its basic auth is proven against the upstream source only.

Mutations checked (each fails a test here): dcgm's flag spelt `--web.config.file` (the exporter-toolkit
default; WEB_CONFIG_FLAGS emptied in render/web_config.py); the redis TLS flags misspelt or dropped;
the hash passed as `--basic-auth-hash-password` on the command line; redis dropped from
FLAG_TLS_EXPORTERS (render/tls_clients.py: no flags, a plain scrape job).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from exporters.catalog import EXPORTERS
from render.exporters import exporter_scrape_jobs
from render.tls_clients import basic_auth_hash_secret, certificate_names
from render.web_config import CA_FILE, SECRETS_DIR
from services.exporters import exporter_services
from services.topology import internal_endpoints
from settings import parse_settings
from tests.e2e.procs import Processes, free_port, wait_until
from tests.exporters.conftest import require_binary
from tests.security.certs import LocalCa
from tests.security.test_tls_e2e import context_for, get

UPSTREAM = yaml.safe_load((Path(__file__).parent / "upstream" / "exporter-web-security.yaml").read_text())
REDIS_EXPORTER = "/usr/bin/prometheus-redis-exporter"
REDIS_SERVER = "/usr/bin/redis-server"
SETTINGS = parse_settings(
    {
        "exporters": {"allow_out_of_order": True, "dcgm": {"mode": "real"}, "redis": {"mode": "real"}},
        "security": {"tls": {"mode": "generated"}, "auth": {"enabled": True}},
    },
    "exporter-tls",
)


def flag_names(command: tuple[str, ...]) -> list[str]:
    return [arg.lstrip("-").split("=", 1)[0] for arg in command if arg.startswith("--")]


def test_the_inventory_is_of_the_pinned_versions():
    assert EXPORTERS["dcgm"].image.split(":")[1].startswith(UPSTREAM["dcgm"]["tag"])
    assert EXPORTERS["redis"].image.endswith(":" + UPSTREAM["redis"]["tag"])


def test_dcgm_exporter_reads_the_web_configuration_with_its_own_flag():
    spec = exporter_services(SETTINGS, "image")["dcgm"]
    web = [arg for arg in spec.command if "web-config" in arg or "web.config" in arg]
    assert web == [f"--web-config-file={SECRETS_DIR}/web-config.yml"]
    assert set(flag_names(tuple(web))) <= set(UPSTREAM["dcgm"]["flags"])
    assert {f.file_name for f in spec.secret_files} >= {"web-config.yml", "tls.crt", "tls.key", "health_authorization"}
    assert spec.health.scheme == "https" and spec.health.authorization_file


def test_redis_exporter_serves_tls_and_one_user_with_flags_it_has_and_no_password_on_its_command_line():
    spec = exporter_services(SETTINGS, "image")["redis"]
    web_flags = [name for name in flag_names(spec.command) if name.startswith(("tls-server", "basic-auth"))]
    assert set(web_flags) == {"tls-server-cert-file", "tls-server-key-file", "tls-server-min-version",
                              "basic-auth-username"}
    assert set(web_flags) <= set(UPSTREAM["redis"]["flags"])
    assert f"--tls-server-min-version={UPSTREAM['redis']['min_versions'][0]}" in spec.command
    assert not any("password" in name for name in flag_names(spec.command))
    assert spec.secret_env["REDIS_EXPORTER_BASIC_AUTH_HASH_PASSWORD"] == basic_auth_hash_secret("redis-exporter")
    assert set(spec.secret_env) - {"REDIS_PASSWORD"} <= set(UPSTREAM["redis"]["env"])
    assert "REDIS_EXPORTER_BASIC_AUTH_HASH_PASSWORD" not in spec.env
    assert {f.file_name for f in spec.secret_files} >= {"tls.crt", "tls.key", "health_authorization"}


def test_both_scrape_jobs_are_https_with_the_client_user():
    jobs = {job["job_name"]: job for job in exporter_scrape_jobs(SETTINGS, internal_endpoints(SETTINGS))}
    for exporter, name in (("dcgm", "dcgm-exporter"), ("redis", "redis-exporter")):
        assert jobs[exporter]["scheme"] == "https" and jobs[exporter]["tls_config"]["server_name"] == name
        assert jobs[exporter]["basic_auth"]["username"] == SETTINGS.security.auth.client_user


@pytest.mark.e2e
@pytest.mark.real_exporters
def test_the_debian_redis_exporter_serves_tls_with_the_rendered_flags(tmp_path):
    """The flags of the spec (secrets directory rewritten) given to Debian's redis_exporter 1.45.0,
    less the basic-auth ones it predates; the certificate carries the names the program gives
    `redis-exporter`, checked by that name as Prometheus' `server_name` does."""
    exporter, redis = require_binary(REDIS_EXPORTER), require_binary(REDIS_SERVER)
    help_text = subprocess.run([exporter, "--help"], capture_output=True, text=True).stderr
    spec = exporter_services(SETTINGS, "image")["redis"]
    secrets = tmp_path / "secrets"
    ca = LocalCa.create()
    ca.write_service(secrets, "redis-exporter", *certificate_names(SETTINGS, "redis-exporter"))
    (secrets / CA_FILE).write_bytes(ca.pem)
    tls_flags = [arg.replace(f"{SECRETS_DIR}/", f"{secrets}/") for arg in spec.command if arg.startswith("--tls-server")]
    assert len(tls_flags) == 3 and all(f"-{name}" in help_text for name in flag_names(tuple(tls_flags)))
    assert "basic-auth-username" not in help_text  # Debian's 1.45.0 predates it: proven upstream only
    redis_port, port = free_port(), free_port()
    processes = Processes()
    try:
        processes.start([redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                        tmp_path / "redis.log")
        processes.start([exporter, f"--redis.addr=redis://127.0.0.1:{redis_port}",
                         f"--web.listen-address=127.0.0.1:{port}", *tls_flags], tmp_path / "exporter.log")
        context = context_for(secrets / CA_FILE, "redis-exporter")
        # Until redis-server listens the exporter answers `redis_up 0`: wait for both, not a start order.
        status, body = wait_until(lambda: (answer := get(f"https://127.0.0.1:{port}/metrics", context))[0] == 200
                                  and b"redis_up 1" in answer[1] and answer, 30, "redis_exporter over TLS, redis up")
        assert status == 200 and b"redis_up 1" in body
        assert get(f"http://127.0.0.1:{port}/metrics")[0] == 400
    finally:
        processes.stop_all()
