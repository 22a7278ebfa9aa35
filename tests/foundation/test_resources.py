"""The resource graph of both stacks, as the mock engine records it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from platforms.docker import PROBE_KIT_DIR, probe_kit_copied
from services.spec import Security
from settings.types import _image  # the same pin rule the settings apply
from tests.conftest import ROOT, STACKS, stack_settings

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/remoteImage:RemoteImage"
WORKLOADS = (CONTAINER, "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:DaemonSet")
# Both stack files run Grafana Alloy as the log collector (Promtail is covered in tests/logs).
SERVICES = ("prometheus", "alertmanager", "grafana", "loki", "alloy")
# Exporters that must see the host, as their upstream documents (node_exporter, cAdvisor, DCGM).
DOCUMENTED_EXCEPTIONS = {"node-exporter", "cadvisor", "dcgm-exporter"}
STATEFUL_MOUNTS = {
    "prometheus": "/prometheus",
    "alertmanager": "/alertmanager",
    "loki": "/loki",
    "grafana": "/var/lib/grafana",
    "tempo": "/var/tempo",
    "pyroscope": "/data",
}


# The stacks deployed on Docker (containers, bind mounts, the probe kit), whichever they are.
DOCKER_STACKS = tuple(stack for stack in STACKS if stack_settings(stack).platform == "docker")


def labels(resource):
    return {item["label"]: item["value"] for item in resource["inputs"].get("labels", [])}


def service_containers(preview):
    return [c for c in preview.of_type(CONTAINER) if labels(c).get("monitoring.role") == "service"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_service_has_a_component_with_its_type_token(previews, stack):
    preview = previews[stack]
    stack_component = preview.named("monitoring:stack:MonitoringStack", "monitoring")
    for service in SERVICES:
        component = preview.named(f"monitoring:{service}:{service.capitalize()}", service)
        assert component["parent"] == stack_component["urn"]
        # Its workload: a Docker container, or a Kubernetes StatefulSet, Deployment or DaemonSet.
        workloads = [r for r in preview.resources if r["type"] in WORKLOADS and r["name"] == service]
        assert [w["parent"] for w in workloads] == [component["urn"]], service


@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_every_container_is_hardened_and_bounded(previews, stack):
    """Every container the stack declares, services and one-shot jobs alike (the probe kit too).

    Mutations caught: a capability kept (drops other than ALL) on any container, including the
    probe kit; no-new-privileges, the explicit user, a limit or log rotation removed from one."""
    preview = previews[stack]
    containers = preview.of_type(CONTAINER)
    assert {labels(c)["monitoring.service"] for c in containers} >= {*SERVICES, "probe-kit"}
    for container in containers:
        inputs = container["inputs"]
        name = container["name"]
        if inputs.get("privileged"):
            # Privileged holds every capability: a drop list would be void, so none is declared.
            assert "capabilities" not in inputs, f"{name}: capability drops beside privileged are void"
            assert "privileged" in labels(container).get("monitoring.security_exception", ""), name
        else:
            assert inputs["capabilities"]["drops"] == ["ALL"], name
        assert "no-new-privileges:true" in inputs["securityOpts"], name
        assert inputs.get("user"), f"{name}: runs as an explicit user"
        assert inputs["memory"] >= 32 and float(inputs["cpus"]) > 0, name
        assert inputs["memorySwap"] == inputs["memory"], f"{name}: no swap beyond the memory limit"
        assert inputs["logDriver"] == "json-file" and {"max-size", "max-file"} <= set(inputs["logOpts"]), name
        widened = [
            inputs.get("privileged"),
            inputs.get("networkMode") == "host",
            inputs.get("pidMode") == "host",
            inputs.get("capabilities", {}).get("adds"),
            inputs.get("devices"),
        ]
        if any(widened):
            assert labels(container).get("monitoring.security_exception"), f"{name}: undocumented exception"
            assert name in DOCUMENTED_EXCEPTIONS, f"{name}: only exporters that measure the host may widen access"


@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_every_service_is_health_checked_and_restarted(previews, stack):
    preview = previews[stack]
    for container in service_containers(preview):
        inputs = container["inputs"]
        name = container["name"]
        probe = inputs["healthcheck"]["tests"]
        assert probe[0] == "CMD", name
        # busybox wget (the image's own or the probe kit's), or Python's urllib in the mock image.
        assert "wget" in " ".join(probe[1:3]) or "urllib.request.urlopen" in probe[-1], name
        assert "http://" in " ".join(probe), f"{name}: probes the service over HTTP"
        assert inputs["wait"] is True, f"{name}: dependants must wait for a healthy container"
        assert inputs["restart"] == "unless-stopped", name


def test_a_privileged_service_cannot_also_declare_capability_drops():
    """Mutation caught: cAdvisor declared privileged *and* drop-ALL again (the spec refuses it)."""
    with pytest.raises(ValueError, match="privileged service has every capability"):
        Security(user="0:0", privileged=True, exception="privileged: measures the host")
    with pytest.raises(ValueError, match="must say in its exception"):
        Security(user="0:0", privileged=True, drop_capabilities=(), exception="measures the host")


@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_host_mounts_are_read_only(previews, stack):
    """Mutation caught: a host path mounted writable - the host's `/` (node exporter, cAdvisor) or the
    Docker socket (the log collector) - or a host mount dropped. Checks the deployed mounts, not paths."""
    preview = previews[stack]
    settings = stack_settings(stack)
    binds = {
        (container["name"], mount["source"]): mount
        for container in preview.of_type(CONTAINER)
        for mount in container["inputs"].get("mounts", [])
        if mount["type"] == "bind"
    }
    sources = {source for _, source in binds}
    assert "/" in sources and settings.docker.socket_path in sources
    for (name, source), mount in binds.items():
        assert mount.get("readOnly") is True, f"{name}: host path {source} is mounted writable"


@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_the_probe_kit_copy_is_awaited_and_its_exit_code_gates_its_users(previews, stack):
    """Mutations caught: the copy no longer attached (not awaited) or its logs not kept; a container
    mounting the kit without depending on the copy."""
    preview = previews[stack]
    kit = preview.named(CONTAINER, "probe-kit")
    assert (kit["inputs"]["attach"], kit["inputs"]["logs"], kit["inputs"]["mustRun"]) == (True, True, False)
    users = [
        container
        for container in preview.of_type(CONTAINER)
        if any(m["target"] == PROBE_KIT_DIR for m in container["inputs"]["mounts"]) and container is not kit
    ]
    assert users, "some image needs the probe kit"
    for container in users:
        assert kit["urn"] in container["dependencies"], container["name"]


def test_a_failed_probe_kit_copy_fails_the_deploy_naming_the_copy():
    """Mutation caught: the exit-code check removed (a failed copy would surface later as unrelated
    health-check time-outs)."""
    assert probe_kit_copied(0, "", "kit") == "kit"
    with pytest.raises(RuntimeError, match=r"probe-kit copy .* exited with code 1: cp: can't create"):
        probe_kit_copied(1, "cp: can't create '/opt/probe-kit/busybox': Permission denied\n", "kit")
    with pytest.raises(RuntimeError, match="exited with code None"):
        probe_kit_copied(None, None, "kit")


@pytest.mark.parametrize("stack", STACKS)
def test_images_are_pinned_and_pulled_by_pinned_reference(previews, stack):
    preview = previews[stack]
    images = {r["urn"]: r["inputs"]["name"] for r in preview.of_type(IMAGE)}
    # The mock exporter image is built from this repository, tagged with a hash of its sources.
    images |= {r["urn"]: r["inputs"]["imageName"] for r in preview.of_type("docker:index/image:Image")}
    assert images
    for reference in images.values():
        _image(reference)  # raises on latest/untagged
    for container in preview.of_type(CONTAINER):
        assert container["inputs"]["image"] in images.values(), container["name"]
        assert any(dep in images for dep in container["dependencies"]), container["name"]


@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_only_intended_ports_are_published_on_the_configured_address(previews, stack):
    preview = previews[stack]
    settings = stack_settings(stack)
    published = {}
    for container in preview.of_type(CONTAINER):
        for port in container["inputs"].get("ports", []):
            assert port["ip"] == str(settings.exposure.bind_address) == "127.0.0.1", container["name"]
            published.setdefault(container["name"], set()).add((port["internal"], port["external"]))
    assert published == {
        "grafana": {(3000, settings.grafana.port)},
        # Prometheus through its read-only proxy (test_prometheus_proxy.py).
        "prometheus-proxy": {(8080, settings.prometheus.port)},
        "loki": {(3100, settings.loki.port)},
        "alertmanager": {(9093, settings.alertmanager.port)},
        # The monitoring API, where exposure.publish lists it (api.port).
        **({"monitoring-api": {(8080, settings.api.port)}} if "api" in settings.exposure.publish else {}),
        # The collector's trace receivers, for applications on the host (traces.publish_receivers).
        "alloy": {(4317, 4317), (4318, 4318), (14250, 14250), (14268, 14268), (9411, 9411)},
    }


@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_stateful_services_keep_state_in_named_volumes(previews, stack):
    preview = previews[stack]
    settings = stack_settings(stack)
    volumes = {v["inputs"]["name"]: v for v in preview.of_type(VOLUME)}
    for service, path in STATEFUL_MOUNTS.items():
        container = preview.named(CONTAINER, service)
        mount = next(m for m in container["inputs"]["mounts"] if m["target"] == path)
        assert mount["type"] == "volume"
        volume = volumes[mount["source"]]
        assert volume["inputs"]["name"] == f"{settings.prefix}-{service}-data"
        assert volume["protect"] is (stack == "prod"), f"{stack}: {service} volume protection"
        assert volume["retain_on_delete"] is (stack == "prod")


def test_staging_and_prod_do_not_share_docker_names(previews):
    def names(preview):
        return {r["inputs"]["name"] for r in preview.resources if r["type"] in (CONTAINER, VOLUME)}

    assert not names(previews["staging"]) & names(previews["prod"])


@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_services_share_the_stack_network_under_their_own_names(previews, stack):
    preview = previews[stack]
    network = preview.named("docker:index/network:Network", "network")
    for container in service_containers(preview):
        if container["inputs"].get("networkMode") == "host":
            assert container["name"] == "node-exporter"
            assert network["urn"] in container["dependencies"], "its listen address exists once the network does"
            continue
        (attachment,) = container["inputs"]["networksAdvanced"]
        assert attachment["name"] == network["inputs"]["name"]
        assert attachment["aliases"] == [labels(container)["monitoring.service"]]


@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_start_order_follows_dependencies(previews, stack):
    preview = previews[stack]
    urn = {name: preview.named(CONTAINER, name)["urn"] for name in SERVICES}
    depends = lambda name: set(preview.named(CONTAINER, name)["dependencies"])  # noqa: E731
    assert {urn["prometheus"], urn["loki"]} <= depends("grafana")
    assert urn["loki"] in depends("alloy")
    assert urn["alertmanager"] in depends("prometheus")
    for datasource in preview.of_type("grafana:oss/dataSource:DataSource"):
        assert urn["grafana"] in datasource["dependencies"], "datasources wait for a healthy Grafana"
        assert datasource["provider"].startswith(preview.named("pulumi:providers:grafana", "grafana")["urn"])


@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_datasources_point_at_the_stack(previews, stack):
    preview = previews[stack]
    prometheus = preview.named("grafana:oss/dataSource:DataSource", "prometheus")["inputs"]
    loki = preview.named("grafana:oss/dataSource:DataSource", "loki")["inputs"]
    assert (prometheus["uid"], prometheus["url"], prometheus["isDefault"]) == ("prometheus", "http://prometheus:9090", True)
    assert json.loads(prometheus["jsonDataEncoded"])["queryTimeout"]
    assert (loki["uid"], loki["url"]) == ("loki", "http://loki:3100")
    assert json.loads(loki["jsonDataEncoded"])["timeout"]
    provider = preview.named("pulumi:providers:grafana", "grafana")["inputs"]
    assert provider["url"] == stack_settings(stack).grafana_url
    assert provider["auth"] == "[secret]"


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_in_plain_inputs_or_documents(previews, stack):
    preview = previews[stack]
    placeholder = "offline-preview-placeholder"
    assert placeholder not in (preview.out / "resources.json").read_text()
    for document in preview.out.rglob("*"):
        if document.is_file():
            assert placeholder not in document.read_text(), document


@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_secrets_reach_containers_as_owner_only_files(previews, stack):
    grafana = previews[stack].named(CONTAINER, "grafana")["inputs"]
    secret_upload = next(u for u in grafana["uploads"] if u["file"] == "/run/secrets/grafana_admin_password")
    assert secret_upload["content"] == "[secret]"
    assert secret_upload["permissions"] == "0400" and secret_upload["owner"] == "472"
    assert not any("PASSWORD=" in env for env in grafana.get("envs", []))


@pytest.mark.parametrize("stack", DOCKER_STACKS)
def test_stack_outputs_are_the_service_urls(previews, stack):
    settings = stack_settings(stack)
    assert previews[stack].outputs == {
        "environment": stack,
        "grafana_url": f"http://127.0.0.1:{settings.grafana.port}",
        "prometheus_url": f"http://127.0.0.1:{settings.prometheus.port}",
        "loki_url": f"http://127.0.0.1:{settings.loki.port}",
        "alertmanager_url": f"http://127.0.0.1:{settings.alertmanager.port}",
        # Grafana generates the public dashboard's access token; the offline preview has none.
        "status_page_url": f"http://127.0.0.1:{settings.grafana.port}/public-dashboards/<access token>",
        # The monitoring API, when enabled (published where exposure.publish lists it).
        **({"monitoring_api_url": f"http://127.0.0.1:{settings.api.port}"} if settings.api.enabled else {}),
    }


FAILED_COPY_PROGRAM = """
import sys
sys.path.insert(0, sys.argv[1])
import pulumi
from pulumi.runtime.sync_await import _sync_await


class FailedCopy(pulumi.runtime.Mocks):
    # The provider's read-back of an attached container whose command failed.
    def new_resource(self, args):
        outputs = dict(args.inputs)
        if args.typ == "docker:index/container:Container" and args.inputs.get("attach"):
            outputs.update(exitCode=1, containerLogs="cp: can't create '/opt/probe-kit/busybox': Read-only file system")
        if args.typ == "docker:index/remoteImage:RemoteImage":
            outputs["imageId"] = args.inputs["name"]
        return args.name + "-id", outputs

    def call(self, args):
        return {}


pulumi.runtime.set_mocks(FailedCopy(), preview=False)
from platforms.docker import DockerPlatform
from services.core import core_services
from tests.conftest import stack_settings

settings = stack_settings("staging")
spec = core_services(settings)["loki"]  # an image without wget: it mounts the probe kit
platform = DockerPlatform.create(settings, parent=None, needs_probe_kit=True)
container = platform.deploy(spec, parent=None, secrets={})
try:
    _sync_await(container.mounts.future())
except RuntimeError as error:
    print(error)
    sys.exit(3)
print("deployed")
"""


def test_a_container_needing_the_probe_kit_is_not_deployed_after_a_failed_copy():
    """Mutation caught: the kit mounted by the volume's plain name again (the exit code gates nothing)."""
    completed = subprocess.run(
        [sys.executable, "-c", FAILED_COPY_PROGRAM, str(ROOT)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 3, completed.stdout + completed.stderr
    assert "probe-kit copy" in completed.stdout and "exited with code 1" in completed.stdout
    assert "Read-only file system" in completed.stdout
