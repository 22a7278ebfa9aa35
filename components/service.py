"""The shape every service component shares: a service description deployed on a platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import pulumi

from platforms.base import Platform
from services.spec import ServiceSpec


@dataclass
class ServiceArgs:
    spec: ServiceSpec
    platform: Platform
    secrets: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    # Services (their deployed resources) that must be healthy first.
    depends_on: Sequence[pulumi.Resource] = ()
    # The image built from this repository, for services described with `built_image`.
    built_image: pulumi.Resource | None = None


class ServiceComponent(pulumi.ComponentResource):
    """Base of the per-service components; subclasses set their permanent type token."""

    TYPE: str = ""
    internal_url: pulumi.Output[str]
    external_url: pulumi.Output[str | None]
    container_name: pulumi.Output[str]

    def __init__(self, name: str, args: ServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(self.TYPE, name, None, opts)
        spec = args.spec
        self.spec = spec
        self.workload = args.platform.deploy(
            spec, parent=self, secrets=args.secrets, depends_on=args.depends_on, built_image=args.built_image
        )
        self.internal_url = pulumi.Output.from_input(args.platform.internal_url(spec))
        self.external_url = pulumi.Output.from_input(args.platform.external_url(spec))
        self.container_name = args.platform.workload_name(spec, self.workload)
        self.register_outputs(
            {"internal_url": self.internal_url, "external_url": self.external_url, "container_name": self.container_name}
        )
