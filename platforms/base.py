"""What every platform offers the components: deploy a service description, say where it answers.

Components hold a `Platform` and never ask which one it is; `create_platform` picks it from the
settings (`monitoring:platform`).
"""

from __future__ import annotations

from typing import Mapping, Protocol, Sequence

import pulumi

from services.spec import ServiceSpec
from settings.model import StackSettings


class Platform(Protocol):
    settings: StackSettings

    def deploy(
        self,
        spec: ServiceSpec,
        parent: pulumi.Resource,
        secrets: Mapping[str, pulumi.Output[str]],
        depends_on: Sequence[pulumi.Resource] = (),
        built_image: pulumi.Resource | None = None,
    ) -> pulumi.CustomResource:
        """Declare the service's resources under `parent`; returns its workload (what dependants wait on)."""
        ...

    def internal_url(self, spec: ServiceSpec) -> str:
        """Where the other services reach it."""
        ...

    def external_url(self, spec: ServiceSpec) -> str | None:
        """Where a person reaches it, or None when it is internal only."""
        ...

    def workload_name(self, spec: ServiceSpec, workload: pulumi.CustomResource) -> pulumi.Output[str]:
        ...


def create_platform(settings: StackSettings, parent: pulumi.Resource, specs: Sequence[ServiceSpec]) -> Platform:
    """The stack's platform with its shared resources (network, namespaces, provider...)."""
    if settings.platform == "kubernetes":
        from platforms.kubernetes import KubernetesPlatform

        return KubernetesPlatform.create(settings, parent, specs)
    from platforms.docker import DockerPlatform

    return DockerPlatform.create(
        settings,
        parent=parent,
        needs_probe_kit=any(not s.image_has_wget and not s.health_command for s in specs),
    )
