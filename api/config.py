"""What one API process is started with: upstream URLs, timeouts, tokens, the user rules directory."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from pathlib import Path

UPSTREAMS = ("prometheus", "alertmanager", "grafana", "loki", "tempo", "pyroscope")
SCOPES = ("read", "write")


@dataclass(frozen=True)
class Token:
    scope: str
    secret: str


class TokensFileError(ValueError):
    pass


def read_tokens(path: Path) -> tuple[Token, ...]:
    """One token a line, `read <token>` or `write <token>`; blank lines and `#` comments skipped."""
    tokens = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in SCOPES or len(parts[1]) < 16:
            # The line's content is a secret: name its number only.
            raise TokensFileError(f"{path}:{number}: expected `read <token>` or `write <token>`, token at least 16 characters")
        tokens.append(Token(parts[0], parts[1]))
    if not tokens:
        raise TokensFileError(f"{path}: no tokens")
    return tuple(tokens)


def scope_of(tokens: tuple[Token, ...], presented: str) -> str | None:
    """The scope of the presented token, or None. Every token is compared, each in constant time,
    so neither a match's position nor a prefix shows in the timing."""
    found = None
    for token in tokens:
        if hmac.compare_digest(token.secret.encode(), presented.encode()):
            found = token.scope
    return found


@dataclass(frozen=True)
class ApiConfig:
    upstreams: dict[str, str]
    tokens: tuple[Token, ...]
    rules_dir: Path | None = None
    # Prometheus' reload endpoint (needs --web.enable-lifecycle); without it Prometheus picks the
    # user rules up at its next reload.
    prometheus_reload_url: str | None = None
    timeouts: dict[str, float] = field(default_factory=dict)
    default_timeout: float = 10.0
    # Requests per second per token (a burst of twice that); 0 disables.
    rate_limit: float = 0.0
    # Whose dashboards: the API's own Grafana folder, never the provisioned ones.
    grafana_folder_uid: str = "monitoring-api"
    # The stack's CA, which upstreams serving HTTPS are verified against (security.tls).
    ca_file: Path | None = None
    # Basic-auth credentials for the upstreams that ask for them (security.auth).
    client_user: str | None = None
    client_password: str | None = None
    client_auth_upstreams: tuple[str, ...] = ()
    # `promtool` checking user rules (api/rules_check.py); None: promql-parser and the API's own checks.
    promtool: str | None = None
    promtool_timeout: float = 10.0
    # On a cluster: the user rules ConfigMap (`namespace/name`) instead of `rules_dir`, written
    # through the Kubernetes API (in-cluster unless `kubernetes_api` is given), and how long until
    # both Prometheus replicas evaluate a change (api/kube_rules.py).
    rules_configmap: str | None = None
    kubernetes_api: str | None = None
    kubernetes_token_file: Path | None = None
    kubernetes_ca_file: Path | None = None
    rules_propagation_seconds: int = 150

    def timeout(self, upstream: str) -> float:
        return self.timeouts.get(upstream, self.default_timeout)
