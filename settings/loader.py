"""Read the `monitoring:` namespace of the stack's config into the typed model.

`parse_settings` is pure (tests call it with plain dicts); `load_settings` is what the Pulumi
program calls: it reads the engine's config, validates, reads the secrets, and fails with one
clean line per problem (`pulumi.RunError` prints no traceback).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any

from pydantic import ValidationError

from settings.errors import NAMESPACE, SettingsError, format_validation_error
from settings.model import StackSettings


def decode_value(value: Any) -> Any:
    """Pulumi hands config values over as strings; structured ones are JSON."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def namespace_config(config: dict[str, Any], secret_keys: frozenset[str]) -> dict[str, Any]:
    """The `monitoring:` keys of a flat Pulumi config map, decoded, without the secrets."""
    raw: dict[str, Any] = {}
    for full_key, value in config.items():
        namespace, _, key = full_key.partition(":")
        if namespace == NAMESPACE and key not in secret_keys:
            raw[key] = decode_value(value)
    return raw


def parse_settings(raw: dict[str, Any], stack: str) -> StackSettings:
    """Validate a stack's settings; raises SettingsError with one line per problem."""
    data = dict(raw)
    data.setdefault("environment", stack)
    try:
        return StackSettings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(format_validation_error(StackSettings, exc)) from None


@dataclass(frozen=True)
class LoadedStack:
    settings: StackSettings
    secrets: dict[str, Any]  # key -> pulumi.Output[str] (secret), as its file holds it


def load_settings() -> LoadedStack:
    """Inside a Pulumi program: settings and secrets of the current stack, or a clean failure."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    from settings.secrets import SECRET_KEYS, needed_secrets, set_secret_command

    stack = pulumi.get_stack()
    flat = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    try:
        settings = parse_settings(namespace_config(flat, SECRET_KEYS), stack)
    except SettingsError as exc:
        raise pulumi.RunError("invalid stack settings:\n" + "\n".join(exc.lines)) from None

    config = pulumi.Config(NAMESPACE)
    problems: list[str] = []
    secrets: dict[str, Any] = {}
    for spec in needed_secrets(settings):
        full_key = f"{NAMESPACE}:{spec.key}"
        if config.get(spec.key) is None:
            problems.append(f"{full_key}: {spec.purpose} is not set; run: {set_secret_command(spec.key, stack)}")
        elif not runtime_config.is_config_secret(full_key):
            problems.append(
                f"{full_key}: {spec.purpose} is stored in plain text; run: {set_secret_command(spec.key, stack)}"
            )
        else:
            # In the form its file holds (e.g. a credentials file around the bare key).
            secrets[spec.key] = config.require_secret(spec.key).apply(partial(spec.content, settings))
    if problems:
        raise pulumi.RunError("missing secrets:\n" + "\n".join(problems))
    return LoadedStack(settings, secrets)
