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

from services.exporters import MOCK_IMAGE_NAME
from settings.exporters import MockImageSettings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = Path("images/mock-exporter/Dockerfile")
SOURCES = ("mock_exporter", "images/mock-exporter")


def sources_digest(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for top in SOURCES:
        for path in sorted((root / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def image_reference(settings: MockImageSettings, digest: str) -> str:
    repository = f"{settings.registry}/{MOCK_IMAGE_NAME}" if settings.registry else MOCK_IMAGE_NAME
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
            build=docker.DockerBuildArgs(
                context=context, dockerfile=os.path.join(context, str(DOCKERFILE)), platform="linux/amd64"
            ),
            skip_push=args.settings.registry is None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.image_name = self.image.image_name
        self.register_outputs({"image_name": self.image_name})
