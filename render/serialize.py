"""Deterministic serialisation of rendered documents."""

from __future__ import annotations

import configparser
import io
import json
from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """Block-style YAML with no anchors/aliases (every tool reads it, diffs stay readable)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_presenter)


def to_yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=120)


def to_json(document: Any) -> str:
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


def to_ini(sections: dict[str, dict[str, Any]]) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    for section in sorted(sections):
        parser[section] = {key: _ini_value(value) for key, value in sorted(sections[section].items())}
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def _ini_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
