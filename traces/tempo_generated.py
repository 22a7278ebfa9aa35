"""The series Tempo's metrics-generator writes to Prometheus: the single source for the traced mock,
the span-metric rules and the services dashboard.

Provenance: grafana/tempo v2.9.0 (the pinned image, settings/images.py),
`modules/generator/processor/spanmetrics/{config,spanmetrics}.go` and
`modules/generator/processor/servicegraphs/{config,servicegraphs}.go`, `.../servicegraphs/store/edge.go`,
`modules/generator/registry/registry.go`. Only the stack's rendered generator settings
(traces/tempo.py: intrinsic dimensions on their defaults, no extra dimensions, target_info on,
classic histograms) decide which of these exist.
"""

from __future__ import annotations

# Span metrics (processor "span-metrics"): RED per service and operation.
SPANMETRICS_CALLS = "traces_spanmetrics_calls_total"  # counter
SPANMETRICS_LATENCY = "traces_spanmetrics_latency"  # classic histogram: _bucket, _sum, _count
SPANMETRICS_SIZE = "traces_spanmetrics_size_total"  # counter, bytes of spans
TARGET_INFO = "traces_target_info"  # gauge 1 per job/instance with resource attributes

# Intrinsic dimensions, in the order the generator appends them; `job` and `instance` follow when
# enable_target_info is on and the span's resource has service.name / service.instance.id.
SPANMETRICS_LABELS = ("service", "span_name", "span_kind", "status_code")
SPANMETRICS_TARGET_LABELS = ("job", "instance")
# Values of status_code and span_kind: the OTLP enums' Go string forms.
STATUS_CODES = ("STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR")
STATUS_ERROR = "STATUS_CODE_ERROR"
SPAN_KINDS = (
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
)
# Default buckets (seconds): prometheus.ExponentialBuckets(0.002, 2, 14).
SPANMETRICS_BUCKETS = tuple(0.002 * 2**i for i in range(14))

# Service graph (processor "service-graphs"): one edge per client -> server pair.
SERVICE_GRAPH_REQUEST_TOTAL = "traces_service_graph_request_total"  # counter
SERVICE_GRAPH_REQUEST_FAILED_TOTAL = "traces_service_graph_request_failed_total"  # counter
SERVICE_GRAPH_SERVER_SECONDS = "traces_service_graph_request_server_seconds"  # histogram
SERVICE_GRAPH_CLIENT_SECONDS = "traces_service_graph_request_client_seconds"  # histogram
# Only with enable_messaging_system_latency_histogram (off in the stack): listed, not generated.
SERVICE_GRAPH_MESSAGING_SECONDS = "traces_service_graph_request_messaging_system_seconds"
SERVICE_GRAPH_LABELS = ("client", "server", "connection_type")
# connection_type: "" for a plain RPC edge, or one of these.
CONNECTION_TYPES = ("", "messaging_system", "database", "virtual_node")
# Default buckets (seconds): prometheus.ExponentialBuckets(0.1, 2, 8).
SERVICE_GRAPH_BUCKETS = tuple(0.1 * 2**i for i in range(8))
# An uninstrumented caller's edges have client="user".
UNKNOWN_CLIENT = "user"

# Every series is written with this external label (the generator's hostname) besides the
# stack's own external labels (remote_write in traces/tempo.py adds `env`).
GENERATOR_INSTANCE_LABEL = "__metrics_gen_instance"

COUNTERS = (SPANMETRICS_CALLS, SPANMETRICS_SIZE, SERVICE_GRAPH_REQUEST_TOTAL, SERVICE_GRAPH_REQUEST_FAILED_TOTAL)
HISTOGRAMS = (SPANMETRICS_LATENCY, SERVICE_GRAPH_SERVER_SECONDS, SERVICE_GRAPH_CLIENT_SECONDS)
GAUGES = (TARGET_INFO,)


def generated_families() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each generated family the stack's Tempo writes: name -> (type, label names)."""
    spans = SPANMETRICS_LABELS + SPANMETRICS_TARGET_LABELS
    return {
        SPANMETRICS_CALLS: ("counter", spans),
        SPANMETRICS_LATENCY: ("histogram", spans),
        SPANMETRICS_SIZE: ("counter", spans),
        TARGET_INFO: ("gauge", SPANMETRICS_TARGET_LABELS),
        SERVICE_GRAPH_REQUEST_TOTAL: ("counter", SERVICE_GRAPH_LABELS),
        SERVICE_GRAPH_REQUEST_FAILED_TOTAL: ("counter", SERVICE_GRAPH_LABELS),
        SERVICE_GRAPH_SERVER_SECONDS: ("histogram", SERVICE_GRAPH_LABELS),
        SERVICE_GRAPH_CLIENT_SECONDS: ("histogram", SERVICE_GRAPH_LABELS),
    }

# The exemplar label carrying the trace id on the latency histograms' buckets
# (modules/generator/registry/histogram.go: default when trace_id_label_name is unset).
EXEMPLAR_TRACE_ID_LABEL = "traceID"
