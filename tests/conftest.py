"""Shared fixtures: stack settings as the CLI would read them, and offline previews of both stacks."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from settings import StackSettings, parse_settings  # noqa: E402
from settings.loader import namespace_config  # noqa: E402
from settings.secrets import SECRET_KEYS  # noqa: E402

STACKS = ("staging", "prod")


def stack_raw_config(stack: str) -> dict[str, Any]:
    """The `monitoring:` settings of Pulumi.<stack>.yaml, as the program receives them."""
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    flat = {key: value if isinstance(value, str) else json.dumps(value) for key, value in document["config"].items()}
    return namespace_config(flat, SECRET_KEYS)


def stack_settings(stack: str) -> StackSettings:
    return parse_settings(stack_raw_config(stack), stack)


# The stacks whose Pulumi.<stack>.yaml targets Docker (prod runs on Kubernetes: tests/kubernetes/).
DOCKER_STACKS = tuple(stack for stack in STACKS if stack_settings(stack).platform == "docker")


def run_preview(stack: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "preview", stack, "--out", str(out), "--quiet", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@dataclass
class Preview:
    stack: str
    out: Path
    resources: list[dict[str, Any]]
    outputs: dict[str, Any]

    def of_type(self, type_token: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == type_token]

    def named(self, type_token: str, name: str) -> dict[str, Any]:
        matches = [r for r in self.of_type(type_token) if r["name"] == name]
        assert len(matches) == 1, f"expected one {type_token} named {name}, found {len(matches)}"
        return matches[0]

    def by_urn(self, urn: str) -> dict[str, Any]:
        return next(r for r in self.resources if r["urn"] == urn)


@pytest.fixture(scope="session")
def previews(tmp_path_factory) -> dict[str, Preview]:
    result = {}
    for stack in STACKS:
        out = tmp_path_factory.mktemp(f"preview-{stack}")
        completed = run_preview(stack, out)
        assert completed.returncode == 0, completed.stderr
        document = json.loads((out / "resources.json").read_text())
        result[stack] = Preview(stack, out, document["resources"], document["outputs"])
    return result
