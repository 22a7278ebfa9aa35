"""Extract every grafana.ini section -> keys of Grafana's conf/defaults.ini, and every ldap.toml table
-> keys of its conf/ldap.toml, into the inventory the tests check rendered keys against.

    python -m scripts.extract_grafana_keys --git-dir <git dir of grafana/grafana> --tag v11.6.3 \
        > tests/security/upstream/grafana-v11.6.3-keys.json
    python -m scripts.extract_grafana_keys --defaults defaults.ini --ldap ldap.toml \
        --source "where the two files came from" > tests/security/upstream/grafana-v11.6.3-keys.json

defaults.ini lists every key Grafana reads uncommented (commented lines there are examples of dynamic
sections such as [server.custom_response_headers]), so only `key = value` lines count. ldap.toml is
read with tomllib; its commented `# key = value` lines under a table are the optional keys Grafana's
sample documents (group_search_*, root_ca_cert, grafana_admin, org_id), kept apart as
`commented_keys`. Stdlib only. The output's `provenance` names the source and the sha256 of each input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tomllib

DEFAULTS_PATH = "conf/defaults.ini"
LDAP_PATH = "conf/ldap.toml"
GLOBAL = ""  # keys before the first [section] (app_mode, instance_name)

_SECTION = re.compile(r"^\[([^\]]+)\]\s*$")
_KEY = re.compile(r"^([A-Za-z_][\w.-]*)\s*=")
_TOML_TABLE = re.compile(r"^\s*\[\[?\s*([\w.]+)\s*\]\]?\s*$")
_TOML_COMMENTED_KEY = re.compile(r"^\s*#\s*([a-z_][a-z0-9_]*)\s*=")


def ini_keys(text: str) -> dict[str, list[str]]:
    """Section -> its uncommented keys, in file order (an ini parser would choke on the file's
    `%(...)s` interpolations and triple-quoted values; the lines are all that is needed)."""
    sections: dict[str, list[str]] = {GLOBAL: []}
    current = GLOBAL
    in_triple_quote = False
    for raw in text.splitlines():
        line = raw.strip()
        if in_triple_quote:
            in_triple_quote = line.count('"""') % 2 == 0
            continue
        if not line or line.startswith(("#", ";")):
            continue
        if match := _SECTION.match(line):
            current = match.group(1).strip()
            sections.setdefault(current, [])
            continue
        if match := _KEY.match(line):
            if match.group(1) not in sections[current]:
                sections[current].append(match.group(1))
            in_triple_quote = line.count('"""') % 2 == 1
    return sections


def _table_keys(value: object, path: str, tables: dict[str, list[str]]) -> None:
    """Flatten TOML tables and arrays of tables to `servers`, `servers.attributes`, ..."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, dict):
            continue
        keys = tables.setdefault(path, [])
        for key, child in item.items():
            if isinstance(child, dict) or (isinstance(child, list) and child and isinstance(child[0], dict)):
                _table_keys(child, f"{path}.{key}" if path else key, tables)
            elif key not in keys:
                keys.append(key)


def toml_keys(text: str) -> dict[str, dict[str, list[str]]]:
    """Table path -> {"keys": set keys (tomllib), "commented_keys": `# key = ` lines under it}."""
    tables: dict[str, list[str]] = {}
    for key, value in tomllib.loads(text).items():
        _table_keys(value, key, tables)
    commented: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if match := _TOML_TABLE.match(line):
            current = match.group(1)
        elif current and (match := _TOML_COMMENTED_KEY.match(line)):
            if match.group(1) not in tables.get(current, []) and match.group(1) not in commented.get(current, []):
                commented.setdefault(current, []).append(match.group(1))
    # A commented key that is a set key of another table is an example of that table (the sample's
    # `#   [servers.attributes] ... member_of = ...` block sits in [[servers]]'s comments).
    active = {key for keys in tables.values() for key in keys}
    commented = {table: [key for key in keys if key not in active] for table, keys in commented.items()}
    return {
        table: {"keys": tables.get(table, []), "commented_keys": commented.get(table, [])}
        for table in [*tables, *(t for t in commented if t not in tables)]
    }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def inventory(defaults: bytes, ldap: bytes, provenance: dict,
              labels: tuple[str, str] = (DEFAULTS_PATH, LDAP_PATH)) -> dict:
    return {
        "provenance": {
            **provenance,
            "files": {
                labels[0]: {"sha256": _sha256(defaults), "bytes": len(defaults)},
                labels[1]: {"sha256": _sha256(ldap), "bytes": len(ldap)},
            },
            "generator": "scripts/extract_grafana_keys.py",
        },
        "grafana_ini": ini_keys(defaults.decode()),
        "ldap_toml": toml_keys(ldap.decode()),
    }


def _git_show(git_dir: str, rev: str, path: str) -> bytes:
    return subprocess.run(["git", "--git-dir", git_dir, "show", f"{rev}:{path}"], check=True, capture_output=True).stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--git-dir", help="a grafana/grafana git directory holding --tag")
    parser.add_argument("--tag", help="the release tag to read (e.g. v11.6.3)")
    parser.add_argument("--defaults", help="a conf/defaults.ini file (instead of --git-dir)")
    parser.add_argument("--ldap", help="a conf/ldap.toml file (instead of --git-dir)")
    parser.add_argument("--source", default="", help="where --defaults/--ldap came from, for the provenance")
    parser.add_argument("--labels", nargs=2, metavar=("DEFAULTS", "LDAP"), default=(DEFAULTS_PATH, LDAP_PATH),
                        help="what the provenance calls the two input files (default: their upstream paths)")
    args = parser.parse_args(argv)
    if args.git_dir and args.tag:
        commit = subprocess.run(["git", "--git-dir", args.git_dir, "rev-list", "-n1", args.tag],
                                check=True, capture_output=True, text=True).stdout.strip()
        defaults, ldap = _git_show(args.git_dir, args.tag, DEFAULTS_PATH), _git_show(args.git_dir, args.tag, LDAP_PATH)
        provenance = {"repository": "grafana/grafana", "tag": args.tag, "commit": commit}
    elif args.defaults and args.ldap:
        with open(args.defaults, "rb") as d, open(args.ldap, "rb") as l:
            defaults, ldap = d.read(), l.read()
        provenance = {"source": args.source}
    else:
        parser.error("give --git-dir and --tag, or --defaults and --ldap")
    labels = tuple(args.labels) if not args.git_dir else (DEFAULTS_PATH, LDAP_PATH)
    json.dump(inventory(defaults, ldap, provenance, labels), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
