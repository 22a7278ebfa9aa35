"""Promtail and Alloy renderings: structure, and proof that both carry the one pipeline."""

from __future__ import annotations

import pytest
import yaml

from logs.alloy import render_alloy_config, render_alloy_pipeline
from logs.alloy_syntax import AlloySyntaxError, parse
from services.collector import collector_service, host_mounts, static_dir, without_idle_collector
from logs.pipeline import LABEL_ALLOW_LIST, log_pipeline
from logs.promtail import render_promtail_config, render_promtail_pipeline
from render.serialize import to_yaml
from services.topology import internal_endpoints
from tests.logs.conftest import FILES, S3, SENTINEL_SECRET, settings_for
from tests.logs.roundtrip import from_alloy, from_pipeline, from_promtail

PUSH = "http://loki:3100/loki/api/v1/push"


def push_url(settings) -> str:
    """Loki's push URL: over TLS where the stack serves it (prod, security.tls), through the
    gateway where security.auth gates Loki (render/gateway.py)."""
    if settings.security.auth.enabled:
        return PUSH.replace("http://loki", "https://gateway")
    return PUSH.replace("http://", "https://") if settings.security.tls.enabled else PUSH


@pytest.mark.parametrize("platform", ["docker", "kubernetes"])
@pytest.mark.parametrize("drop_debug", [False, True])
def test_promtail_and_alloy_render_the_same_pipeline(stack, endpoints, platform, drop_debug):
    settings = settings_for(stack, files=FILES, drop_debug=drop_debug)
    pipeline = log_pipeline(settings, platform)
    promtail = yaml.safe_load(to_yaml(render_promtail_pipeline(pipeline, settings, endpoints, 9080)))
    alloy = render_alloy_pipeline(pipeline, settings, endpoints)
    expected = from_pipeline(pipeline, push_url(settings), settings.environment)
    assert from_promtail(promtail) == expected
    assert from_alloy(alloy) == expected


def test_the_comparison_sees_a_difference(endpoints):
    """A changed stage parameter on one side is caught (the equivalence test can fail)."""
    settings = settings_for("staging")
    pipeline = log_pipeline(settings)
    alloy = render_alloy_pipeline(pipeline, settings, endpoints).replace('max_lines = 256', 'max_lines = 255', 1)
    assert from_alloy(alloy) != from_pipeline(pipeline, PUSH, settings.environment)


def test_docker_documents_leave_kubernetes_out(stack, endpoints):
    settings = settings_for(stack, platform="docker")
    promtail = render_promtail_config(settings, endpoints, 9080)
    alloy = render_alloy_config(settings, endpoints, 12345)
    assert [job["job_name"] for job in promtail["scrape_configs"]] == ["docker", "journal"]
    assert "kubernetes" not in to_yaml(promtail) and "kubernetes" not in alloy
    assert "cri" not in [next(iter(stage)) for stage in promtail["scrape_configs"][0]["pipeline_stages"]]


def test_journal_entries_are_not_joined(endpoints):
    promtail = render_promtail_config(settings_for("staging"), endpoints, 9080)
    stages = {job["job_name"]: [next(iter(s)) for s in job["pipeline_stages"]] for job in promtail["scrape_configs"]}
    assert stages["docker"][0] == "multiline" and "multiline" not in stages["journal"]


def test_label_allow_list_is_the_last_stage_and_bounded(stack, endpoints):
    settings = settings_for(stack)
    promtail = render_promtail_config(settings, endpoints, 9080)
    for job in promtail["scrape_configs"]:
        assert job["pipeline_stages"][-1] == {"labelallow": list(LABEL_ALLOW_LIST)}
        labels = next(s["labels"] for s in job["pipeline_stages"] if "labels" in s)
        assert set(labels) <= set(LABEL_ALLOW_LIST)
    assert not {"trace_id", "request_id", "span_id"} & set(LABEL_ALLOW_LIST)


def test_alloy_components_and_client(stack, endpoints):
    settings = settings_for(stack, platform="docker", files=FILES)
    blocks = parse(render_alloy_config(settings, endpoints, 12345))
    names = [(b.name, b.label) for b in blocks]
    for expected in [
        ("discovery.docker", "docker"),
        ("loki.source.docker", "docker"),
        ("loki.source.journal", "journal"),
        ("local.file_match", "files"),
        ("loki.source.file", "files"),
        ("loki.process", "pipeline"),
        ("loki.write", "loki"),
    ]:
        assert expected in names
    writer = next(b for b in blocks if b.name == "loki.write")
    assert writer.attributes["external_labels"] == {"env": settings.environment}
    assert writer.children("endpoint")[0].attributes["url"] == push_url(settings)
    process = next(b for b in blocks if (b.name, b.label) == ("loki.process", "pipeline"))
    kinds = [child.name for child in process.blocks]
    for stage in ("stage.json", "stage.logfmt", "stage.regex", "stage.timestamp", "stage.labels",
                  "stage.structured_metadata", "stage.drop", "stage.limit", "stage.label_keep"):
        assert stage in kinds


def test_alloy_parser_rejects_what_it_does_not_know():
    with pytest.raises(AlloySyntaxError):
        parse('loki.write "x" { endpoint { url = } }')
    with pytest.raises(AlloySyntaxError):
        parse('a = 1\na = 2')


def test_promtail_and_alloy_documents_hold_no_secret(stack, endpoints, collector):
    settings = settings_for(stack, s3=S3, collector=collector)
    service = collector_service(settings, internal_endpoints())
    assert service.name == collector
    for config_file in service.files:
        assert SENTINEL_SECRET not in config_file.content
    assert not service.secret_files and not service.env


def test_collector_is_one_setting(endpoints):
    promtail = collector_service(settings_for("staging", collector="promtail"), internal_endpoints())
    alloy = collector_service(settings_for("staging"), internal_endpoints())
    assert (promtail.name, alloy.name) == ("promtail", "alloy")
    assert alloy.command[0] == "run" and "--server.http.listen-addr=0.0.0.0:12345" in alloy.command
    assert alloy.health.port == 12345 and alloy.health.path == "/-/ready"
    assert promtail.host_mounts == alloy.host_mounts
    assert alloy.files[0].relpath == "config.alloy"
    parse(alloy.files[0].content)


def test_idle_collector_is_not_an_endpoint():
    endpoints = internal_endpoints()
    assert "alloy" not in without_idle_collector(settings_for("staging", collector="promtail"), endpoints)
    kept = without_idle_collector(settings_for("staging"), endpoints)
    assert "alloy" in kept and "promtail" not in kept and "loki" in kept


def test_host_paths_are_mounted_read_only_for_every_source():
    settings = settings_for("staging", files=FILES)
    mounts = {m.host_path: m.mount_path for m in host_mounts(settings)}
    assert mounts["/var/log/journal"] == "/var/log/journal"
    assert mounts["/var/log/nginx"] == "/var/log/nginx" and mounts["/var/log"] == "/var/log"
    assert settings.docker.socket_path in mounts
    assert static_dir("/srv/app/*/logs/*.log") == "/srv/app"
    assert static_dir("/var/log/syslog") == "/var/log"
    quiet = settings_for("staging", journal=False, containers=False)
    assert host_mounts(quiet) == ()
