"""Checks rendered documents against the configuration field inventories vendored from upstream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def inventory(relpath: str) -> frozenset[str]:
    lines = (ROOT / relpath).read_text().splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def key_paths(document: Any, prefix: str = "") -> list[str]:
    """Every mapping key of a document as a dotted path (list items are leaves unless they are mappings)."""
    paths: list[str] = []
    if isinstance(document, dict):
        for key, value in document.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            paths.append(path)
            paths += key_paths(value, path)
    return paths


def unknown_keys(document: dict, fields: frozenset[str], delegated: dict[str, frozenset[str]] | None = None) -> list[str]:
    """Rendered keys the inventory does not list. A path under `<p>.*` is free-form; a path under a
    `delegated` prefix is checked against that prefix's own inventory instead."""
    delegated = delegated or {}
    unknown = []
    for path in key_paths(document):
        owner = next((prefix for prefix in delegated if path.startswith(prefix + ".")), None)
        if owner is not None:
            if path[len(owner) + 1:] not in delegated[owner]:
                unknown.append(path)
            continue
        parts = path.split(".")
        if path in fields or any(".".join(parts[:i]) + ".*" in fields for i in range(1, len(parts))):
            continue
        unknown.append(path)
    return unknown
