"""The resource graph of both stacks, as the mock engine records it."""

from __future__ import annotations

import json

import pytest

from settings.types import _image  # the same pin rule the settings apply
from tests.conftest import STACKS, stack_settings

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/remoteImage:RemoteImage"
SERVICES = ("prometheus", "alertmanager", "grafana", "loki", "promtail")
# Exporters that must see the host, as their upstream documents (node_exporter, cAdvisor, DCGM).
DOCUMENTED_EXCEPTIONS = {"node-exporter", "cadvisor", "dcgm-exporter"}
STATEFUL_MOUNTS = {
    "prometheus": "/prometheus",
    "alertmanager": "/alertmanager",
    "loki": "/loki",
    "grafana": "/var/lib/grafana",
}


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
        container = preview.named(CONTAINER, service)
        assert container["parent"] == component["urn"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_container_is_hardened_and_bounded(previews, stack):
    preview = previews[stack]
    containers = service_containers(preview)
    assert {labels(c)["monitoring.service"] for c in containers} >= set(SERVICES)
    for container in containers:
        inputs = container["inputs"]
        name = container["name"]
        probe = inputs["healthcheck"]["tests"]
        assert probe[0] == "CMD", name
        # busybox wget (the image's own or the probe kit's), or Python's urllib in the mock image.
        assert "wget" in " ".join(probe[1:3]) or "urllib.request.urlopen" in probe[-1], name
        assert "http://" in " ".join(probe), f"{name}: probes the service over HTTP"
        assert inputs["wait"] is True, f"{name}: dependants must wait for a healthy container"
        assert inputs["restart"] == "unless-stopped", name
        assert inputs["memory"] >= 32 and float(inputs["cpus"]) > 0, name
        assert inputs["memorySwap"] == inputs["memory"], f"{name}: no swap beyond the memory limit"
        assert inputs["capabilities"]["drops"] == ["ALL"], name
        assert "no-new-privileges:true" in inputs["securityOpts"], name
        assert inputs.get("user"), f"{name}: runs as an explicit user"
        assert inputs["logDriver"] == "json-file" and {"max-size", "max-file"} <= set(inputs["logOpts"]), name
        widened = [
            inputs.get("privileged"),
            inputs.get("networkMode") == "host",
            inputs.get("pidMode") == "host",
            inputs["capabilities"].get("adds"),
            inputs.get("devices"),
        ]
        if any(widened):
            assert labels(container).get("monitoring.security_exception"), f"{name}: undocumented exception"
            assert name in DOCUMENTED_EXCEPTIONS, f"{name}: only exporters that measure the host may widen access"


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


@pytest.mark.parametrize("stack", STACKS)
def test_only_intended_ports_are_published_on_the_configured_address(previews, stack):
    preview = previews[stack]
    settings = stack_settings(stack)
    published = {}
    for container in preview.of_type(CONTAINER):
        for port in container["inputs"].get("ports", []):
            assert port["ip"] == str(settings.exposure.bind_address) == "127.0.0.1", container["name"]
            published[container["name"]] = (port["internal"], port["external"])
    assert published == {
        "grafana": (3000, settings.grafana.port),
        "prometheus": (9090, settings.prometheus.port),
        "loki": (3100, settings.loki.port),
        "alertmanager": (9093, settings.alertmanager.port),
    }


@pytest.mark.parametrize("stack", STACKS)
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


@pytest.mark.parametrize("stack", STACKS)
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


@pytest.mark.parametrize("stack", STACKS)
def test_start_order_follows_dependencies(previews, stack):
    preview = previews[stack]
    urn = {name: preview.named(CONTAINER, name)["urn"] for name in SERVICES}
    depends = lambda name: set(preview.named(CONTAINER, name)["dependencies"])  # noqa: E731
    assert {urn["prometheus"], urn["loki"]} <= depends("grafana")
    assert urn["loki"] in depends("promtail")
    assert urn["alertmanager"] in depends("prometheus")
    for datasource in preview.of_type("grafana:oss/dataSource:DataSource"):
        assert urn["grafana"] in datasource["dependencies"], "datasources wait for a healthy Grafana"
        assert datasource["provider"].startswith(preview.named("pulumi:providers:grafana", "grafana")["urn"])


@pytest.mark.parametrize("stack", STACKS)
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
    grafana = preview.named(CONTAINER, "grafana")["inputs"]
    secret_upload = next(u for u in grafana["uploads"] if u["file"] == "/run/secrets/grafana_admin_password")
    assert secret_upload["content"] == "[secret]"
    assert secret_upload["permissions"] == "0400" and secret_upload["owner"] == "472"
    assert not any("PASSWORD=" in env for env in grafana.get("envs", []))


@pytest.mark.parametrize("stack", STACKS)
def test_stack_outputs_are_the_service_urls(previews, stack):
    settings = stack_settings(stack)
    assert previews[stack].outputs == {
        "environment": stack,
        "grafana_url": f"http://127.0.0.1:{settings.grafana.port}",
        "prometheus_url": f"http://127.0.0.1:{settings.prometheus.port}",
        "loki_url": f"http://127.0.0.1:{settings.loki.port}",
        "alertmanager_url": f"http://127.0.0.1:{settings.alertmanager.port}",
    }
