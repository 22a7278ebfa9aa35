"""The strict text-format parser and the contract checks built on it."""

from __future__ import annotations

import math

import pytest

from exporters.contracts import (
    CONTRACTS,
    Contract,
    MetricFamily,
    all_metric_names,
    check_exposition,
    sample_names,
)
from exporters.exposition import ExpositionError, histogram_violations, parse

TRICKY = """\
# HELP http_requests_total Requests with a \\\\ backslash and a\\nnewline.
# TYPE http_requests_total counter
http_requests_total{method="post",path="/a \\"quoted\\" \\\\ back\\nline",} 1027 1395066363000
http_requests_total{method="get", path="/"} 3
# TYPE vllm:e2e_request_latency_seconds histogram
vllm:e2e_request_latency_seconds_bucket{model_name="m",le="0.5"} 1
vllm:e2e_request_latency_seconds_bucket{model_name="m",le="+Inf"} 4
vllm:e2e_request_latency_seconds_sum{model_name="m"} 7.5
vllm:e2e_request_latency_seconds_count{model_name="m"} 4
# TYPE vllm:e2e_request_latency_seconds_created gauge
vllm:e2e_request_latency_seconds_created{model_name="m"} 1.7e9
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5"} 0.05
rpc_duration_seconds{quantile="0.99"} NaN
rpc_duration_seconds_sum 17
rpc_duration_seconds_count 2
# a free comment
some_untyped_thing -Inf
DCGM_FI_DEV_XID_ERRORS{gpu="0",err_msg="No Error"} 0
"""


def test_parses_types_help_labels_and_escapes() -> None:
    families = parse(TRICKY)
    requests = families["http_requests_total"]
    assert requests.type == "counter"
    assert requests.help == "Requests with a \\ backslash and a\nnewline."
    assert requests.samples[0].label("path") == '/a "quoted" \\ back\nline'
    assert requests.samples[0].timestamp_ms == 1395066363000
    assert requests.label_names() == frozenset({"method", "path"})
    histogram = families["vllm:e2e_request_latency_seconds"]
    assert histogram.type == "histogram"
    assert histogram.label_names() == frozenset({"model_name"})
    assert histogram.sample_names() == {
        "vllm:e2e_request_latency_seconds_bucket",
        "vllm:e2e_request_latency_seconds_sum",
        "vllm:e2e_request_latency_seconds_count",
    }
    assert families["vllm:e2e_request_latency_seconds_created"].type == "gauge"
    summary = families["rpc_duration_seconds"]
    assert summary.type == "summary" and summary.label_names() == frozenset()
    assert math.isnan(summary.samples[1].value)
    assert families["some_untyped_thing"].type == "untyped"
    assert families["some_untyped_thing"].samples[0].value == -math.inf
    assert families["DCGM_FI_DEV_XID_ERRORS"].label_names() == {"gpu", "err_msg"}


def test_a_histogram_named_total_keeps_its_buckets() -> None:
    text = (
        "# TYPE vllm:iteration_tokens_total histogram\n"
        'vllm:iteration_tokens_total_bucket{le="1.0"} 0\n'
        'vllm:iteration_tokens_total_bucket{le="+Inf"} 2\n'
        "vllm:iteration_tokens_total_sum 9\n"
        "vllm:iteration_tokens_total_count 2\n"
    )
    family = parse(text)["vllm:iteration_tokens_total"]
    assert len(family.samples) == 4
    assert histogram_violations(family) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metric 1", "newline"),
        ('metric{a="b} 1\n', "unterminated"),
        ('metric{a="\\t"} 1\n', "invalid escape"),
        ('metric{a="1",a="2"} 1\n', "duplicate label"),
        ('metric{1a="x"} 1\n', "invalid label name"),
        ("metric one\n", "invalid value"),
        ("metric 1 2 3\n", "value and an optional timestamp"),
        ("# TYPE metric sometype\n", "unknown type"),
        ("metric 1\n# TYPE metric gauge\n", "after its samples"),
        ("# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n", "not contiguous"),
        ("# TYPE h histogram\nh_bucket 1\n", "without le"),
        ("# TYPE s summary\ns 1\n", "without quantile"),
        ("m 1\nm 2\n", "duplicate series"),
        ("# HELP m a\n# HELP m b\n", "second HELP"),
        ("# TYPE m gauge\n# TYPE m gauge\n", "twice"),
    ],
)
def test_rejects_malformed_input(text: str, message: str) -> None:
    with pytest.raises(ExpositionError, match=message):
        parse(text)


def test_histogram_violations_catch_non_cumulative_buckets_and_count_mismatch() -> None:
    text = (
        "# TYPE h histogram\n"
        'h_bucket{le="1"} 5\nh_bucket{le="2"} 3\nh_bucket{le="+Inf"} 6\nh_sum 1\nh_count 7\n'
    )
    problems = histogram_violations(parse(text)["h"])
    assert any("not cumulative" in p for p in problems)
    assert any("differs from _count" in p for p in problems)


TOY = Contract(
    exporter="toy",
    upstream_version="toy 1.0",
    families=(
        MetricFamily("toy_requests_total", "counter", frozenset({"code"}), "requests"),
        MetricFamily("toy_latency_seconds", "histogram", frozenset(), "latency"),
        MetricFamily("toy_up", "gauge", frozenset(), "up"),
    ),
)


def test_check_exposition_reports_each_violation_on_its_own_line() -> None:
    text = (
        "# TYPE toy_requests_total gauge\ntoy_requests_total 1\n"
        "# TYPE toy_latency_seconds histogram\n"
        'toy_latency_seconds_bucket{le="+Inf",path="/"} 1\ntoy_latency_seconds_count{path="/"} 1\n'
    )
    problems = check_exposition(TOY, text)
    assert problems == [
        "toy: toy_requests_total: type is gauge, contract says counter",
        "toy: toy_latency_seconds: no samples named toy_latency_seconds_sum",
        "toy: toy_latency_seconds: unexpected labels path",
        "toy: toy_up: missing family",
    ]


def test_check_exposition_accepts_a_conforming_scrape() -> None:
    text = (
        '# TYPE toy_requests_total counter\ntoy_requests_total{code="200"} 1\n'
        '# TYPE toy_latency_seconds histogram\ntoy_latency_seconds_bucket{le="+Inf"} 1\n'
        "toy_latency_seconds_sum 0.1\ntoy_latency_seconds_count 1\n# TYPE toy_up gauge\ntoy_up 1\n"
    )
    assert check_exposition(TOY, text) == []
    missing_label = text.replace('{code="200"}', "")
    assert check_exposition(TOY, missing_label) == ["toy: toy_requests_total: missing labels code"]


def test_sample_names_follow_the_family_type() -> None:
    assert sample_names(TOY.families[0]) == ("toy_requests_total",)
    assert sample_names(TOY.families[1]) == (
        "toy_latency_seconds_bucket", "toy_latency_seconds_sum", "toy_latency_seconds_count",
    )
    summary = MetricFamily("s", "summary", frozenset(), "")
    assert sample_names(summary) == ("s", "s_sum", "s_count")


def test_every_exporter_has_a_contract_and_names_are_real_ones() -> None:
    assert set(CONTRACTS) == {"node", "cadvisor", "dcgm", "vllm", "postgres", "redis", "blackbox", "pushgateway"}
    names = all_metric_names()
    for required in (
        "node_cpu_seconds_total", "node_filesystem_avail_bytes", "container_memory_working_set_bytes",
        "DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "vllm:kv_cache_usage_perc",
        "vllm:time_to_first_token_seconds_bucket", "vllm:request_success_total", "pg_up",
        "redis_keyspace_hits_total", "probe_success", "push_time_seconds",
    ):
        assert required in names
    assert not any(name.startswith("DCGM_") and name.endswith("_total") and "VOL_TOTAL" not in name
                   and "BANDWIDTH_TOTAL" not in name for name in names)
    assert "vllm:gpu_cache_usage_perc" not in names


def test_debian_view_applies_exactly_the_declared_differences() -> None:
    node = CONTRACTS["node"]
    debian = node.as_served_by_debian()
    assert debian.family("node_filesystem_avail_bytes").labels == {"device", "fstype", "mountpoint"}
    assert debian.family("node_cpu_seconds_total") == node.family("node_cpu_seconds_total")
    blackbox = CONTRACTS["blackbox"].as_served_by_debian()
    assert "probe_tls_cipher_info" not in blackbox.names()
    assert len(blackbox.families) == len(CONTRACTS["blackbox"].families) - 1
