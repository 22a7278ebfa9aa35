"""`security`: TLS and basic authentication on the stack's endpoints, and Grafana's single sign-on.

`tls.mode` decides where certificates come from: `off` (plain HTTP, staging's default), `generated`
(a CA the program creates with the Pulumi TLS provider and signs every service's certificate with)
or `provided` (your own CA - typically an intermediate - given as the secrets `tls_ca_certificate`
and `tls_ca_private_key`, signs them instead). `auth.enabled` puts basic authentication, with bcrypt
hashes of Pulumi secrets, in front of every service that reads a Prometheus web configuration file,
and an authenticating gateway in front of Loki, Tempo and Pyroscope (render/gateway.py).
"""

from __future__ import annotations

from typing import Iterator, Literal

from pydantic import Field, model_validator

from settings.errors import FieldProblem, cross_field
from settings.types import Name, Strict

# The services whose HTTP server is exporter-toolkit's (`--web.config.file`: TLS and basic-auth users).
WEB_CONFIG_SERVICES = ("prometheus", "alertmanager", "pushgateway", "node", "blackbox", "postgres")
# ... and the services behind the gateway (render/gateway.py), which checks their users itself.
AuthService = Literal["prometheus", "alertmanager", "pushgateway", "node", "blackbox", "postgres", "loki", "tempo", "pyroscope"]


class TlsSettings(Strict):
    mode: Literal["off", "generated", "provided"] = "off"
    # Lifetimes of the generated CA and of every service certificate (either mode signs those).
    ca_validity_days: int = Field(default=3650, ge=30, le=36500)
    cert_validity_days: int = Field(default=365, ge=1, le=3650)
    # `pulumi up` re-issues a service certificate once it is this close to expiry.
    renew_before_days: int = Field(default=30, ge=1, le=3650)
    # Bump to rotate now: new keys and certificates for every service (and a new generated CA with
    # `ca_generation`); clients trust the CA, so rotating service keys needs no client change.
    generation: int = Field(default=1, ge=1)
    ca_generation: int = Field(default=1, ge=1)
    # More names the services are reached by (a published hostname), added to every certificate.
    extra_dns_names: tuple[str, ...] = ()

    @model_validator(mode="after")
    @cross_field
    def _renewal_within_validity(self) -> Iterator[FieldProblem]:
        if self.renew_before_days >= self.cert_validity_days:
            yield FieldProblem(
                "renew_before_days", self.renew_before_days, f"is not below cert_validity_days {self.cert_validity_days}"
            )

    @property
    def enabled(self) -> bool:
        return self.mode != "off"


class WebUser(Strict):
    """A person or outside client allowed on some services; its password is one entry of the secret
    `web_user_passwords` (a JSON object, user -> password)."""

    name: Name
    services: tuple[AuthService, ...] = Field(min_length=1)


class AuthSettings(Strict):
    enabled: bool = False
    # The user every client inside the stack signs in as (password: the secret `web_client_password`).
    client_user: Name = "monitoring"
    users: tuple[WebUser, ...] = ()

    @model_validator(mode="after")
    @cross_field
    def _distinct_users(self) -> Iterator[FieldProblem]:
        names = [user.name for user in self.users]
        for name in dict.fromkeys(names):  # each name once, however often it is repeated
            if name == self.client_user or names.count(name) > 1:
                yield FieldProblem("users", name, "is listed twice (or is client_user): user names must be unique")


class OAuthSettings(Strict):
    """Grafana's OAuth2/OIDC login: `generic` (any OIDC provider) or a preset Grafana knows."""

    provider: Literal["generic", "github", "gitlab", "google", "azuread"] = "generic"
    name: str = "SSO"
    client_id: str
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    # Required for generic; the presets know their provider's endpoints (Azure AD needs the tenant's).
    auth_url: str | None = Field(default=None, pattern=r"^https://\S+$")
    token_url: str | None = Field(default=None, pattern=r"^https://\S+$")
    api_url: str | None = Field(default=None, pattern=r"^https://\S+$")
    # Where the provider's token or userinfo lists the user's groups (a JMESPath).
    groups_attribute_path: str = "groups"
    # Sign-in only for these organisations / groups / domains (empty: anyone the provider signs in).
    allowed_organizations: tuple[str, ...] = ()
    allowed_groups: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()

    @model_validator(mode="after")
    @cross_field
    def _generic_endpoints(self) -> Iterator[FieldProblem]:
        needs = ("auth_url", "token_url") if self.provider in ("generic", "azuread") else ()
        for key in needs:
            if getattr(self, key) is None:
                yield FieldProblem(key, None, f"is required for provider {self.provider}")


class LdapSettings(Strict):
    """Grafana's LDAP login; the bind password is the secret `grafana_ldap_bind_password`."""

    host: str
    port: int = Field(default=636, ge=1, le=65535)
    # ldaps (TLS from the first byte), starttls, or plain (tests and trusted networks only).
    security: Literal["ldaps", "starttls", "plain"] = "ldaps"
    bind_dn: str
    search_base_dns: tuple[str, ...] = Field(min_length=1)
    search_filter: str = "(uid=%s)"
    group_search_base_dns: tuple[str, ...] = ()
    group_search_filter: str = "(&(objectClass=posixGroup)(memberUid=%s))"
    member_of: str = "memberOf"
    username_attribute: str = "uid"
    email_attribute: str = "mail"
    name_attribute: str = "cn"


class SsoSettings(Strict):
    oauth: OAuthSettings | None = None
    ldap: LdapSettings | None = None
    # Group (as the provider or LDAP names it) -> Grafana role; the first match in order wins.
    role_mapping: dict[str, Literal["Admin", "Editor", "Viewer"]] = Field(default_factory=dict)
    # Role of users no group maps; None refuses them.
    default_role: Literal["Editor", "Viewer"] | None = "Viewer"
    # The local admin (grafana.admin_user) stays for break-glass; hide the form only with SSO set.
    disable_login_form: bool = False

    @model_validator(mode="after")
    @cross_field
    def _login_still_possible(self) -> Iterator[FieldProblem]:
        if self.disable_login_form and self.oauth is None:
            yield FieldProblem("disable_login_form", True, "needs sso.oauth: without it no one could sign in")


class SecuritySettings(Strict):
    tls: TlsSettings = TlsSettings()
    auth: AuthSettings = AuthSettings()
    sso: SsoSettings = SsoSettings()

    @model_validator(mode="after")
    @cross_field
    def _no_passwords_in_clear(self) -> Iterator[FieldProblem]:
        if self.auth.enabled and not self.tls.enabled:
            yield FieldProblem("auth.enabled", True, "sends passwords in clear while tls.mode is off: set tls.mode")
