"""Generated feature sets and secrets through `settings.load_settings`, the program's own loader,
under the SDK's mock engine: every needed secret that is missing (or stored in plain text) gets one
line naming it and the exact command, and a plain-text value never appears in the error.

The expectations are written here from the README's Secrets section, not read from settings.secrets.
Derandomized (fixed seed per test, `print_blob` on failure) so a failure replays as is.
"""

from __future__ import annotations

import pulumi
from hypothesis import given
from hypothesis import strategies as st

from preview.engine import StackMocks
from settings import load_settings
from tests.properties.support import replayable

# A feature's settings and the secrets it needs (beyond grafana_admin_password, always needed).
FEATURES = {
    "slack": ({"alerting": {"receivers": {"slack": {"channel": "#alerts"}}}}, {"slack_api_url"}),
    "pagerduty": ({"alerting": {"receivers": {"pagerduty": {}}}}, {"pagerduty_routing_key"}),
    "webhook": ({"alerting": {"receivers": {"webhook": {}}}}, {"webhook_url"}),
    "api": ({"api": {"enabled": True}}, {"monitoring_api_tokens"}),
    "auth": ({"security": {"tls": {"mode": "generated"}, "auth": {"enabled": True}}}, {"web_client_password"}),
    "postgres": ({"exporters": {"postgres": {"mode": "real"}}}, {"postgres_exporter_password"}),
    # Backups run by default on Docker; this turns them off.
    "no_backups": ({"backup": {"enabled": False}}, set()),
}
ALWAYS = {"grafana_admin_password"}
BACKUPS = {"backup_repository_password"}
ALL_SECRETS = sorted(set().union(ALWAYS, BACKUPS, *(needs for _, needs in FEATURES.values())))


def merge(into: dict, extra: dict) -> dict:
    for key, value in extra.items():
        into[key] = merge(dict(into.get(key, {})), value) if isinstance(value, dict) else value
    return into


def load(config: dict, secret_keys: list[str]) -> str | None:
    """The loader's error (None when it loads), with the engine holding exactly `config`."""
    pulumi.runtime.set_mocks(StackMocks(), project="monitoring", stack="staging", preview=False)
    pulumi.runtime.set_all_config(config, secret_keys)
    try:
        load_settings()
    except pulumi.RunError as exc:
        return str(exc)
    finally:
        pulumi.runtime.set_all_config({}, [])
    return None


@replayable(300)
@given(
    features=st.sets(st.sampled_from(sorted(FEATURES))),
    stored=st.dictionaries(st.sampled_from(ALL_SECRETS), st.sampled_from(["secret", "plain"])),
)
def test_each_missing_secret_gets_one_line_with_its_command(features, stored):
    import json

    raw: dict = {"environment": "staging"}
    needed = set(ALWAYS)
    for feature in features:
        merge(raw, FEATURES[feature][0])
        needed |= FEATURES[feature][1]
    if "no_backups" not in features:
        needed |= BACKUPS
    config = {f"monitoring:{key}": value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()}
    plain_value = "plain-text-value-4711"
    for key, how in stored.items():
        config[f"monitoring:{key}"] = "read a-token-of-16-chars-x" if key == "monitoring_api_tokens" else plain_value
    error = load(config, [f"monitoring:{key}" for key, how in stored.items() if how == "secret"])

    at_fault = {key for key in needed if stored.get(key) != "secret"}
    if not at_fault:
        assert error is None
        return
    lines = error.splitlines()
    assert lines[0] == "missing secrets:"
    assert plain_value not in error
    assert sorted(line.split(":", 2)[1] for line in lines[1:]) == sorted(at_fault), error
    for line in lines[1:]:
        key = line.split(":", 2)[1]
        problem = "is stored in plain text" if stored.get(key) == "plain" else "is not set"
        assert problem in line and line.endswith(f"run: pulumi config set --secret monitoring:{key} <value> -s staging"), line
