"""What grafana.ini adds for HTTPS and single sign-on, and ldap.toml (security.tls, security.sso).

Keys are those of Grafana's conf/defaults.ini and conf/ldap.toml for the pinned image (11.6); the
tests check every rendered key against an inventory extracted from them
(tests/security/upstream/grafana-11.6-keys.json, scripts/extract_grafana_keys.py).
Secrets are never written here: Grafana expands `$__file{...}` from the files the platform mounts,
in grafana.ini and in ldap.toml alike.
"""

from __future__ import annotations

import json
from typing import Any

from render.web_config import CERT_FILE, CLIENT_PASSWORD_FILE, KEY_FILE, SECRETS_DIR, auth_on, tls_on
from settings.model import StackSettings
from settings.security import LdapSettings, SsoSettings

LDAP_CONFIG = "ldap.toml"
OAUTH_SECRET_FILE = "grafana_oauth_client_secret"
LDAP_PASSWORD_FILE = "grafana_ldap_bind_password"
# Grafana's section per OAuth provider.
OAUTH_SECTIONS = {
    "generic": "auth.generic_oauth",
    "github": "auth.github",
    "gitlab": "auth.gitlab",
    "google": "auth.google",
    "azuread": "auth.azuread",
}
# Providers whose Grafana integration evaluates `role_attribute_path` against the user's groups
# (Azure AD maps its app roles named Admin/Editor/Viewer instead).
ROLE_PATH_PROVIDERS = ("generic", "github", "gitlab", "google")


def _file(path: str) -> str:
    return f"$__file{{{path}}}"


def _jmespath_string(text: str) -> str:
    """A JMESPath raw string literal: single quotes, with backslashes and quotes escaped."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def role_attribute_path(sso: SsoSettings, groups_path: str) -> str:
    """A JMESPath giving the first mapped role of the user's groups (then the default role, or
    nothing: with role_attribute_strict, an unmapped user is refused)."""
    groups = groups_path if groups_path.endswith("[*]") else f"{groups_path}[*]"
    branches = [f"contains({groups}, {_jmespath_string(group)}) && '{role}'" for group, role in sso.role_mapping.items()]
    if sso.default_role:
        branches.append(f"'{sso.default_role}'")
    return " || ".join(branches)


def oauth_section(settings: StackSettings, secrets_dir: str = SECRETS_DIR) -> dict[str, dict[str, Any]]:
    sso = settings.security.sso
    oauth = sso.oauth
    if oauth is None:
        return {}
    section: dict[str, Any] = {
        "enabled": True,
        "allow_sign_up": True,
        "client_id": oauth.client_id,
        "client_secret": _file(f"{secrets_dir}/{OAUTH_SECRET_FILE}"),
        "scopes": " ".join(oauth.scopes),
        "allowed_domains": " ".join(oauth.allowed_domains),
        "role_attribute_strict": sso.default_role is None,
    }
    for key in ("auth_url", "token_url", "api_url"):
        if getattr(oauth, key):
            section[key] = getattr(oauth, key)
    if oauth.provider in ("generic", "azuread"):
        section["name"] = oauth.name
    if oauth.provider == "generic":
        section["groups_attribute_path"] = oauth.groups_attribute_path
        section["use_pkce"] = True
    if oauth.provider in ("generic", "github"):
        section["allowed_organizations"] = " ".join(oauth.allowed_organizations)
    if oauth.provider in ("generic", "gitlab", "azuread", "google") and oauth.allowed_groups:
        section["allowed_groups"] = " ".join(oauth.allowed_groups)
    if oauth.provider in ROLE_PATH_PROVIDERS and (sso.role_mapping or sso.default_role):
        # GitHub's and GitLab's groups are teams and groups as `groups`; generic reads the setting's path.
        section["role_attribute_path"] = role_attribute_path(
            sso, oauth.groups_attribute_path if oauth.provider == "generic" else "groups"
        )
    return {OAUTH_SECTIONS[oauth.provider]: section}


def render_grafana_security(settings: StackSettings, config_dir: str = "/etc/grafana",
                            secrets_dir: str = SECRETS_DIR) -> dict[str, dict[str, Any]]:
    """The grafana.ini sections (or keys of them) that TLS, authentication and SSO add."""
    sections: dict[str, dict[str, Any]] = {}
    if tls_on(settings):
        sections["server"] = {
            "protocol": "https",
            "cert_file": f"{secrets_dir}/{CERT_FILE}",
            "cert_key": f"{secrets_dir}/{KEY_FILE}",
        }
    if auth_on(settings):
        # /metrics behind the stack's client user, as every other endpoint Prometheus scrapes.
        sections["metrics"] = {
            "basic_auth_username": settings.security.auth.client_user,
            "basic_auth_password": _file(f"{secrets_dir}/{CLIENT_PASSWORD_FILE}"),
        }
    sso = settings.security.sso
    sections.update(oauth_section(settings, secrets_dir))
    if sso.ldap is not None:
        sections["auth.ldap"] = {"enabled": True, "config_file": f"{config_dir}/{LDAP_CONFIG}", "allow_sign_up": True}
    if sso.oauth is not None or sso.ldap is not None:
        # The local admin (grafana.admin_user) keeps the login form unless told otherwise: break-glass.
        sections["auth"] = {"disable_login_form": sso.disable_login_form, "oauth_auto_login": False}
    return sections


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return json.dumps(value)  # a TOML basic string is a JSON string for what we write


def ldap_server(settings: StackSettings, ldap: LdapSettings, secrets_dir: str = SECRETS_DIR) -> dict[str, Any]:
    """The `[[servers]]` entry of ldap.toml as data (keys of Grafana's ldap.toml, 11.6)."""
    server: dict[str, Any] = {
        "host": ldap.host,
        "port": ldap.port,
        "use_ssl": ldap.security != "plain",
        "start_tls": ldap.security == "starttls",
        "ssl_skip_verify": False,
        "bind_dn": ldap.bind_dn,
        "bind_password": _file(f"{secrets_dir}/{LDAP_PASSWORD_FILE}"),
        "search_filter": ldap.search_filter,
        "search_base_dns": list(ldap.search_base_dns),
    }
    if ldap.group_search_base_dns:
        server["group_search_filter"] = ldap.group_search_filter
        server["group_search_base_dns"] = list(ldap.group_search_base_dns)
        server["group_search_filter_user_attribute"] = ldap.username_attribute
    return server


def ldap_attributes(ldap: LdapSettings) -> dict[str, str]:
    return {
        "name": ldap.name_attribute,
        "username": ldap.username_attribute,
        "member_of": ldap.member_of,
        "email": ldap.email_attribute,
    }


def ldap_group_mappings(sso: SsoSettings) -> list[dict[str, Any]]:
    """Group DN -> org role, in order; `*` (everyone else) gets the default role when there is one."""
    mappings = [{"group_dn": group, "org_role": role} for group, role in sso.role_mapping.items()]
    if sso.default_role:
        mappings.append({"group_dn": "*", "org_role": sso.default_role})
    return mappings


def render_ldap_toml(settings: StackSettings, secrets_dir: str = SECRETS_DIR) -> str | None:
    ldap = settings.security.sso.ldap
    if ldap is None:
        return None
    lines = ["# Generated by the monitoring stack (render/grafana_auth.py).", "[[servers]]"]
    lines += [f"{key} = {_toml(value)}" for key, value in ldap_server(settings, ldap, secrets_dir).items()]
    lines += ["", "[servers.attributes]"]
    lines += [f"{key} = {_toml(value)}" for key, value in ldap_attributes(ldap).items()]
    for mapping in ldap_group_mappings(settings.security.sso):
        lines += ["", "[[servers.group_mappings]]"]
        lines += [f"{key} = {_toml(value)}" for key, value in mapping.items()]
    return "\n".join(lines) + "\n"


def grafana_secret_files(settings: StackSettings) -> list[tuple[str, str]]:
    """(secret key, file name) Grafana's SSO needs."""
    sso = settings.security.sso
    files = []
    if sso.oauth is not None:
        files.append(("grafana_oauth_client_secret", OAUTH_SECRET_FILE))
    if sso.ldap is not None:
        files.append(("grafana_ldap_bind_password", LDAP_PASSWORD_FILE))
    return files


def datasource_tls(settings: StackSettings, key: str) -> tuple[dict[str, Any], bool]:
    """(jsonData fields, whether the CA goes into secureJsonData.tlsCACert) of a datasource reaching `key`."""
    from render.tls_clients import server_name, serves_tls

    if not serves_tls(settings, key):
        return {}, False
    return {"tlsAuthWithCACert": True, "serverName": server_name(settings, key)}, True

