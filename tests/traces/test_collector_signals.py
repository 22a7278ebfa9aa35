"""The one collector's config.alloy: logs, traces and profiles, parsed by the syntax checker and
checked against the components, blocks and arguments of the pinned Alloy v1.11.3."""

from __future__ import annotations

import json

import pytest

from logs.alloy import render_alloy_config
from logs.alloy_syntax import Block, parse
from services.core import core_services
from services.topology import CONTAINER_PORTS, internal_endpoints
from settings.model import StackSettings
from tests.conftest import STACKS, ROOT, stack_settings

INVENTORY = json.loads((ROOT / "logs/upstream/alloy-v1.11.3-components.json").read_text())["components"]
FULL = {
    "traces": {"sampling": {"head_ratio": 0.5}},
    "profiles": {"ebpf": True, "targets": [{"address": "api:6060", "service_name": "api"},
                                           {"address": "billing:6060", "service_name": "billing", "scheme": "https"}]},
}


def rendered(settings: StackSettings) -> str:
    return render_alloy_config(settings, internal_endpoints(settings), CONTAINER_PORTS["alloy"])


def unknown(blocks: list[Block]) -> list[str]:
    """Components, blocks and arguments the pinned Alloy does not document."""
    found = []
    for component in blocks:
        known = INVENTORY.get(component.name)
        if known is None:
            found.append(component.name)
            continue

        def walk(block: Block, path: str) -> None:
            if path not in known:
                found.append(f"{component.name}: block {path}")
                return
            found.extend(f"{component.name}: {path or '(top)'}.{name}" for name in block.attributes if name not in known[path])
            for child in block.blocks:
                walk(child, f"{path}/{child.name}" if path else child.name)

        walk(component, "")
    return found


def variants() -> dict[str, StackSettings]:
    found = {stack: stack_settings(stack) for stack in STACKS}
    found["full-docker"] = StackSettings(environment="x", **FULL)
    found["full-kubernetes"] = stack_settings("prod").model_copy(update={
        "traces": StackSettings(environment="x", **FULL).traces, "profiles": StackSettings(environment="x", **FULL).profiles,
    })
    return found


@pytest.mark.parametrize("name", ["staging", "prod", "full-docker", "full-kubernetes"])
def test_every_component_block_and_argument_exists_in_alloy_1_11_3(name):
    assert unknown(parse(rendered(variants()[name]))) == []


def test_the_inventory_check_refuses_what_alloy_lacks():
    """Control: an unknown argument, an unknown block and an unknown component are each caught."""
    blocks = parse(rendered(StackSettings(environment="x")))
    tail = next(b for b in blocks if b.name == "otelcol.processor.tail_sampling")
    tail.attributes["decision_timeout"] = "10s"
    tail.blocks.append(Block("policies"))
    blocks.append(Block("otelcol.processor.tail_sampler", "x"))
    assert unknown(blocks) == [
        "otelcol.processor.tail_sampling: (top).decision_timeout",
        "otelcol.processor.tail_sampling: block policies",
        "otelcol.processor.tail_sampler",
    ]


def components(settings: StackSettings) -> dict[str, list[Block]]:
    found: dict[str, list[Block]] = {}
    for block in parse(rendered(settings)):
        found.setdefault(block.name, []).append(block)
    return found


def test_one_collector_for_logs_traces_and_profiles():
    found = components(StackSettings(environment="x", **FULL))
    for name in ("loki.write", "otelcol.receiver.otlp", "otelcol.receiver.jaeger", "otelcol.receiver.zipkin",
                 "otelcol.processor.memory_limiter", "otelcol.processor.probabilistic_sampler",
                 "otelcol.processor.tail_sampling", "otelcol.processor.batch", "otelcol.exporter.otlp",
                 "pyroscope.scrape", "pyroscope.ebpf", "pyroscope.write"):
        assert name in found, name
    exporter = found["otelcol.exporter.otlp"][0].blocks[0]
    assert exporter.attributes["endpoint"] == "tempo:4317"
    assert found["pyroscope.write"][0].blocks[0].attributes["url"] == "http://pyroscope:4040"


def test_the_trace_chain_is_wired_in_order():
    """receivers -> memory_limiter -> head -> tail -> batch -> Tempo: each output feeds the next."""
    found = components(StackSettings(environment="x", **FULL))
    order = ["otelcol.processor.memory_limiter", "otelcol.processor.probabilistic_sampler",
             "otelcol.processor.tail_sampling", "otelcol.processor.batch", "otelcol.exporter.otlp"]
    for receiver in ("otelcol.receiver.otlp", "otelcol.receiver.jaeger", "otelcol.receiver.zipkin"):
        output = next(b for b in found[receiver][0].blocks if b.name == "output")
        assert [ref.path for ref in output.attributes["traces"]] == [f"{order[0]}.default.input"]
    for current, following in zip(order, order[1:]):
        output = next(b for b in found[current][0].blocks if b.name == "output")
        label = "tempo" if following == "otelcol.exporter.otlp" else "default"
        assert [ref.path for ref in output.attributes["traces"]] == [f"{following}.{label}.input"]


def test_head_sampler_only_below_one_and_tail_only_when_enabled():
    default = components(StackSettings(environment="x"))
    assert "otelcol.processor.probabilistic_sampler" not in default
    off = components(StackSettings(environment="x", traces={"sampling": {"tail": {"enabled": False}}}))
    assert "otelcol.processor.tail_sampling" not in off


def test_the_stack_go_services_and_listed_targets_are_profiled_on_docker():
    found = components(StackSettings(environment="x", **FULL))
    scrapes = {b.label: b for b in found["pyroscope.scrape"]}
    stack = {t["service_name"]: t["__address__"] for t in scrapes["stack"].attributes["targets"]}
    assert stack == {
        "alertmanager": "alertmanager:9093", "alloy": "127.0.0.1:12345", "grafana": "grafana:6060",
        "loki": "loki:3100", "prometheus": "prometheus:9090", "pyroscope": "pyroscope:4040", "tempo": "tempo:3200",
    }
    assert scrapes["listed_http"].attributes["targets"] == [{"__address__": "api:6060", "service_name": "api"}]
    assert scrapes["listed_https"].attributes["scheme"] == "https"
    profile_types = {b.name for b in scrapes["stack"].blocks[0].blocks}
    assert {"profile.process_cpu", "profile.memory"} <= profile_types


def test_on_kubernetes_each_node_profiles_the_stack_pods_on_it():
    found = components(stack_settings("prod"))
    discovery = next(b for b in found["discovery.kubernetes"] if b.label == "stack_pods")
    selector = next(b for b in discovery.blocks if b.name == "selectors")
    assert "spec.nodeName=" in str(selector.attributes["field"])
    # Prod serves Prometheus, Alertmanager and Loki over TLS with basic auth: one scrape each.
    assert {b.label for b in found["pyroscope.scrape"]} == {
        "stack", "self", "stack_prometheus", "stack_alertmanager", "stack_loki"}


def test_promtail_carries_no_traces_or_profiles():
    settings = StackSettings(environment="x", logs={"collector": "promtail"})
    assert not settings.runs_traces and not settings.runs_profiles
    assert {"tempo", "pyroscope"}.isdisjoint(core_services(settings))
    assert "tempo" not in str(core_services(settings)["prometheus"].file("prometheus.yml").content)


def test_the_collector_listens_on_the_receiver_ports_and_ebpf_is_a_declared_exception():
    collector = core_services(StackSettings(environment="x", **FULL))["alloy"]
    assert {p.container_port for p in collector.ports} == {4317, 4318, 14250, 14268, 9411}
    assert collector.security.privileged and collector.security.host_pid
    assert "eBPF" in collector.security.exception
    plain = core_services(StackSettings(environment="x", traces={"publish_receivers": False}))["alloy"]
    assert not plain.security.privileged and all(p.published is None for p in plain.ports)


def test_services_behind_tls_and_a_password_are_profiled_as_the_stacks_client():
    """Every stack Go service is profiled; one behind TLS and basic auth gets its own scrape with the
    stack's CA, the name on its certificate and the client user's password file, as Prometheus
    reaches it. Mutations caught: guarded services left out of profiling (prod's Prometheus,
    Alertmanager and Loki went unprofiled once), a scrape without `tls_config`/`basic_auth`, the
    wrong server name."""
    from profiles.alloy import GO_SERVICES, profiled_names
    from render.tls_clients import prometheus_client

    for stack in STACKS:
        settings = stack_settings(stack)
        assert set(GO_SERVICES) <= set(profiled_names(settings)), stack
        scrapes = {b.label: b for b in components(settings)["pyroscope.scrape"]}
        for name in ("prometheus", "alertmanager", "loki"):
            client = prometheus_client(settings, name)
            if not client:
                assert f"stack_{name}" not in scrapes, (stack, name)
                continue
            scrape = scrapes[f"stack_{name}"]
            assert scrape.attributes["scheme"] == "https"
            blocks = {b.name: b.attributes for b in scrape.blocks}
            assert blocks["tls_config"] == client["tls_config"], (stack, name)
            assert blocks.get("basic_auth") == client.get("basic_auth"), (stack, name)
    assert stack_settings("prod").security.tls.mode != "off", "prod is expected to serve TLS"
    assert profiled_names(StackSettings(environment="x", profiles={"stack": False})) == ()
