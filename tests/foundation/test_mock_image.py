"""The mock exporter image: built for the Docker host's platform, from a context of exactly what it
copies, tagged by a hash of exactly that context."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from components.mock_exporter_image import DOCKERFILE, DOCKERIGNORE, build_context_files, sources_digest
from tests.conftest import ROOT, STACKS

IMAGE = "docker:index/image:Image"


@pytest.mark.parametrize("stack", STACKS)
def test_the_image_is_built_for_the_docker_hosts_platform(previews, stack):
    """Mutation caught: the build forced to one platform again (`linux/amd64` fails on arm64 hosts)."""
    # The mock exporter's image (the backup job's has its own context: tests/backup).
    images = [image for image in previews[stack].of_type(IMAGE) if image["name"] == "mock-exporter"]
    assert images, "both stacks run a mock, so both build the image"
    for image in images:
        build = image["inputs"]["build"]
        assert "platform" not in build, build
        assert build["dockerfile"].endswith(str(DOCKERFILE))


def test_the_build_context_is_what_the_image_copies_and_nothing_else():
    """Mutations caught: .dockerignore removed or widened (.venv, .git, build/, Pulumi state and
    tests sent and hashed on every `up`), or narrowed below what the Dockerfile copies."""
    files = build_context_files()
    sources = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "mock_exporter").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert set(files) == {str(DOCKERIGNORE), str(DOCKERFILE), *sources}
    copied = [line.split()[1] for line in (ROOT / DOCKERFILE).read_text().splitlines() if line.startswith("COPY ")]
    assert copied and all(any(f.startswith(source.rstrip("/")) for f in files) for source in copied), copied
    # A Dockerfile-specific ignore file would take precedence (BuildKit, pulumi-docker) over the
    # root one that every builder reads: one file only.
    assert not (ROOT / f"{DOCKERFILE}.dockerignore").exists()


def test_the_tag_hash_follows_the_context_exactly(tmp_path: Path):
    """Mutations caught: a source or the Dockerfile left out of the hash (a changed mock keeps its
    old tag: no rebuild, no replacement), or files outside the context hashed (needless rebuilds)."""
    for relpath in (str(DOCKERIGNORE), str(DOCKERFILE), "mock_exporter/__init__.py", "mock_exporter/vllm.py"):
        (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relpath, tmp_path / relpath)
    original = sources_digest(tmp_path)
    for outside in (".venv/lib/site.py", ".git/HEAD", "build/staging/resources.json", ".pulumi/stacks/s.json",
                    "tests/test_x.py", "README.md", "mock_exporter/__pycache__/vllm.cpython-311.pyc"):
        (tmp_path / outside).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / outside).write_text("changes outside the image")
    assert sources_digest(tmp_path) == original
    for inside in ("mock_exporter/vllm.py", str(DOCKERFILE)):
        path = tmp_path / inside
        before = path.read_text()
        path.write_text(before + "\n# changed\n")
        assert sources_digest(tmp_path) != original, inside
        path.write_text(before)
    assert sources_digest(tmp_path) == original


def test_the_image_installs_the_traced_workloads_packages_at_the_pinned_versions():
    """Mutation caught: the image's OpenTelemetry pins drifting from requirements.txt (the traced
    workload tested here with one version, shipped with another), or the install step removed."""
    import re

    pins = dict(re.findall(r"^(opentelemetry-[a-z-]+)==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M))
    installed = dict(re.findall(r"(opentelemetry-[a-z-]+)==(\S+)", (ROOT / DOCKERFILE).read_text()))
    assert pins and installed == pins
