"""The mock exporter image, built from this repository by the program itself.

The tag carries a hash of the mock's sources, so a code change is a new image and the mock
containers are replaced; with a registry setting the image is pushed there for clusters.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker
from docker.utils.build import exclude_paths

from services.exporters import MOCK_IMAGE_NAME
from settings.exporters import MockImageSettings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = Path("images/mock-exporter/Dockerfile")
# At the context root, where every builder looks (a `<Dockerfile>.dockerignore` is BuildKit's and
# pulumi-docker's only, and would take precedence over this one).
DOCKERIGNORE = Path(".dockerignore")


def build_context_files(root: Path = ROOT) -> list[str]:
    """The files the build sends to the daemon: the context minus .dockerignore, plus the Dockerfile,
    by Docker's own matching rules as docker-py implements them."""
    patterns = [
        line.strip()
        for line in (root / DOCKERIGNORE).read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    included = exclude_paths(str(root), patterns, dockerfile=str(DOCKERFILE))
    return sorted(path for path in included if (root / path).is_file())


def files_digest(root: Path, relpaths: list[str]) -> str:
    """A hash of these files' paths and contents: an image's tag suffix, which changes when, and
    only when, what the image is built from does."""
    digest = hashlib.sha256()
    for relpath in relpaths:
        digest.update(relpath.encode() + b"\0")
        digest.update((root / relpath).read_bytes())
    return digest.hexdigest()[:12]


def package_context_files(root: Path, package: Path, dockerfile: Path) -> list[str]:
    """The files an image whose build context is one package directory is built from: the package
    (no bytecode) and the Dockerfile."""
    files = sorted(
        str(path.relative_to(root))
        for path in (root / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )
    return [*files, str(dockerfile)]


def sources_digest(root: Path = ROOT) -> str:
    """A hash of exactly what the image is built from, so the tag changes when, and only when, it would."""
    return files_digest(root, build_context_files(root))


def image_reference(settings: MockImageSettings, digest: str, name: str = MOCK_IMAGE_NAME) -> str:
    """`[<registry>/]<name>:<tag>-<digest>`: the images the program builds share a registry and tag."""
    repository = f"{settings.registry}/{name}" if settings.registry else name
    return f"{repository}:{settings.tag}-{digest}"


@dataclass
class MockExporterImageArgs:
    settings: MockImageSettings


class MockExporterImage(pulumi.ComponentResource):
    image: docker.Image
    image_name: pulumi.Output[str]

    def __init__(self, name: str, args: MockExporterImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("monitoring:exporters:MockExporterImage", name, None, opts)
        reference = image_reference(args.settings, sources_digest())
        # Relative to where the CLI runs the program, so state does not record this machine's paths.
        context = os.path.relpath(ROOT, os.getcwd())
        self.image = docker.Image(
            "mock-exporter",
            image_name=reference,
            # No `platform`: the image is built for the Docker host's own platform (amd64 or arm64
            # alike), the one its containers run on.
            build=docker.DockerBuildArgs(context=context, dockerfile=os.path.join(context, str(DOCKERFILE))),
            skip_push=args.settings.registry is None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.image_name = self.image.image_name
        self.register_outputs({"image_name": self.image_name})
