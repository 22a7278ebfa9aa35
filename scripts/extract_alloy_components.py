"""Extract the components, blocks and arguments of a pinned Grafana Alloy release from its reference docs.

    python -m scripts.extract_alloy_components <git dir of grafana/alloy> v1.11.3 > logs/upstream/alloy-v1.11.3-components.json

For each component page under `docs/sources/reference/components/` of the namespaces the stack uses
(and the `logging` and `http` configuration blocks): its arguments (the `## Arguments` tables), every block path
of its `## Blocks` table (`a > b` nesting), and each block's arguments (the tables of the section the
block links to, including the shared snippets a section pulls in with `docs/shared lookup=`), and
blocks only the page's Usage example shows.
Tests refuse any component, block or argument of the rendered config.alloy missing from it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

NAMESPACES = ("otelcol", "pyroscope", "loki", "discovery", "local")
# `http`: Alloy's own server (its TLS and basic auth; what its source says: alloy-v1.11.3-http-block.md).
CONFIG_BLOCKS = ("logging", "http")


def _git(git_dir: str, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, *args], check=True, capture_output=True, text=True).stdout


def _table_names(text: str) -> set[str]:
    """First-column names of the `| Name | ...` tables in a piece of markdown."""
    names: set[str] = set()
    for table in re.findall(r"^\| Name .*?\n((?:\|.*\n)+)", text, re.M):
        for row in table.splitlines()[1:]:
            match = re.match(r"\|\s*`([\w.]+)`", row)
            if match:
                names.add(match.group(1))
    return names


def _sections(text: str) -> dict[str, str]:
    """Heading anchor -> the section's text (up to the next heading of level 2 or 3)."""
    parts = re.split(r"^(#{2,3} .+)$", text, flags=re.M)
    sections = {}
    for heading, body in zip(parts[1::2], parts[2::2]):
        anchor = re.sub(r"[^\w -]", "", heading.lstrip("#").strip()).strip().lower().replace(" ", "-")
        sections[anchor] = body
    return sections


def component_inventory(git_dir: str, tag: str, path: str) -> dict[str, list[str]]:
    text = _git(git_dir, "show", f"{tag}:{path}")

    def expand(body: str) -> str:
        for lookup in re.findall(r'docs/shared lookup="([^"]+)"', body):
            body += _git(git_dir, "show", f"{tag}:docs/sources/shared/{lookup}")
        return body

    sections = _sections(text)
    references = dict(re.findall(r"^\[([\w.-]+)\]: #([\w.-]+)\s*$", text, re.M))
    inventory = {"": sorted(_table_names(expand(sections.get("arguments", ""))))}
    for row in re.findall(r"^\|\s*((?:`[\w.-]+`\s*>\s*)*\[`[\w.-]+`\]\[[\w.-]+\])\s*\|", sections.get("blocks", ""), re.M):
        names = re.findall(r"`([\w.-]+)`", row)
        label = re.search(r"\]\[([\w.-]+)\]", row).group(1)
        body = sections.get(references.get(label, label), "")
        inventory["/".join(names)] = sorted(_table_names(expand(body)))
    # A few pages leave a block out of their Blocks table but show it in their Usage example
    # (otelcol.processor.probabilistic_sampler's `output`, present in its source): take those too.
    usage = re.search(r"```alloy\n(.*?)```", sections.get("usage", ""), re.S)
    for name, body in re.findall(r"^  ([\w.]+) \{\n(.*?)^  \}", usage.group(1) if usage else "", re.M | re.S):
        inventory.setdefault(name, sorted(set(re.findall(r"^    (\w+)\s*=", body, re.M))))
    return inventory


def alloy_inventory(git_dir: str, tag: str) -> dict[str, dict[str, list[str]]]:
    inventory = {}
    files = _git(git_dir, "ls-tree", "-r", "--name-only", tag, "docs/sources/reference/").splitlines()
    for path in files:
        name = path.rsplit("/", 1)[-1].removesuffix(".md")
        in_namespace = "/components/" in path and name.split(".")[0] in NAMESPACES and "." in name
        if in_namespace or ("/config-blocks/" in path and name in CONFIG_BLOCKS):
            inventory[name] = component_inventory(git_dir, tag, path)
    return inventory


if __name__ == "__main__":
    git_dir, tag = sys.argv[1:3]
    print(json.dumps({"source": f"grafana/alloy {tag} docs/sources/reference", "components": alloy_inventory(git_dir, tag)},
                     indent=1, sort_keys=True))
