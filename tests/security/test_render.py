"""TLS, authentication and single sign-on as settings and rendered documents (no processes): the
settings' one-line errors, the secrets each setting needs, the web configuration and its hashes,
every client's side (prometheus.yml, Loki's ruler, the collectors, blackbox), health checks that
carry no credential, and grafana.ini / ldap.toml keys checked against the keys of Grafana's own
conf/defaults.ini and conf/ldap.toml (upstream/grafana-11.6-keys.json, scripts/extract_grafana_keys.py)."""

from __future__ import annotations

import configparser
import json
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
from render.grafana import render_grafana_ini
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

# Section -> keys of Grafana's conf/defaults.ini, table -> keys of its conf/ldap.toml (see its provenance).
GRAFANA_KEYS = json.loads((Path(__file__).parent / "upstream" / "grafana-11.6-keys.json").read_text())
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
        # (token_url given: without it, its own line follows - every cross-field problem is reported.)
        ({"sso": {"oauth": {"client_id": "grafana", "token_url": "https://sso.example.org/token"}}},
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
    secured = {"prometheus", "alertmanager", "grafana", "node", "blackbox", "pushgateway", "blackbox-http", "vllm-mock",
               "alloy"}
    for name in secured:
        assert jobs[name]["scheme"] == "https", name
        assert jobs[name]["tls_config"]["ca_file"] == "/run/secrets/ca.crt", name
        assert jobs[name]["basic_auth"] == {"username": "monitoring", "password_file": "/run/secrets/web_client_password"}
    assert jobs["node"]["tls_config"]["server_name"] == "node-exporter"
    # Loki serves TLS but has no basic-auth users of its own: no password is sent to it.
    assert jobs["loki"]["scheme"] == "https" and "basic_auth" not in jobs["loki"]
    # The mocks serve their web configuration, checked by the mock's service name.
    assert jobs["vllm-mock"]["tls_config"]["server_name"] == "mock-vllm"
    # The collector (Alloy's `http` block) serves TLS with its certificate's name and the client user.
    assert jobs["alloy"]["tls_config"]["server_name"] == "alloy"
    # Promtail's own port stays plain HTTP: never a credential towards it.
    promtail = {job["job_name"]: job for job in config_of(settings(ON, logs={"collector": "promtail"}))["scrape_configs"]}
    assert "scheme" not in promtail["promtail"] and "basic_auth" not in promtail["promtail"]
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
    """TLS alone: straight to Loki with the CA; with authentication: through the gateway
    (render/gateway.py), its name checked, as the client user."""
    tls_only = settings({"tls": ON["tls"]})
    alloy = render_alloy_config(tls_only, internal_endpoints(tls_only), 12345)
    assert 'url = "https://loki:3100/loki/api/v1/push"' in alloy
    assert 'ca_file     = "/run/secrets/ca.crt"' in alloy or 'ca_file = "/run/secrets/ca.crt"' in alloy
    assert "basic_auth" not in alloy
    value = settings(ON)
    alloy = render_alloy_config(value, internal_endpoints(value), 12345)
    push = alloy[alloy.index('url = "https://gateway:3100/loki/api/v1/push"'):]
    assert 'server_name = "gateway"' in push[:300] and 'password_file = "/run/secrets/web_client_password"' in push[:400]
    promtail = render_promtail_config(settings(ON, logs={"collector": "promtail"}), internal_endpoints(value), 9080)
    [client] = promtail["clients"]
    assert client["url"] == "https://gateway:3100/loki/api/v1/push"
    assert client["tls_config"] == {"ca_file": "/run/secrets/ca.crt", "server_name": "gateway"}
    assert client["basic_auth"] == {"username": "monitoring", "password_file": "/run/secrets/web_client_password"}


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
    assert {f.file_name for f in services["mock-vllm"].secret_files} == {"tls.crt", "tls.key", "web-config.yml",
                                                                          "health_authorization"}
    assert "--web-config-file=/run/secrets/web-config.yml" in services["mock-vllm"].command


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


# grafana.ini sections whose keys are free-form names, not settings (defaults.ini lists them empty
# or with commented examples): any key is legitimate there. The stack renders none of them today.
FREE_FORM_SECTIONS = {
    "server.custom_response_headers": "response header names",
    "metrics.environment_info": "label names of grafana_environment_info",
    "smtp.static_headers": "e-mail header names",
    "recording_rules.custom_headers": "request header names",
    "unified_alerting.state_history.external_labels": "label names",
    "navigation.app_sections": "plugin ids",
    "navigation.app_standalone_pages": "page paths",
    "feature_toggles": "feature toggle names besides `enable`",
}


def unknown_grafana_keys(document: dict[str, dict]) -> dict[str, list[str]]:
    """[section] -> its keys that Grafana's defaults.ini does not have (a missing section: all of them)."""
    unknown = {}
    for section, keys in document.items():
        if section in FREE_FORM_SECTIONS:
            continue
        extra = sorted(set(keys) - set(GRAFANA_KEYS["grafana_ini"].get(section, ())))
        if extra:
            unknown[section] = extra
    return unknown


def rendered_grafana_ini(value) -> dict[str, dict[str, str]]:
    """The grafana.ini the Grafana service is given, parsed back (what Grafana would read)."""
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive to Grafana (dialTimeout, startTLS_policy)
    parser.read_string(core_services(value)["grafana"].file("grafana.ini").content)
    return {section: dict(parser.items(section, raw=True)) for section in parser.sections()}


def everything_on(provider: str):
    """TLS, client auth, one OAuth provider and LDAP, the status page, and profiles (Alloy
    collector, the stack's own pprof): every section render/grafana.py and grafana_auth.py write."""
    return settings({**ON, "sso": {"oauth": SSO_PROVIDERS[provider], "ldap": LDAP,
                                   "role_mapping": {"admins": "Admin", "editors": "Editor"}}},
                    logs={"collector": "alloy"}, sla={"status_page": {"enabled": True}})


@pytest.mark.parametrize("provider", sorted(SSO_PROVIDERS))
def test_every_rendered_grafana_ini_key_is_one_of_grafanas_defaults_ini(provider):
    """Every [section] key of the grafana.ini the Grafana service gets (server, security, users,
    auth.*, analytics, snapshots, public_dashboards, metrics, log, paths and whatever else is
    rendered) is a key of that section in Grafana's own conf/defaults.ini; Grafana ignores unknown
    keys silently, so a misspelt one would quietly drop a setting.

    Mutations checked (each fails this test, then reverted): `enable_gzip` -> `enable_gzipp` in
    render/grafana.py; `use_pkce` -> `use_pkse` in render/grafana_auth.py (generic provider);
    `basic_auth_username` -> `basic_auth_user` in render/grafana_auth.py's [metrics]; the former
    [diagnostics.profiling] section put back into render/grafana.py (no such section in defaults.ini)."""
    value = everything_on(provider)
    ini = rendered_grafana_ini(value)
    assert f"auth.{'generic_oauth' if provider == 'generic' else provider}" in ini
    assert {"server", "security", "users", "auth", "auth.anonymous", "auth.basic", "auth.ldap", "analytics",
            "snapshots", "public_dashboards", "metrics", "log", "paths"} <= set(ini)
    assert unknown_grafana_keys(ini) == {}, "not keys of Grafana 11.6's conf/defaults.ini"
    # The renderer's document too, before serialisation.
    assert unknown_grafana_keys(render_grafana_ini(value, 3000)) == {}


def test_grafana_profiling_is_turned_on_by_environment_not_by_an_ini_section():
    """Grafana 11.6 reads profiling only from GF_DIAGNOSTICS_PROFILING_* (or -profile flags):
    defaults.ini has no [diagnostics.profiling] section and Grafana ignores one in grafana.ini, which
    is where render/grafana.py used to put it (pprof never served). Mutation checked: the env left
    out of services/traces.py's grafana_pprof_port (fails here)."""
    assert not any(section.startswith("diagnostics") for section in GRAFANA_KEYS["grafana_ini"])
    grafana = core_services(everything_on("generic"))["grafana"]
    assert not any(section.startswith("diagnostics") for section in rendered_grafana_ini(everything_on("generic")))
    assert {k: v for k, v in grafana.env.items() if k.startswith("GF_DIAGNOSTICS_")} == {
        "GF_DIAGNOSTICS_PROFILING_ENABLED": "true", "GF_DIAGNOSTICS_PROFILING_ADDR": "0.0.0.0",
        "GF_DIAGNOSTICS_PROFILING_PORT": "6060"}
    assert 6060 in {port.container_port for port in grafana.ports}
    off = core_services(settings(ON, profiles={"enabled": False}))["grafana"]
    assert not any(k.startswith("GF_DIAGNOSTICS_") for k in off.env)


def test_the_key_inventory_says_where_it_comes_from():
    """The inventory is extracted, not hand-written: its provenance names the generator, the source
    and a sha256 per input file, and its sections are those of a whole defaults.ini."""
    provenance = GRAFANA_KEYS["provenance"]
    assert provenance["generator"] == "scripts/extract_grafana_keys.py" and (provenance.get("tag") or provenance.get("source"))
    assert all(len(entry["sha256"]) == 64 for entry in provenance["files"].values())
    assert len(GRAFANA_KEYS["grafana_ini"]) > 90 and "protocol" in GRAFANA_KEYS["grafana_ini"]["server"]


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


def ldap_keys(table: str) -> set[str]:
    """Keys of a table of Grafana's conf/ldap.toml: those set there, and those its comments document
    as optional (group_search_filter, group_search_filter_user_attribute, group_search_base_dns,
    root_ca_cert, grafana_admin, org_id) — all toml tags of Grafana's LDAP ServerConfig."""
    entry = GRAFANA_KEYS["ldap_toml"][table]
    return set(entry["keys"]) | set(entry["commented_keys"])


def test_ldap_toml_parses_and_uses_only_grafanas_keys():
    """Every key of the rendered ldap.toml ([[servers]], [servers.attributes],
    [[servers.group_mappings]]) is one of Grafana's conf/ldap.toml.

    Mutations checked (each fails this test, then reverted): `search_base_dns` -> `search_base_dn`
    and `member_of` -> `memberof` in render/grafana_auth.py."""
    value = settings({"sso": {"ldap": LDAP, "role_mapping": {"cn=admins,ou=groups,dc=example,dc=org": "Admin"}}})
    [server] = tomllib.loads(render_ldap_toml(value))["servers"]
    assert set(server) - {"attributes", "group_mappings"} <= ldap_keys("servers")
    assert set(server["attributes"]) <= ldap_keys("servers.attributes")
    assert all(set(mapping) <= ldap_keys("servers.group_mappings") for mapping in server["group_mappings"])
    assert {"group_search_filter", "group_search_base_dns", "group_search_filter_user_attribute"} <= set(server)
    assert server["use_ssl"] is True and server["start_tls"] is False and server["ssl_skip_verify"] is False
    assert server["bind_password"] == "$__file{/run/secrets/grafana_ldap_bind_password}"
    assert [m["group_dn"] for m in server["group_mappings"]] == ["cn=admins,ou=groups,dc=example,dc=org", "*"]
    grafana = core_services(value)["grafana"]
    assert grafana.file("ldap.toml") and "grafana_ldap_bind_password" in {f.file_name for f in grafana.secret_files}
    assert render_ldap_toml(settings()) is None



# --- Alertmanager's gossip over mutual TLS (render/cluster_tls.py) ---------------------------------


def test_cluster_tls_config_requires_and_presents_certificates_of_the_stacks_ca():
    """The `--cluster.tls-config` document: both sides with the peer's own certificate and the
    stack's CA, client certificates required and verified, names checked as `alertmanager`, keys as
    Alertmanager's cluster/tls_config.go (v0.25.0 and v0.28.1) reads them (exporter-toolkit's
    web.TLSConfig for the server side, prometheus/common's TLSConfig for the client side).

    Mutations checked: client_auth_type NoClientCert; server_name dropped; client_ca_file dropped."""
    from render.cluster_tls import render_cluster_tls_config

    document = render_cluster_tls_config(cluster_settings())
    assert document == {
        "tls_server_config": {
            "cert_file": "/run/secrets/tls.crt", "key_file": "/run/secrets/tls.key",
            "client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": "/run/secrets/ca.crt",
            "client_allowed_sans": ["alertmanager"], "min_version": "TLS12",
        },
        "tls_client_config": {
            "cert_file": "/run/secrets/tls.crt", "key_file": "/run/secrets/tls.key", "ca_file": "/run/secrets/ca.crt",
            "server_name": "alertmanager", "insecure_skip_verify": False,
        },
    }
    # The name checked is one Alertmanager's certificate carries on the cluster.
    assert "alertmanager" in certificate_names(cluster_settings(), "alertmanager")[0]


def _alertmanager(value):
    from services.cluster import for_platform

    return for_platform(value, core_services(value))["alertmanager"]


def test_only_a_cluster_with_tls_gossips_over_tls_and_only_alertmanager_authenticates_as_a_client():
    """On a cluster with TLS: the flag, the file (paths only, no key material), the CA as a secret
    file, a TCP-only mesh, and client_auth only for Alertmanager's certificate. A single Alertmanager
    (Docker, with or without TLS) and a cluster without TLS are unchanged.

    Mutations checked: gossip_tls_on ignoring the platform (the Docker command would get the flag);
    alertmanager_mesh keeping UDP under TLS."""
    from render.cluster_tls import authenticates_clients

    cluster = _alertmanager(cluster_settings())
    assert "--cluster.tls-config=/etc/alertmanager/cluster-tls.yml" in cluster.command
    content = cluster.file("cluster-tls.yml").content
    assert "/run/secrets/" in content and "PRIVATE KEY" not in content and "BEGIN" not in content
    assert {f.file_name for f in cluster.secret_files} >= {"tls.crt", "tls.key", "ca.crt"}
    assert {(p.container_port, p.protocol) for p in cluster.peers.ports} == {(9094, "TCP")}
    assert authenticates_clients(cluster_settings(), "alertmanager")
    assert not authenticates_clients(cluster_settings(), "prometheus")

    docker = _alertmanager(settings(ON))
    assert "--cluster.listen-address=" in docker.command
    assert not any(arg.startswith("--cluster.tls-config") for arg in docker.command)
    assert "cluster-tls.yml" not in {f.relpath for f in docker.files}
    assert not authenticates_clients(settings(ON), "alertmanager")

    plain_raw = {"platform": "kubernetes", "grafana": {"url": "https://grafana.example.org"},
                 "exporters": {"mock_image": {"registry": "r.example.org/m"}}}
    from settings.model import StackSettings

    if "backup" in StackSettings.model_fields:
        plain_raw["backup"] = {"enabled": False}
    plain = _alertmanager(parse_settings(plain_raw, "prod"))
    assert not any(arg.startswith("--cluster.tls-config") for arg in plain.command)
    assert {(p.container_port, p.protocol) for p in plain.peers.ports} == {(9094, "TCP"), (9094, "UDP")}
