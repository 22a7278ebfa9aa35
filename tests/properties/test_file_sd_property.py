"""Generated file_sd directories (`prometheus.targets_dir`) through `python -m render.file_sd_check`:
valid ones pass with every target counted; one malformed entry gives exactly one line naming the
file and the line it is on. Derandomized (fixed seed per test, `print_blob` on failure).
"""

from __future__ import annotations

import subprocess
import sys

import yaml
from hypothesis import given
from hypothesis import strategies as st

from render.file_sd_check import check_directory
from tests.conftest import ROOT
from tests.properties.support import replayable

MARK = "zz9"  # appears only where the generator put the problem
EXPORTER_DIRS = ("node", "cadvisor", "vllm", "blackbox")
targets = st.builds(lambda host, port: f"{host}:{port}", st.from_regex(r"[a-y][a-y0-9.-]{0,12}", fullmatch=True), st.integers(1, 65535))
labels = st.dictionaries(
    st.from_regex(r"[a-y][a-y0-9_]{0,10}", fullmatch=True).filter(lambda name: name not in ("exporter", "source", "env")),
    st.from_regex(r"[a-y0-9 ._-]{1,12}", fullmatch=True),
    max_size=3,
)
groups = st.lists(st.fixed_dictionaries({"targets": st.lists(targets, min_size=1, max_size=4)}, optional={"labels": labels}), min_size=1, max_size=4)
CORRUPTIONS = {
    "bad target": lambda group: group["targets"].append(f"host {MARK}:80"),
    "bad label name": lambda group: group.setdefault("labels", {}).update({f"bad-{MARK}": "x"}),
    "stack label": lambda group: group.setdefault("labels", {}).update({"env": MARK}),
    "unknown key": lambda group: group.update({f"tragets_{MARK}": ["a:1"]}),
}


def write(directory, files: dict[str, list]) -> dict:
    written = {}
    for index, (exporter, content) in enumerate(files.items()):
        path = directory / exporter / f"hosts-{index}.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(content, default_flow_style=False, width=1000))
        written[exporter] = path
    return written


@replayable(150)
@given(files=st.dictionaries(st.sampled_from(EXPORTER_DIRS), groups, min_size=1, max_size=3))
def test_valid_target_files_pass_with_every_target_counted(tmp_path_factory, files):
    directory = tmp_path_factory.mktemp("targets")
    write(directory, files)
    problems, read, counted = check_directory(directory)
    assert problems == [] and read == len(files)
    assert counted == sum(len(group["targets"]) for content in files.values() for group in content)


@replayable(200)
@given(
    files=st.dictionaries(st.sampled_from(EXPORTER_DIRS), groups, min_size=1, max_size=3),
    corruption=st.sampled_from(sorted(CORRUPTIONS)),
    where=st.integers(0, 100),
)
def test_a_malformed_entry_names_its_file_and_line(tmp_path_factory, files, corruption, where):
    directory = tmp_path_factory.mktemp("targets")
    exporter = sorted(files)[where % len(files)]
    content = files[exporter]
    CORRUPTIONS[corruption](content[where % len(content)])
    path = write(directory, files)[exporter]
    line = next(number for number, text in enumerate(path.read_text().splitlines(), 1) if MARK in text)
    problems, _, _ = check_directory(directory)
    assert len(problems) == 1 and problems[0].startswith(f"{path}:{line}: "), (problems, path.read_text())


def test_the_command_names_files_it_will_not_read_and_broken_yaml(tmp_path):
    (tmp_path / "node").mkdir()
    (tmp_path / "node" / "hosts.yaml").write_text("- targets: [db-1:9100]\n")  # Prometheus globs *.yml only
    (tmp_path / "node" / "broken.yml").write_text("- targets: [db-1:9100\n- labels: {}\n")
    (tmp_path / "nodes").mkdir()  # no such exporter
    result = subprocess.run([sys.executable, "-m", "render.file_sd_check", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith(f"{tmp_path}/node/broken.yml:2: is not YAML")
    assert lines[1] == f"{tmp_path}/node/hosts.yaml: is not read: only *.yml files are"
    assert lines[2].startswith(f"{tmp_path}/nodes: is not an exporter's directory; known: node, ")
    (tmp_path / "node" / "hosts.yaml").rename(tmp_path / "node" / "hosts.yml")
    (tmp_path / "node" / "broken.yml").unlink()
    (tmp_path / "nodes").rmdir()
    result = subprocess.run([sys.executable, "-m", "render.file_sd_check", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == "ok: 1 targets in 1 files\n", result.stderr
