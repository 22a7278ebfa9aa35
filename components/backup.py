"""The backup job: its image, built from this repository like the mock exporter's, and the job itself.

The image's build context is the `backup/` package alone (standard-library Python), so its tag
hash changes exactly when the job's code or Dockerfile does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components.mock_exporter_image import files_digest, package_context_files
from components.mock_exporter_image import image_reference as mock_image_reference
from components.service import ServiceComponent
from services.backup import IMAGE_NAME
from settings.exporters import MockImageSettings

ROOT = Path(__file__).resolve().parent.parent
CONTEXT = Path("backup")
DOCKERFILE = Path("images/backup/Dockerfile")


def context_files(root: Path = ROOT) -> list[str]:
    """The files the image is built from: the package (no bytecode) and the Dockerfile."""
    return package_context_files(root, CONTEXT, DOCKERFILE)


def sources_digest(root: Path = ROOT) -> str:
    return files_digest(root, context_files(root))


def image_reference(settings: MockImageSettings, digest: str) -> str:
    """Pushed next to the mock exporter image (exporters.mock_image: registry and tag)."""
    return mock_image_reference(settings, digest, IMAGE_NAME)


@dataclass
class BackupImageArgs:
    settings: MockImageSettings


class BackupImage(pulumi.ComponentResource):
    image: docker.Image
    image_name: pulumi.Output[str]

    def __init__(self, name: str, args: BackupImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("monitoring:backup:BackupImage", name, None, opts)
        root = os.path.relpath(ROOT, os.getcwd())
        self.image = docker.Image(
            "backup",
            image_name=image_reference(args.settings, sources_digest()),
            # For the Docker host's own platform, as the mock exporter image.
            build=docker.DockerBuildArgs(context=os.path.join(root, str(CONTEXT)), dockerfile=os.path.join(root, str(DOCKERFILE))),
            skip_push=args.settings.registry is None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.image_name = self.image.image_name
        self.register_outputs({"image_name": self.image_name})


class BackupJob(ServiceComponent):
    """A backup job: a container running its schedule (Docker) or a CronJob (Kubernetes)."""

    TYPE = "monitoring:backup:BackupJob"
