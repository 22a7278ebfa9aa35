"""The pipeline run over real-looking log lines with the RE2 engine: levels, timestamps, labels,
extracted fields and structured metadata come out as expected, and noise is dropped."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import re2
import yaml

from logs.pipeline import LABEL_ALLOW_LIST, log_pipeline
from logs.rules import AUTH_FAILURE_PATTERN, OOM_PATTERN
from logs.simulate import compile_re2, relabel, run
from tests.logs.conftest import FILES, settings_for

CORPUS = Path(__file__).parent / "corpus"
EXPECTED = yaml.safe_load((CORPUS / "expected.yaml").read_text())
NOW = datetime.fromisoformat(EXPECTED["now"])
STREAMS = {stream["file"]: stream for stream in EXPECTED["streams"]}
ALERT_PATTERNS = {"auth_failure": AUTH_FAILURE_PATTERN, "oom_kill": OOM_PATTERN}


def simulate(stream: dict, drop_debug: bool = False):
    settings = settings_for("staging", files=FILES, drop_debug=drop_debug)
    pipeline = log_pipeline(settings)
    source = next(s for s in pipeline.sources if s.name == stream["source"])
    lines = (CORPUS / stream["file"]).read_text().splitlines()
    return run(pipeline, source, lines, relabel(source, stream["discovered"]), NOW)


def test_every_corpus_file_has_expectations():
    assert sorted(STREAMS) == sorted(p.name for p in CORPUS.glob("*.log"))


@pytest.mark.parametrize("file", sorted(STREAMS))
def test_corpus_stream(file):
    stream = STREAMS[file]
    entries = simulate(stream)
    expected = stream["records"]
    assert len(entries) == len(expected), f"records: {[e.line.splitlines()[0] for e in entries]}"
    for entry, record in zip(entries, expected):
        where = f"{file}: {record['starts']!r}"
        assert entry.line.startswith(record["starts"]), where
        assert entry.dropped == record.get("dropped"), where
        if entry.dropped:
            continue
        assert len(entry.line.splitlines()) == record.get("lines", 1), where
        assert entry.labels == record["labels"], where
        timestamp = entry.timestamp.astimezone(timezone.utc).isoformat() if entry.timestamp else None
        assert timestamp == record["timestamp"], where
        assert entry.metadata == {k: str(v) for k, v in record["metadata"].items()}, where
        for name, value in record.get("fields", {}).items():
            assert entry.extracted.get(name) == value, f"{where}: field {name}"
        assert set(entry.labels) <= set(LABEL_ALLOW_LIST), where


def test_debug_lines_are_dropped_when_the_stack_says_so():
    for file, stream in STREAMS.items():
        kept = simulate(stream)
        filtered = simulate(stream, drop_debug=True)
        for before, after, record in zip(kept, filtered, stream["records"]):
            if record.get("debug"):
                assert after.dropped == "debug_level", f"{file}: {record['starts']}"
            else:
                assert after.dropped == before.dropped, f"{file}: {record['starts']}"


def test_no_request_or_trace_id_becomes_a_label():
    for stream in STREAMS.values():
        for entry in simulate(stream):
            for value in entry.metadata.values():
                assert value not in entry.labels.values()
            assert not {"trace_id", "span_id", "request_id", "exception"} & set(entry.labels)


def test_rate_limit_drops_beyond_the_burst():
    settings = settings_for("staging", stream_rate_limit={"rate": 1, "burst": 2})
    pipeline = log_pipeline(settings)
    source = pipeline.sources[0]
    lines = [f'{{"level":"info","msg":"line {n}"}}' for n in range(5)]
    labels = relabel(source, {"__meta_docker_container_name": "/api", "__meta_docker_container_label_com_docker_compose_service": "api"})
    entries = run(pipeline, source, lines, labels, NOW)
    assert [e.dropped for e in entries] == [None, None, "rate_limited", "rate_limited", "rate_limited"]


@pytest.mark.parametrize("file", sorted(STREAMS))
def test_log_alert_line_filters_match_exactly_the_marked_lines(file):
    """The LogQL line filters of the log alerts are RE2 too: they find what they are meant to and
    nothing else in the corpus."""
    for entry, record in zip(simulate(STREAMS[file]), STREAMS[file]["records"]):
        if entry.dropped:
            continue
        for name, pattern in ALERT_PATTERNS.items():
            hit = compile_re2(pattern).search(entry.line) is not None
            assert hit == (name in record.get("matches", [])), f"{file}: {record['starts']!r} {name}"


@pytest.mark.parametrize("platform", ["docker", "kubernetes"])
def test_every_regex_compiles_with_re2(platform):
    pipeline = log_pipeline(settings_for("prod", files=FILES, drop_debug=True), platform)
    regexes = pipeline.regexes()
    assert len(regexes) >= 12
    for where, expression in regexes.items():
        re2.compile(expression)  # raises on lookarounds and backreferences
        assert "(?=" not in expression and "(?!" not in expression and "(?<=" not in expression, where


def test_re2_rejects_what_the_collectors_would():
    """The check above is meaningful: RE2 refuses the constructs Go's engine refuses."""
    for expression in (r"(?=x)y", r"(a)\1", r"(?<!a)b"):
        with pytest.raises(re2.error, match="invalid"):
            re2.compile(expression)


def test_cri_envelope_is_unwrapped_on_kubernetes():
    pipeline = log_pipeline(settings_for("staging"), "kubernetes")
    source = pipeline.sources[0]
    assert source.kind == "kubernetes"
    labels = relabel(
        source,
        {
            "__meta_kubernetes_namespace": "shop",
            "__meta_kubernetes_pod_container_name": "orders",
            "__meta_kubernetes_pod_label_app_kubernetes_io_name": "orders",
            "__meta_kubernetes_pod_uid": "5d2c",
        },
    )
    assert labels == {"job": "kubernetes", "namespace": "shop", "container": "orders", "service": "orders"}
    line = '2026-11-23T10:30:00.5Z stdout F {"level":"ERROR","msg":"boom","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}'
    (entry,) = run(pipeline, source, [line], labels, NOW)
    assert entry.line.startswith('{"level":"ERROR"')
    assert entry.labels["level"] == "error" and entry.labels["stream"] == "stdout"
    assert entry.metadata == {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}
