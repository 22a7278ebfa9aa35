"""StackCredentials: the CA, every service's key and certificate, the web configurations and the
gateway's htpasswd files with their bcrypt hashes, and the health checks' Authorization header - the secrets the program derives itself
(security.tls, security.auth), delivered as files like the configured ones.

The CA is generated with the Pulumi TLS provider (`tls.mode: generated`) or is yours
(`provided`: the secrets `tls_ca_certificate` and `tls_ca_private_key`); either signs a certificate
per service whose names cover its addresses on the stack's platform (render.tls_clients).
Rotation: `pulumi up` re-issues a certificate within `renew_before_days` of its expiry; bumping
`generation` (or `ca_generation`) replaces the keys now, since the resources' names carry it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Mapping

import pulumi
import pulumi_tls as tls

from render.cluster_tls import authenticates_clients
from render.gateway import GATED, htpasswd_secret, render_htpasswd
from render.serialize import to_yaml
from render.tls_clients import (
    CA_SECRET,
    HEALTH_AUTHORIZATION_SECRET,
    basic_auth_hash_secret,
    cert_secret,
    certificate_names,
    key_secret,
    web_config_secret,
)
from render.web_config import bcrypt_hash, health_authorization, render_web_config
from services.spec import ServiceSpec
from settings.model import StackSettings

# Service name -> its key in the settings (security.auth.users[].services names these).
SETTINGS_KEYS = {"node-exporter": "node", "blackbox-exporter": "blackbox", "postgres-exporter": "postgres",
                 "dcgm-exporter": "dcgm"}
SERVER_USES = ["digital_signature", "key_encipherment", "server_auth"]
CA_USES = ["cert_signing", "crl_signing", "digital_signature"]


def settings_key(service: str) -> str:
    return SETTINGS_KEYS.get(service, service)


def web_passwords(settings: StackSettings, client_password: str, user_passwords: str | None) -> dict[str, str]:
    """Every web user's password: the client user's, then those of `web_user_passwords` (JSON)."""
    passwords = json.loads(user_passwords) if user_passwords else {}
    if not isinstance(passwords, dict) or not all(isinstance(value, str) for value in passwords.values()):
        raise ValueError('monitoring:web_user_passwords is not a JSON object {"<user>": "<password>"}')
    return {**passwords, settings.security.auth.client_user: client_password}


@dataclass
class StackCredentialsArgs:
    settings: StackSettings
    specs: Iterable[ServiceSpec]
    secrets: Mapping[str, pulumi.Output[str]]


class StackCredentials(pulumi.ComponentResource):
    """`secrets`: the derived secrets by key, to merge with the configured ones."""

    secrets: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: StackCredentialsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("monitoring:security:StackCredentials", name, None, opts)
        settings, tls_settings = args.settings, args.settings.security.tls
        child = pulumi.ResourceOptions(parent=self)
        self.secrets = {}
        specs = list(args.specs)
        needed = {f.secret_key for spec in specs for f in spec.secret_files}
        needed_env = {key for spec in specs for key in spec.secret_env.values()}
        if tls_settings.mode == "generated":
            ca_key = tls.PrivateKey(f"ca-key-{tls_settings.ca_generation}", algorithm="RSA", rsa_bits=3072, opts=child)
            ca = tls.SelfSignedCert(
                f"ca-{tls_settings.ca_generation}",
                private_key_pem=ca_key.private_key_pem,
                is_ca_certificate=True,
                subject=tls.SelfSignedCertSubjectArgs(common_name=f"{settings.prefix} CA", organization="monitoring"),
                validity_period_hours=tls_settings.ca_validity_days * 24,
                allowed_uses=CA_USES,
                opts=child,
            )
            ca_cert, ca_private_key = ca.cert_pem, ca_key.private_key_pem
        elif tls_settings.mode == "provided":
            ca_cert, ca_private_key = args.secrets["tls_ca_certificate"], args.secrets["tls_ca_private_key"]
        else:
            ca_cert = ca_private_key = None
        if ca_cert is not None:
            self.secrets[CA_SECRET] = pulumi.Output.secret(ca_cert)
            for spec in specs:
                if cert_secret(spec.name) in needed:
                    self._service_certificate(settings, spec.name, ca_cert, ca_private_key, child)
        if settings.security.auth.enabled:
            client_password = args.secrets["web_client_password"]
            self.secrets[HEALTH_AUTHORIZATION_SECRET] = pulumi.Output.secret(
                client_password.apply(lambda value: health_authorization(settings, value))
            )
            user_passwords = args.secrets.get("web_user_passwords") or pulumi.Output.from_input("")
            passwords = pulumi.Output.all(client_password, user_passwords).apply(
                lambda values: web_passwords(settings, values[0], values[1])
            )
        else:
            passwords = pulumi.Output.from_input({})
        # The gateway's htpasswd files, one per service it fronts (render/gateway.py).
        for service in GATED:
            if htpasswd_secret(service) in needed:
                self.secrets[htpasswd_secret(service)] = pulumi.Output.secret(
                    passwords.apply(lambda values, service=service: render_htpasswd(settings, service, values))
                )
        for spec in specs:
            if web_config_secret(spec.name) in needed:
                key = settings_key(spec.name)
                self.secrets[web_config_secret(spec.name)] = pulumi.Output.secret(
                    passwords.apply(lambda values, key=key: to_yaml(render_web_config(settings, key, values)))
                )
            if basic_auth_hash_secret(spec.name) in needed_env:
                # One user's hash where the server takes no file (redis_exporter): the client user's.
                user = settings.security.auth.client_user
                self.secrets[basic_auth_hash_secret(spec.name)] = pulumi.Output.secret(
                    passwords.apply(lambda values, user=user: bcrypt_hash(user, values[user]))
                )
        self.register_outputs({})

    def _service_certificate(self, settings: StackSettings, service: str, ca_cert, ca_private_key, opts) -> None:
        tls_settings = settings.security.tls
        generation = tls_settings.generation
        dns_names, ip_addresses = certificate_names(settings, service)
        key = tls.PrivateKey(f"{service}-key-{generation}", algorithm="RSA", rsa_bits=2048, opts=opts)
        request = tls.CertRequest(
            f"{service}-csr-{generation}",
            private_key_pem=key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(common_name=service, organization="monitoring"),
            dns_names=dns_names,
            ip_addresses=ip_addresses,
            opts=opts,
        )
        cert = tls.LocallySignedCert(
            f"{service}-cert-{generation}",
            cert_request_pem=request.cert_request_pem,
            ca_cert_pem=ca_cert,
            ca_private_key_pem=ca_private_key,
            validity_period_hours=tls_settings.cert_validity_days * 24,
            early_renewal_hours=tls_settings.renew_before_days * 24,
            # Alertmanager's peers also dial each other with it (mutual TLS gossip, render/cluster_tls.py).
            allowed_uses=SERVER_USES + (["client_auth"] if authenticates_clients(settings, service) else []),
            opts=opts,
        )
        self.secrets[cert_secret(service)] = pulumi.Output.secret(cert.cert_pem)
        self.secrets[key_secret(service)] = pulumi.Output.secret(key.private_key_pem)
