"""The Docker platform: a private network, named volumes, pinned images and hardened containers.

Config documents reach containers as uploads (copied in before start), so the program works against
a remote Docker host too; secrets are uploads readable only by the service's user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_docker as docker

from services.spec import Resources, Security, ServiceSpec
from services.tls import probe_shell_command
from settings.images import default_image
from settings.model import StackSettings

SECRETS_DIR = "/run/secrets"
PROBE_KIT_DIR = "/opt/probe-kit"
LABEL_SERVICE = "monitoring.service"
LABEL_STACK = "monitoring.stack"
LABEL_CONFIG_DIR = "monitoring.config_dir"
LABEL_ROLE = "monitoring.role"
LABEL_SECURITY_EXCEPTION = "monitoring.security_exception"
# The one-shot copy of busybox into the probe-kit volume: root (owner of the fresh volume), no capabilities.
PROBE_KIT_SECURITY = Security(user="0:0")
PROBE_KIT_RESOURCES = Resources(cpus=0.1, memory_mb=32)


def docker_log_size(size: str) -> str:
    """`10MB` -> `10m`: Docker's json-file driver spells sizes with k/m/g."""
    number, unit = size[:-2] or size[:-1], size[-2:].upper()
    return {"KB": f"{number}k", "MB": f"{number}m", "GB": f"{number}g"}.get(unit, size.rstrip("B"))


def volume_name(prefix: str, service: str, volume: str) -> str:
    """The Docker name of a service's named volume (a successor finds its predecessor's by it)."""
    return f"{prefix}-{service}-{volume}"


def health_test(spec: ServiceSpec) -> list[str]:
    if spec.health_command:
        return ["CMD", *spec.health_command]
    url = f"http://{spec.health.host}:{spec.health.port}{spec.health.path}"
    wget = ["wget"] if spec.image_has_wget else [f"{PROBE_KIT_DIR}/busybox", "wget"]
    # HTTPS or credentials (security.tls/auth): a shell reads the Authorization header from its file.
    shell = ["sh"] if spec.image_has_wget else [f"{PROBE_KIT_DIR}/busybox", "sh"]
    if command := probe_shell_command(spec.health, " ".join(wget)):
        return ["CMD", *shell, "-c", command]
    return ["CMD", *wget, "-q", "-O", "/dev/null", "-T", str(spec.health.timeout_s), url]


@dataclass
class DockerPlatform:
    """Shared Docker resources of one stack, created once, used by every service component."""

    settings: StackSettings
    network: docker.Network
    probe_kit: docker.Container | None
    probe_kit_volume: docker.Volume | None

    @classmethod
    def create(cls, settings: StackSettings, parent: pulumi.Resource, needs_probe_kit: bool) -> "DockerPlatform":
        prefix = settings.prefix
        opts = pulumi.ResourceOptions(parent=parent)
        network = docker.Network(
            "network",
            name=f"{prefix}-net",
            driver="bridge",
            ipam_configs=[
                docker.NetworkIpamConfigArgs(subnet=str(settings.docker.subnet), gateway=settings.docker.gateway)
            ],
            labels=[docker.NetworkLabelArgs(label=LABEL_STACK, value=settings.environment)],
            opts=opts,
        )
        kit = kit_volume = None
        if needs_probe_kit:
            # Images without an HTTP client (distroless, scratch) get a static busybox for their health
            # check, copied once into a volume they mount read-only.
            kit_volume = docker.Volume(
                "probe-kit",
                name=f"{prefix}-probe-kit",
                labels=[docker.VolumeLabelArgs(label=LABEL_STACK, value=settings.environment)],
                opts=opts,
            )
            kit_image = docker.RemoteImage("probe-kit-image", name=default_image("probe_kit"), keep_locally=True, opts=opts)
            kit = docker.Container(
                "probe-kit",
                name=f"{prefix}-probe-kit",
                image=kit_image.image_id,
                command=["cp", "/bin/busybox", f"{PROBE_KIT_DIR}/busybox"],
                mounts=[docker.ContainerMountArgs(target=PROBE_KIT_DIR, type="volume", source=kit_volume.name)],
                # A one-shot init job: `up` waits for it to exit (attach) and keeps its output (logs),
                # so the exit code is known before any dependant starts; it is not restarted.
                must_run=False,
                attach=True,
                logs=True,
                restart="no",
                network_mode="none",
                # The fresh volume is root's: root without capabilities may still write to it.
                **_hardened(settings, PROBE_KIT_SECURITY, PROBE_KIT_RESOURCES),
                labels=_labels(settings, "probe-kit", role="init"),
                opts=opts,
            )
        return cls(settings, network, kit, kit_volume)

    @property
    def probe_kit_source(self) -> pulumi.Output[str]:
        """The probe-kit volume's name, available only once the copy into it exited 0: a failed copy
        fails `pulumi up` here, naming the copy, instead of as later health-check time-outs."""
        assert self.probe_kit is not None and self.probe_kit_volume is not None
        return pulumi.Output.all(self.probe_kit.exit_code, self.probe_kit.container_logs, self.probe_kit_volume.name).apply(
            lambda values: probe_kit_copied(*values)
        )

    def deploy(
        self,
        spec: ServiceSpec,
        parent: pulumi.Resource,
        secrets: Mapping[str, pulumi.Output[str]],
        depends_on: Sequence[pulumi.Resource] = (),
        built_image: docker.Image | None = None,
    ) -> docker.Container:
        settings = self.settings
        prefix = settings.prefix
        opts = pulumi.ResourceOptions(parent=parent)
        if spec.built_image:
            if built_image is None:
                raise ValueError(f"{spec.name}: a built image must be passed for a service built from this repository")
            image_ref: pulumi.Input[str] = built_image.image_name
            waits_on_image: list[pulumi.Resource] = [built_image]
        else:
            pulled = docker.RemoteImage(f"{spec.name}-image", name=spec.image, keep_locally=True, opts=opts)
            image_ref, waits_on_image = pulled.image_id, []

        mounts: list[docker.ContainerMountArgs] = []
        for volume_spec in spec.volumes:
            if volume_spec.borrowed_from:
                # By name: Docker creates it empty if its owner never ran on this host.
                source = volume_name(prefix, volume_spec.borrowed_from, volume_spec.name)
                mounts.append(docker.ContainerMountArgs(
                    target=volume_spec.mount_path, type="volume", source=source, read_only=not volume_spec.borrowed_writable))
                continue
            protect = settings.protect_state and volume_spec.stateful and not volume_spec.outlives_service
            volume = docker.Volume(
                f"{spec.name}-{volume_spec.name}",
                name=volume_name(prefix, spec.name, volume_spec.name),
                labels=[
                    docker.VolumeLabelArgs(label=LABEL_STACK, value=settings.environment),
                    docker.VolumeLabelArgs(label=LABEL_SERVICE, value=spec.name),
                ],
                opts=pulumi.ResourceOptions(
                    parent=parent, protect=protect, retain_on_delete=protect or volume_spec.outlives_service
                ),
            )
            mounts.append(docker.ContainerMountArgs(target=volume_spec.mount_path, type="volume", source=volume.name))
        for host_mount in spec.host_mounts:
            mounts.append(
                docker.ContainerMountArgs(
                    target=host_mount.mount_path,
                    type="bind",
                    source=host_mount.host_path,
                    read_only=True,
                    bind_options=docker.ContainerMountBindOptionsArgs(propagation=host_mount.propagation)
                    if host_mount.propagation
                    else None,
                )
            )
        waits_for = [*depends_on, *waits_on_image]
        if not spec.image_has_wget and self.probe_kit is not None:
            mounts.append(
                docker.ContainerMountArgs(target=PROBE_KIT_DIR, type="volume", source=self.probe_kit_source, read_only=True)
            )
            waits_for.append(self.probe_kit)

        uploads = [
            docker.ContainerUploadArgs(file=f"{spec.config_dir}/{f.relpath}", content=f.content, permissions="0444")
            for f in spec.files
        ]
        owner = (spec.security.user or "0").split(":")[0]
        uploads += [
            docker.ContainerUploadArgs(
                file=f"{SECRETS_DIR}/{s.file_name}", content=secrets[s.secret_key], owner=owner, permissions="0400"
            )
            for s in spec.secret_files
        ]
        health = spec.health
        security = spec.security
        envs: list[pulumi.Input[str]] = [f"{key}={value}" for key, value in sorted(spec.env.items())]
        envs += [
            pulumi.Output.concat(variable, "=", secrets[secret_key])
            for variable, secret_key in sorted(spec.secret_env.items())
        ]
        return docker.Container(
            spec.name,
            name=f"{prefix}-{spec.name}",
            image=image_ref,
            # A scheduled job runs its own loop here: Docker has no scheduler.
            command=list(spec.schedule.loop_command if spec.schedule else spec.command) or None,
            envs=envs,
            ports=[
                docker.ContainerPortArgs(
                    internal=port.container_port, external=port.published, ip=str(settings.exposure.bind_address)
                )
                for port in spec.ports
                if port.published is not None
            ],
            mounts=mounts,
            uploads=uploads,
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=health_test(spec),
                interval=f"{health.interval_s}s",
                timeout=f"{health.timeout_s}s",
                retries=health.retries,
                start_period=f"{health.start_period_s}s",
            ),
            # `pulumi up` waits for the health check to pass, so dependants start after a healthy service.
            wait=True,
            wait_timeout=health.start_period_s + health.retries * health.interval_s + 60,
            restart="unless-stopped",
            **_hardened(settings, security, spec.resources),
            pid_mode="host" if security.host_pid else None,
            gpus=security.gpus,
            devices=[docker.ContainerDeviceArgs(host_path=device) for device in security.devices] or None,
            # Host-network services are reached at the network's gateway address instead of an alias.
            network_mode="host" if security.host_network else None,
            networks_advanced=None
            if security.host_network
            else [docker.ContainerNetworksAdvancedArgs(name=self.network.name, aliases=[spec.name])],
            labels=_labels(settings, spec.name, config_dir=spec.config_dir, exception=security.exception),
            # Graceful shutdown: SIGTERM, then this long before SIGKILL (TSDB and WAL flushes).
            stop_signal="SIGTERM",
            stop_timeout=30,
            destroy_grace_seconds=30,
            opts=pulumi.ResourceOptions(
                parent=parent, depends_on=[*waits_for, self.network] if security.host_network else waits_for
            ),
        )

    def internal_url(self, spec: ServiceSpec) -> str:
        # Host-network services are reached at the stack network's gateway address instead of an alias.
        host = self.settings.docker.gateway if spec.security.host_network else spec.name
        # https when the service serves TLS (services/tls.py sets its health check's scheme).
        return f"{spec.health.scheme}://{host}:{spec.health.port}"

    def external_url(self, spec: ServiceSpec) -> str | None:
        http = spec.ports[0] if spec.ports else None
        if not http or not http.published:
            return None
        host = str(self.settings.exposure.bind_address)
        return f"{spec.health.scheme}://{'127.0.0.1' if host == '0.0.0.0' else host}:{http.published}"

    def workload_name(self, spec: ServiceSpec, workload: pulumi.CustomResource) -> pulumi.Output[str]:
        return workload.name


def probe_kit_copied(exit_code: int | None, logs: str | None, volume_name: str) -> str:
    """The probe-kit volume's name once the copy succeeded; an error naming the copy otherwise.

    terraform-provider-docker v4.5.0 (pulumi-docker 5.x) waits for an attached container to stop
    but does not fail on its exit code; it records `exit_code` (and, with `logs`, the output)."""
    if exit_code != 0:
        raise RuntimeError(
            f"the probe-kit copy (busybox into volume {volume_name}) exited with code {exit_code}: "
            f"{(logs or '').strip()[-500:] or 'no output'}"
        )
    return volume_name


def _hardened(settings: StackSettings, security: Security, resources: Resources) -> dict[str, Any]:
    """What every container of the stack gets: an explicit user, bounded memory (no swap beyond it)
    and CPU, rotated logs, no privilege gain and no capabilities beyond its documented exception."""
    capabilities = None
    if security.drop_capabilities or security.add_capabilities:
        # Never with `privileged` (services.spec.Security refuses it): privileged grants everything.
        capabilities = docker.ContainerCapabilitiesArgs(
            drops=list(security.drop_capabilities) or None, adds=list(security.add_capabilities) or None
        )
    return {
        "user": security.user,
        "memory": resources.memory_mb,
        "memory_swap": resources.memory_mb,
        "cpus": f"{resources.cpus:g}",
        "capabilities": capabilities,
        "security_opts": ["no-new-privileges:true"] if security.no_new_privileges else [],
        "privileged": security.privileged or None,
        "log_driver": "json-file",
        "log_opts": {
            "max-size": docker_log_size(settings.docker.log_max_size),
            "max-file": str(settings.docker.log_max_files),
        },
    }


def _labels(
    settings: StackSettings,
    service: str,
    config_dir: str | None = None,
    role: str = "service",
    exception: str | None = None,
) -> list[Any]:
    labels = {LABEL_STACK: settings.environment, LABEL_SERVICE: service, LABEL_ROLE: role}
    if config_dir:
        labels[LABEL_CONFIG_DIR] = config_dir
    if exception:
        # Why this container needs more than the hardened defaults, visible in `docker inspect`.
        labels[LABEL_SECURITY_EXCEPTION] = exception
    return [docker.ContainerLabelArgs(label=key, value=value) for key, value in sorted(labels.items())]
