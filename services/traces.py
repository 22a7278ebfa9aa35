"""Tempo and Pyroscope's service descriptions, and what the collector adds for traces and profiles:
the receiver ports applications send to, and the eBPF profiler's exception when it is on."""

from __future__ import annotations

import dataclasses

from profiles.alloy import GRAFANA_PPROF_PORT, PPROF_PORT_NAME
from profiles.pyroscope import CONFIG_FILE as PYROSCOPE_CONFIG
from profiles.pyroscope import DATA_DIR as PYROSCOPE_DATA
from profiles.pyroscope import pyroscope_command, render_pyroscope_config
from render.serialize import to_yaml
from services.exceptions import EBPF_PROFILER
from services.spec import ConfigFile, HttpHealthCheck, PortSpec, Resources, Security, ServiceSpec, VolumeSpec
from services.topology import CONTAINER_PORTS, Endpoints
from settings.images import image_has_wget
from settings.model import StackSettings
from traces.tempo import CONFIG_FILE as TEMPO_CONFIG
from traces.tempo import DATA_DIR as TEMPO_DATA
from traces.tempo import RECEIVER_PORTS, render_tempo_config, tempo_command, tempo_secret_env

# Both images' own unprivileged user (their Dockerfiles' `adduser -u 10001`), owner of their data dirs.
IMAGE_USER = "10001:10001"


def _receiver_ports(published: bool) -> tuple[PortSpec, ...]:
    return tuple(PortSpec(name, port, port if published else None) for name, port in RECEIVER_PORTS.items())


def tempo_service(settings: StackSettings, endpoints: Endpoints) -> ServiceSpec:
    tempo = settings.traces.tempo
    port = CONTAINER_PORTS["tempo"]
    config_dir = "/etc/tempo"
    return ServiceSpec(
        name="tempo",
        image=tempo.image,
        command=tempo_command(settings, f"{config_dir}/{TEMPO_CONFIG}"),
        config_dir=config_dir,
        files=(ConfigFile(TEMPO_CONFIG, to_yaml(render_tempo_config(settings, endpoints))),),
        secret_env=tempo_secret_env(settings),
        # Its own receivers for senders inside the stack; applications go through the collector.
        ports=(PortSpec("http", port), *_receiver_ports(published=False)),
        volumes=(VolumeSpec("data", TEMPO_DATA),),
        health=HttpHealthCheck(port, "/ready", start_period_s=60),
        resources=Resources(cpus=tempo.resources.cpus, memory_mb=tempo.resources.memory_mb),
        security=Security(user=IMAGE_USER),
        image_has_wget=image_has_wget("tempo", tempo.image),
        # Its metrics-generator writes to Prometheus' remote-write receiver.
        depends_on=("prometheus",),
    )


def pyroscope_service(settings: StackSettings) -> ServiceSpec:
    pyroscope = settings.profiles.pyroscope
    port = CONTAINER_PORTS["pyroscope"]
    config_dir = "/etc/pyroscope"
    return ServiceSpec(
        name="pyroscope",
        image=pyroscope.image,
        command=pyroscope_command(f"{config_dir}/{PYROSCOPE_CONFIG}"),
        config_dir=config_dir,
        files=(ConfigFile(PYROSCOPE_CONFIG, to_yaml(render_pyroscope_config(settings))),),
        ports=(PortSpec("http", port),),
        volumes=(VolumeSpec("data", PYROSCOPE_DATA),),
        health=HttpHealthCheck(port, "/ready", start_period_s=60),
        resources=Resources(cpus=pyroscope.resources.cpus, memory_mb=pyroscope.resources.memory_mb),
        security=Security(user=IMAGE_USER),
        image_has_wget=image_has_wget("pyroscope", pyroscope.image),
    )


def signal_services(settings: StackSettings, endpoints: Endpoints) -> dict[str, ServiceSpec]:
    """Tempo and Pyroscope, each when its signal is on."""
    services = {}
    if settings.runs_traces:
        services["tempo"] = tempo_service(settings, endpoints)
    if settings.runs_profiles:
        services["pyroscope"] = pyroscope_service(settings)
    return services


def with_signals(settings: StackSettings, collector: ServiceSpec) -> ServiceSpec:
    """The collector as the one collector: receiver ports, its new destinations, the eBPF exception."""
    if collector.name != "alloy":
        return collector
    ports = collector.ports
    depends_on = collector.depends_on
    if settings.runs_traces:
        ports += _receiver_ports(published=settings.traces.publish_receivers)
        depends_on += ("tempo",)
    if settings.runs_profiles:
        depends_on += ("pyroscope",)
    security = collector.security
    if settings.runs_profiles and settings.profiles.ebpf:
        security = Security(user="0:0", drop_capabilities=(), privileged=True, host_pid=True,
                            exception=f"{security.exception}; {EBPF_PROFILER}")
    return dataclasses.replace(collector, ports=ports, depends_on=depends_on, security=security)


def grafana_pprof_port(settings: StackSettings, grafana: ServiceSpec) -> ServiceSpec:
    """Grafana's pprof port and the environment that turns it on (render/grafana.py) for the
    collector to scrape."""
    from render.grafana import grafana_profiling_env

    if not (settings.runs_profiles and settings.profiles.stack):
        return grafana
    return dataclasses.replace(grafana, ports=grafana.ports + (PortSpec(PPROF_PORT_NAME, GRAFANA_PPROF_PORT),),
                               env={**grafana.env, **grafana_profiling_env(settings)})
