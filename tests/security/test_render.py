"""TLS, authentication and single sign-on as settings and rendered documents (no processes): the
settings' one-line errors, the secrets each setting needs, the web configuration and its hashes,
every client's side (prometheus.yml, Loki's ruler, the collectors, blackbox), health checks that
carry no credential, and grafana.ini / ldap.toml keys checked against Grafana's documented ones."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from logs.alloy import render_alloy_config
from logs.loki import render_loki_config
from logs.promtail import render_promtail_config
from platforms.docker import health_test
from platforms.kubernetes_objects import probes
from render.exporters import STACK_PROBE_MODULE, render_blackbox_config
from render.grafana_auth import render_grafana_security, render_ldap_toml, role_attribute_path
from render.prometheus import render_prometheus_config
from render.tls_clients import certificate_names, prometheus_client
from render.web_config import bcrypt_hash, render_web_config, web_users
from services.core import core_services
from services.exporters import exporter_services
from services.topology import internal_endpoints
from settings import SettingsError, parse_settings
from settings.secrets import needed_secrets
from tests.conftest import stack_settings

INVENTORY = yaml.safe_load((Path(__file__).parent / "upstream" / "grafana-11.6-auth-keys.yaml").read_text())
ON = {"tls": {"mode": "generated"}, "auth": {"enabled": True, "users": [{"name": "alice", "services": ["prometheus"]}]}}
EXPORTERS_ON = {
    "node": {"mode": "real", "targets": ["db-1:9100"]},
    "blackbox": {"mode": "real", "http_probes": ["https://example.org/health"]},
    "pushgateway": {"mode": "real"},
    "vllm": {"mode": "mock"},
}


def settings(security: dict | None = None, **raw: Any):
    return parse_settings({**raw, **({"security": security} if security is not None else {})}, "staging")


def config_of(value) -> dict:
    return render_prometheus_config(value, internal_endpoints(value))


# --- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "security, line",
    [
        ({"auth": {"enabled": True}},
         "monitoring:security.auth.enabled: true sends passwords in clear while tls.mode is off: set tls.mode"),
        ({"tls": {"mode": "generated", "cert_validity_days": 30, "renew_before_days": 30}},
         "monitoring:security.tls.renew_before_days: 30 is not below cert_validity_days 30"),
        ({"tls": {"mode": "https"}}, "monitoring:security.tls.mode"),
        ({"tls": {"mod": "generated"}}, "monitoring:security.tls.mod: unknown setting"),
        ({"sso": {"disable_login_form": True}},
         "monitoring:security.sso.disable_login_form: true needs sso.oauth: without it no one could sign in"),
        ({"sso": {"oauth": {"client_id": "grafana"}}},
         "monitoring:security.sso.oauth.auth_url: null is required for provider generic"),
        ({"tls": {"mode": "generated"}, "auth": {"enabled": True, "users": [{"name": "monitoring", "services": ["prometheus"]}]}},
         "monitoring:security.auth.users: \"monitoring\" is listed twice"),
        ({"auth": {"users": [{"name": "bob", "services": ["prometheus", "grafana"]}]}},
         "monitoring:security.auth.users[0].services[1]: \"grafana\" is not allowed"),
    ],
)
def test_bad_security_settings_are_one_line_naming_key_and_value(security, line):
    with pytest.raises(SettingsError) as raised:
        settings(security)
    assert len(raised.value.lines) == 1 and raised.value.lines[0].startswith(line), raised.value.lines


def test_each_secret_is_needed_exactly_when_its_setting_asks_for_it():
    def keys(value) -> set[str]:
        return {spec.key for spec in needed_secrets(value)}

    security_keys = {"web_client_password", "web_user_passwords", "tls_ca_certificate", "tls_ca_private_key",
                     "grafana_oauth_client_secret", "grafana_ldap_bind_password"}
    assert not keys(settings()) & security_keys
    assert keys(settings({"tls": {"mode": "generated"}})) & security_keys == set()
    assert keys(settings(ON)) & security_keys == {"web_client_password", "web_user_passwords"}
    assert keys(settings({"tls": {"mode": "provided"}})) & security_keys == {"tls_ca_certificate", "tls_ca_private_key"}
    sso = {"oauth": {"provider": "github", "client_id": "id"},
           "ldap": {"host": "ldap", "bind_dn": "cn=g", "search_base_dns": ["dc=x"]}}
    assert keys(settings({"sso": sso})) & security_keys == {"grafana_oauth_client_secret", "grafana_ldap_bind_password"}


def test_staging_keeps_tls_off_and_prod_turns_tls_and_auth_on():
    assert not stack_settings("staging").security.tls.enabled
    prod = stack_settings("prod").security
    assert prod.tls.mode == "generated" and prod.auth.enabled


# --- the web configuration -----------------------------------------------------------------------


def test_web_config_serves_tls_and_lists_the_bcrypt_hash_of_each_allowed_user():
    value = settings(ON)
    passwords = {"monitoring": "client-pw", "alice": "alice-pw"}
    document = render_web_config(value, "prometheus", passwords, secrets_dir="/s")
    assert document["tls_server_config"] == {"cert_file": "/s/tls.crt", "key_file": "/s/tls.key", "min_version": "TLS12"}
    users = document["basic_auth_users"]
    assert set(users) == {"monitoring", "alice"}
    assert all(bcrypt.checkpw(passwords[user].encode(), hashed.encode()) for user, hashed in users.items())
    assert not bcrypt.checkpw(b"alice-pw", users["monitoring"].encode())
    # alice is listed for Prometheus only.
    assert set(render_web_config(value, "alertmanager", passwords)["basic_auth_users"]) == {"monitoring"}
    assert web_users(settings({"tls": {"mode": "generated"}}), "prometheus") == []


def test_hashes_are_stable_for_a_password_and_differ_between_users_and_passwords():
    assert bcrypt_hash("monitoring", "pw") == bcrypt_hash("monitoring", "pw")
    assert len({bcrypt_hash("monitoring", "pw"), bcrypt_hash("alice", "pw"), bcrypt_hash("monitoring", "pw2")}) == 3


def test_a_user_without_a_password_is_an_error_naming_it():
    with pytest.raises(ValueError, match="alice"):
        render_web_config(settings(ON), "prometheus", {"monitoring": "pw"})


# --- clients: prometheus.yml -------------------------------------------------------------------------


def test_every_job_reaching_a_tls_service_has_the_ca_its_name_and_the_client_user():
    value = settings(ON, exporters=EXPORTERS_ON)
    jobs = {job["job_name"]: job for job in config_of(value)["scrape_configs"]}
    secured = {"prometheus", "alertmanager", "grafana", "node", "blackbox", "pushgateway", "blackbox-http"}
    for name in secured:
        assert jobs[name]["scheme"] == "https", name
        assert jobs[name]["tls_config"]["ca_file"] == "/run/secrets/ca.crt", name
        assert jobs[name]["basic_auth"] == {"username": "monitoring", "password_file": "/run/secrets/web_client_password"}
    assert jobs["node"]["tls_config"]["server_name"] == "node-exporter"
    # Loki serves TLS but has no basic-auth users of its own: no password is sent to it.
    assert jobs["loki"]["scheme"] == "https" and "basic_auth" not in jobs["loki"]
    # Mocks (and the collector) serve plain HTTP: never a credential towards them.
    for name in ("vllm-mock", "alloy"):
        assert "scheme" not in jobs[name] and "basic_auth" not in jobs[name], name
    [alerting] = config_of(value)["alerting"]["alertmanagers"]
    assert alerting["scheme"] == "https" and alerting["basic_auth"]["username"] == "monitoring"
    assert alerting["tls_config"]["server_name"] == "alertmanager"


def test_the_users_own_targets_get_a_job_without_the_stacks_credentials():
    value = settings(ON, exporters=EXPORTERS_ON)
    jobs = {job["job_name"]: job for job in config_of(value)["scrape_configs"]}
    assert jobs["node-targets"]["static_configs"] == [{"targets": ["db-1:9100"]}]
    assert not {"scheme", "tls_config", "basic_auth"} & set(jobs["node-targets"])
    assert jobs["node"]["static_configs"] == [{"targets": [f"{value.docker.gateway}:9100"]}]


def test_blackbox_probes_only_the_stacks_tls_endpoints_with_the_stack_module():
    value = settings(ON, exporters=EXPORTERS_ON)
    job = next(job for job in config_of(value)["scrape_configs"] if job["job_name"] == "blackbox-http")
    own, user = job["static_configs"]
    assert own["labels"] == {"__tmp_probe_module": STACK_PROBE_MODULE}
    assert all(target.startswith("https://") for target in own["targets"])
    # The user's URLs (and the stack's plain-HTTP services) without the module holding the password.
    assert "labels" not in user and "https://example.org/health" in user["targets"]
    assert not set(user["targets"]) & set(own["targets"])
    module = render_blackbox_config(value)["modules"][STACK_PROBE_MODULE]["http"]
    assert module["tls_config"] == {"ca_file": "/run/secrets/ca.crt"}
    assert module["basic_auth"]["password_file"] == "/run/secrets/web_client_password"
    assert "basic_auth" not in render_blackbox_config(value)["modules"]["http_2xx"]["http"]


def test_with_tls_off_no_document_mentions_tls_or_credentials():
    value = settings(exporters=EXPORTERS_ON)
    text = yaml.safe_dump(config_of(value)) + yaml.safe_dump(render_loki_config(value, internal_endpoints(value), 3100))
    assert "https" not in text.replace("https://example.org", "") and "tls_config" not in text and "basic_auth" not in text
    assert STACK_PROBE_MODULE not in render_blackbox_config(value)["modules"]


# --- clients: Loki, the collectors ---------------------------------------------------------------


def test_loki_serves_tls_and_its_ruler_reaches_alertmanager_and_prometheus_with_ca_and_user():
    value = settings(ON)
    config = render_loki_config(value, internal_endpoints(value), 3100)
    assert config["server"]["http_tls_config"] == {"cert_file": "/run/secrets/tls.crt", "key_file": "/run/secrets/tls.key"}
    ruler = config["ruler"]
    assert ruler["alertmanager_url"] == "https://alertmanager:9093"
    assert ruler["alertmanager_client"] == {
        "tls_ca_path": "/run/secrets/ca.crt", "tls_server_name": "alertmanager",
        "basic_auth_username": "monitoring", "basic_auth_password": "${WEB_CLIENT_PASSWORD}",
    }
    [client] = ruler["remote_write"]["clients"].values()
    assert client["url"] == "https://prometheus:9090/api/v1/write"
    assert client["basic_auth"]["password_file"] == "/run/secrets/web_client_password"
    loki = core_services(value)["loki"]
    # The password reaches Loki as an environment variable it expands, from the secret.
    assert loki.secret_env["WEB_CLIENT_PASSWORD"] == "web_client_password" and "-config.expand-env=true" in loki.command


def test_the_collectors_push_to_loki_over_tls_with_the_ca():
    value = settings(ON)
    alloy = render_alloy_config(value, internal_endpoints(value), 12345)
    assert 'url = "https://loki:3100/loki/api/v1/push"' in alloy
    assert 'ca_file     = "/run/secrets/ca.crt"' in alloy or 'ca_file = "/run/secrets/ca.crt"' in alloy
    promtail = render_promtail_config(settings(ON, logs={"collector": "promtail"}), internal_endpoints(value), 9080)
    [client] = promtail["clients"]
    assert client["url"].startswith("https://") and client["tls_config"]["ca_file"] == "/run/secrets/ca.crt"


# --- services: secret files, health checks -------------------------------------------------------


def all_services(value):
    return {**core_services(value), **exporter_services(value, "registry.example.org/mock:1")}


def test_tls_services_get_certificate_key_and_web_config_as_secret_files_and_read_them():
    value = settings(ON, exporters=EXPORTERS_ON)
    services = all_services(value)
    for name in ("prometheus", "alertmanager", "node", "blackbox", "pushgateway"):
        spec = services[name]
        assert {f.file_name for f in spec.secret_files} >= {"tls.crt", "tls.key", "web-config.yml"}, name
        assert "--web.config.file=/run/secrets/web-config.yml" in spec.command, name
    assert {f.file_name for f in services["prometheus"].secret_files} >= {"ca.crt", "web_client_password"}
    assert not services["mock-vllm"].secret_files


def test_health_checks_use_https_and_read_the_header_from_a_file_never_a_password():
    value = settings(ON, exporters=EXPORTERS_ON)
    services = all_services(value)
    docker = health_test(services["prometheus"])
    assert docker[:3] == ["CMD", "sh", "-c"]
    assert "https://127.0.0.1:9090/-/ready" in docker[3] and '$(cat /run/secrets/health_authorization)' in docker[3]
    probe = probes(services["prometheus"])["livenessProbe"]
    assert "httpGet" not in probe and "$(cat /run/secrets/health_authorization)" in probe["exec"]["command"][2]
    # Grafana's /api/health needs no credentials: an HTTPS httpGet probe.
    assert probes(services["grafana"])["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    # Loki's image has no wget: the probe kit's busybox over HTTPS.
    assert health_test(services["loki"])[:3] == ["CMD", "/opt/probe-kit/busybox", "sh"]
    for spec in services.values():
        assert "client-pw" not in repr(spec)


def cluster_settings():
    from settings.model import StackSettings

    raw = {"platform": "kubernetes", "grafana": {"url": "https://grafana.example.org"},
           "exporters": {"mock_image": {"registry": "r.example.org/m"}}, "security": ON}
    if "backup" in StackSettings.model_fields:
        raw["backup"] = {"enabled": False}  # a cluster's backups need a bucket; not what is tested here
    return parse_settings(raw, "prod")


def test_certificates_name_every_address_of_the_service_on_each_platform():
    docker = settings(ON)
    assert certificate_names(docker, "node-exporter") == (["node-exporter"], [docker.docker.gateway])
    # Published services also name the host address users reach them at.
    assert certificate_names(docker, "alertmanager") == (["alertmanager", "localhost"], ["127.0.0.1"])
    cluster = cluster_settings()
    dns, ips = certificate_names(cluster, "alertmanager")
    assert {"alertmanager", "alertmanager.monitoring.svc", "*.alertmanager-peers.monitoring.svc",
            "*.alertmanager-peers.monitoring.svc.cluster.local"} <= set(dns) and ips == []
    assert "node-exporter.monitoring-host.svc" in certificate_names(cluster, "node-exporter")[0]
    assert prometheus_client(cluster, "alertmanager")["tls_config"]["server_name"] == "alertmanager"


# --- Grafana: HTTPS, single sign-on, ldap.toml ---------------------------------------------------


SSO_PROVIDERS = {
    "generic": {"provider": "generic", "client_id": "grafana", "auth_url": "https://idp.example.org/auth",
                "token_url": "https://idp.example.org/token", "api_url": "https://idp.example.org/userinfo",
                "groups_attribute_path": "groups", "allowed_groups": ["staff"]},
    "github": {"provider": "github", "client_id": "grafana", "allowed_organizations": ["example"]},
    "gitlab": {"provider": "gitlab", "client_id": "grafana", "allowed_groups": ["ops"]},
    "google": {"provider": "google", "client_id": "grafana", "allowed_domains": ["example.org"]},
    "azuread": {"provider": "azuread", "client_id": "grafana", "auth_url": "https://login.example.org/a",
                "token_url": "https://login.example.org/t", "allowed_groups": ["0000-aaaa"]},
}
LDAP = {"host": "ldap.example.org", "bind_dn": "cn=grafana,dc=example,dc=org", "search_base_dns": ["ou=people,dc=example,dc=org"],
        "group_search_base_dns": ["ou=groups,dc=example,dc=org"]}


def documented(section: str) -> set[str]:
    return set(INVENTORY["sections"].get(section, [])) | set(INVENTORY["added_since_9"].get(section, []))


@pytest.mark.parametrize("provider", sorted(SSO_PROVIDERS))
def test_every_rendered_grafana_key_is_one_grafana_documents(provider):
    value = settings({**ON, "sso": {"oauth": SSO_PROVIDERS[provider], "ldap": LDAP,
                                   "role_mapping": {"admins": "Admin", "editors": "Editor"}}})
    sections = render_grafana_security(value)
    assert f"auth.{'generic_oauth' if provider == 'generic' else provider}" in sections
    for section, keys in sections.items():
        unknown = set(keys) - documented(section)
        assert not unknown, f"[{section}] {sorted(unknown)} are not Grafana 11.6 keys"


def test_grafana_serves_https_keeps_the_break_glass_admin_and_reads_secrets_from_files():
    value = settings({**ON, "sso": {"oauth": SSO_PROVIDERS["generic"]}})
    sections = render_grafana_security(value)
    assert sections["server"] == {"protocol": "https", "cert_file": "/run/secrets/tls.crt", "cert_key": "/run/secrets/tls.key"}
    assert sections["auth"]["disable_login_form"] is False
    assert sections["auth.generic_oauth"]["client_secret"] == "$__file{/run/secrets/grafana_oauth_client_secret}"
    assert sections["metrics"]["basic_auth_password"] == "$__file{/run/secrets/web_client_password}"
    ini = core_services(value)["grafana"].file("grafana.ini").content
    assert "admin_user = admin" in ini and "protocol = https" in ini


def test_role_mapping_is_ordered_and_falls_back_to_the_default_role_or_refuses():
    value = settings({"sso": {"oauth": SSO_PROVIDERS["generic"], "role_mapping": {"admins": "Admin", "it's": "Editor"}}})
    assert role_attribute_path(value.security.sso, "groups") == (
        "contains(groups[*], 'admins') && 'Admin' || contains(groups[*], 'it\\'s') && 'Editor' || 'Viewer'"
    )
    strict = settings({"sso": {"oauth": SSO_PROVIDERS["generic"], "role_mapping": {"admins": "Admin"}, "default_role": None}})
    section = render_grafana_security(strict)["auth.generic_oauth"]
    assert section["role_attribute_path"] == "contains(groups[*], 'admins') && 'Admin'"
    assert section["role_attribute_strict"] is True


def test_ldap_toml_parses_and_uses_only_documented_keys():
    value = settings({"sso": {"ldap": LDAP, "role_mapping": {"cn=admins,ou=groups,dc=example,dc=org": "Admin"}}})
    [server] = tomllib.loads(render_ldap_toml(value))["servers"]
    assert set(server) - {"attributes", "group_mappings"} <= set(INVENTORY["ldap"]["servers"])
    assert set(server["attributes"]) <= set(INVENTORY["ldap"]["attributes"])
    assert all(set(mapping) <= set(INVENTORY["ldap"]["group_mappings"]) for mapping in server["group_mappings"])
    assert server["use_ssl"] is True and server["start_tls"] is False and server["ssl_skip_verify"] is False
    assert server["bind_password"] == "$__file{/run/secrets/grafana_ldap_bind_password}"
    assert [m["group_dn"] for m in server["group_mappings"]] == ["cn=admins,ou=groups,dc=example,dc=org", "*"]
    grafana = core_services(value)["grafana"]
    assert grafana.file("ldap.toml") and "grafana_ldap_bind_password" in {f.file_name for f in grafana.secret_files}
    assert render_ldap_toml(settings()) is None
