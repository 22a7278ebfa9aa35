"""The monitoring API: its image, built from this repository like the backup job's, and the service.

The build context is the `api/` package alone, so the tag's hash changes exactly when the API's
code or Dockerfile does.
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
from services.api import IMAGE_NAME
from settings.exporters import MockImageSettings

ROOT = Path(__file__).resolve().parent.parent
CONTEXT = Path("api")
DOCKERFILE = Path("images/monitoring-api/Dockerfile")


def context_files(root: Path = ROOT) -> list[str]:
    return package_context_files(root, CONTEXT, DOCKERFILE)


def image_reference(settings: MockImageSettings, root: Path = ROOT) -> str:
    """Pushed next to the mock exporter image (exporters.mock_image: registry and tag)."""
    return mock_image_reference(settings, files_digest(root, context_files(root)), IMAGE_NAME)


@dataclass
class MonitoringApiImageArgs:
    settings: MockImageSettings


class MonitoringApiImage(pulumi.ComponentResource):
    image: docker.Image
    image_name: pulumi.Output[str]

    def __init__(self, name: str, args: MonitoringApiImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("monitoring:api:MonitoringApiImage", name, None, opts)
        root = os.path.relpath(ROOT, os.getcwd())
        self.image = docker.Image(
            "monitoring-api",
            image_name=image_reference(args.settings),
            # For the Docker host's own platform, as the mock exporter image.
            build=docker.DockerBuildArgs(context=os.path.join(root, str(CONTEXT)), dockerfile=os.path.join(root, str(DOCKERFILE))),
            skip_push=args.settings.registry is None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.image_name = self.image.image_name
        self.register_outputs({"image_name": self.image_name})


class MonitoringApi(ServiceComponent):
    TYPE = "monitoring:api:MonitoringApi"
