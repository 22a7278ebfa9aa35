"""The secrets a stack reads with `require_secret`; each says when it is needed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from settings.model import StackSettings


@dataclass(frozen=True)
class SecretSpec:
    key: str  # config key under the `monitoring:` namespace
    purpose: str
    needed: Callable[[StackSettings], bool]
    # How the value reaches its container: a file under /run/secrets (never a rendered document).
    file_name: str


SECRETS: tuple[SecretSpec, ...] = (
    SecretSpec("grafana_admin_password", "the Grafana admin password", lambda s: True, "grafana_admin_password"),
)

SECRET_KEYS = frozenset(spec.key for spec in SECRETS)


def needed_secrets(settings: StackSettings) -> list[SecretSpec]:
    return [spec for spec in SECRETS if spec.needed(settings)]


def set_secret_command(key: str, stack: str) -> str:
    return f"pulumi config set --secret monitoring:{key} <value> -s {stack}"
