"""`python -m render.file_sd_check DIR`: check a `prometheus.targets_dir` before Prometheus reads it.

Prometheus reads `<dir>/<exporter>/*.yml` (render/exporters.py) and, on a malformed file, only logs
it and keeps the file's previous targets: a typo silently stops a host from being scraped. This
reads the same files and prints one `<file>:<line>: <problem>` line per problem (exit 1), or a
summary (exit 0). The format is Prometheus' file_sd: a list of `{targets: [host:port, ...],
labels: {name: value}}` groups.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from exporters.catalog import EXPORTERS

TARGET = re.compile(r"^[A-Za-z0-9._-]+:\d{1,5}$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# The scrape jobs' relabelling sets these on every target (render/exporters.py `_source_labels`).
STACK_LABELS = ("exporter", "source", "env")


def check_file(path: Path) -> tuple[list[str], int]:
    """(problems, number of targets) of one file_sd file."""
    try:
        root = yaml.compose(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line = mark.line + 1 if mark else 1
        return [f"{path}:{line}: is not YAML: {getattr(error, 'problem', None) or error}"], 0
    except UnicodeDecodeError:
        return [f"{path}:1: is not UTF-8 text"], 0
    if root is None:
        return [], 0  # an empty file: no targets
    problems: list[str] = []
    targets = 0

    def problem(node: yaml.Node, text: str) -> None:
        problems.append(f"{path}:{node.start_mark.line + 1}: {text}")

    if not isinstance(root, yaml.SequenceNode):
        problem(root, "is not a list of target groups ({targets: [host:port, ...], labels: {...}})")
        return problems, 0
    for group in root.value:
        if not isinstance(group, yaml.MappingNode):
            problem(group, "is not a target group ({targets: [host:port, ...], labels: {...}})")
            continue
        keys = {key.value: (key, value) for key, value in group.value}
        for name, (key, _) in keys.items():
            if name not in ("targets", "labels"):
                problem(key, f"{name!r} is not a key of a target group; known keys: labels, targets")
        if "targets" not in keys:
            problem(group, "has no targets")
        else:
            listed = keys["targets"][1]
            if not isinstance(listed, yaml.SequenceNode) or not listed.value:
                problem(listed, "targets is not a non-empty list of host:port")
            else:
                for target in listed.value:
                    if not isinstance(target, yaml.ScalarNode) or not TARGET.match(target.value):
                        problem(target, f"{getattr(target, 'value', '')!r} is not a host:port target")
                    else:
                        targets += 1
        if "labels" in keys:
            labels = keys["labels"][1]
            if not isinstance(labels, yaml.MappingNode):
                problem(labels, "labels is not a mapping of label names to values")
                continue
            for name, value in labels.value:
                if not LABEL_NAME.match(str(name.value)) or str(name.value).startswith("__"):
                    problem(name, f"{name.value!r} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)")
                elif name.value in STACK_LABELS:
                    problem(name, f"{name.value!r} is set by the stack on every target; remove it")
                elif not isinstance(value, yaml.ScalarNode) or value.tag == "tag:yaml.org,2002:null":
                    problem(value, f"the value of {name.value!r} is not text")
    return problems, targets


def check_directory(directory: Path) -> tuple[list[str], int, int]:
    """(problems, files read, targets) of a targets_dir as the stack's Prometheus reads it."""
    if not directory.is_dir():
        return [f"{directory}: is not a directory"], 0, 0
    problems: list[str] = []
    files = targets = 0
    for entry in sorted(directory.iterdir()):
        if not entry.is_dir():
            problems.append(f"{entry}: is not read: files go in <dir>/<exporter>/*.yml")
            continue
        if entry.name not in EXPORTERS:
            problems.append(f"{entry}: is not an exporter's directory; known: {', '.join(EXPORTERS)}")
            continue
        for path in sorted(entry.iterdir()):
            if path.suffix != ".yml" or not path.is_file():
                problems.append(f"{path}: is not read: only *.yml files are")
                continue
            found, count = check_file(path)
            problems += found
            files += 1
            targets += count
    return problems, files, targets


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m render.file_sd_check DIR", file=sys.stderr)
        return 2
    problems, files, targets = check_directory(Path(args[0]))
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        return 1
    print(f"ok: {targets} targets in {files} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
