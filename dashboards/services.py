"""Services, from their traces: RED per service and per operation from the span metrics Tempo's
metrics-generator writes, the dependency map from its service graph, and error propagation —
which downstream errors surface upstream, and where they start."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import nodegraph, tempo

from dashboards.common import (
    NEUTRAL,
    TEMPO_UID,
    Board,
    Query,
    datasource_ref,
    env_variable,
    label_variable,
    rising,
    table_panel,
    thresholds,
    timeseries_panel,
)
from rules.traces import ERRORS_RATIO, LATENCY_QUANTILE, QUANTILES
from settings.model import StackSettings
from traces.tempo_generated import (
    SERVICE_GRAPH_CLIENT_SECONDS, SPANMETRICS_CALLS, SPANMETRICS_LATENCY, STATUS_ERROR,
)

UID = "services"
SERVER = 'span_kind="SPAN_KIND_SERVER"'
CLIENT = 'span_kind="SPAN_KIND_CLIENT"'
# The same levels as the alerts' defaults (rules/traces.py): 5 % errors, 2 s p95.
ERROR_THRESHOLDS = rising(0.01, 0.05)
LATENCY_THRESHOLDS = rising(1, 2)


def dependency_map() -> Any:
    """Grafana's service map: the Tempo datasource reads the service-graph series from Prometheus
    (its `serviceMap` setting) and draws nodes (services, databases, the user) and edges with
    request rate, error share and latency."""
    return (
        nodegraph.Panel()
        .title("Dependency map")
        .description("Who calls whom, from the service graph Tempo derives from the traces: each edge with its "
                     "request rate and failures, each node with its load. Drawn by the Tempo datasource from "
                     "traces_service_graph_* in Prometheus.")
        .datasource(datasource_ref(TEMPO_UID))
        .unit("reqps")
        .thresholds(thresholds(NEUTRAL))
        .with_target(tempo.TempoQuery().ref_id("A").query_type("serviceMap").datasource(datasource_ref(TEMPO_UID)))
    )


def build(settings: StackSettings) -> dict[str, Any]:
    scope = 'env=~"$env", service=~"$service"'
    server = f"{scope}, {SERVER}"
    board = Board(
        settings,
        UID,
        "The applications' services as their traces show them: requests, errors and latency per service and "
        "operation (span metrics), who calls whom, and where errors start.",
        [env_variable(settings), label_variable("service", "service", SPANMETRICS_CALLS, 'env=~"$env"', "Service")],
    )
    board.row("Requests, errors, duration per service")
    board.add(timeseries_panel(
        "Requests per service",
        "Requests each service answered per second (its server spans, 5 m rate).",
        [Query(f"service:traces_spanmetrics_calls:rate5m{{{server}}}", "{{service}}")],
        "reqps",
    ), 8)
    board.add(timeseries_panel(
        "Error ratio per service",
        "Share of the requests each service answered that ended in error (span status ERROR, 5 m). "
        "ServiceErrorRatioHigh fires above 5 %.",
        [Query(f"{ERRORS_RATIO}{{{server}}}", "{{service}}")],
        "percentunit",
        ERROR_THRESHOLDS,
        min_value=0,
    ), 8)
    board.add(timeseries_panel(
        "Latency per service",
        "Percentiles of the duration of the requests each service answered (5 m). ServiceLatencyHigh fires "
        "when p95 stays above 2 s.",
        [Query(f'{LATENCY_QUANTILE}{{{server}, quantile="{q}"}}', f"p{q[2:]:0<2} {{{{service}}}}") for q in QUANTILES],
        "s",
        LATENCY_THRESHOLDS,
    ), 8)
    board.row("Operations")
    board.add(timeseries_panel(
        "Requests by operation",
        "Requests per second by service and operation (span name), server spans.",
        [Query(f"sum by (service, span_name) (rate({SPANMETRICS_CALLS}{{{server}}}[$__rate_interval]))",
               "{{service}} {{span_name}}")],
        "reqps",
    ), 12)
    board.add(timeseries_panel(
        "Latency by operation (p95)",
        "95th percentile duration by service and operation, server spans; the dots are exemplars, sampled "
        "requests whose trace opens in Tempo.",
        [Query(f"histogram_quantile(0.95, sum by (service, span_name, le) "
               f"(rate({SPANMETRICS_LATENCY}_bucket{{{server}}}[$__rate_interval])))", "{{service}} {{span_name}}",
               exemplar=True)],
        "s",
        LATENCY_THRESHOLDS,
    ), 12)
    board.row("Dependencies")
    board.add(dependency_map(), 12, 12)
    board.add(table_panel(
        "Requests between services",
        "Each edge of the service graph (client -> server; database edges to the database, the user in front "
        "of the first service) with its requests per second now.",
        [Query('client_server:traces_service_graph_request:rate5m{env=~"$env"}')],
        "reqps",
    ), 12, 12)
    board.add(timeseries_panel(
        "Call latency between services (p95)",
        "95th percentile duration of each call as its caller measures it (client side, so the network and the "
        "callee's time together); a slow callee makes every caller above it slow.",
        [Query(f"histogram_quantile(0.95, sum by (client, server, le) (rate({SERVICE_GRAPH_CLIENT_SECONDS}_bucket"
               f'{{env=~"$env", connection_type!="virtual_node"}}[$__rate_interval])))', "{{client}} -> {{server}}")],
        "s",
        LATENCY_THRESHOLDS,
    ), 24)
    board.row("Error propagation")
    errors_returned = f"service:traces_spanmetrics_errors:rate5m{{{server}}}"
    errors_received = (f"sum by (env, service) (rate({SPANMETRICS_CALLS}{{{scope}, {CLIENT}, "
                       f'status_code="{STATUS_ERROR}"}}[5m]))')
    board.add(timeseries_panel(
        "Errors returned, by service",
        "Failed requests per second each service answered, whether the failure is its own or a callee's "
        "passed up. An error that starts in one service shows here in it and in every caller above it.",
        [Query(errors_returned, "{{service}}")],
        "reqps",
    ), 8)
    board.add(timeseries_panel(
        "Errors received from downstream",
        "Failed calls per second on each edge of the service graph (caller -> callee): follow the failing "
        "edges down to find where errors come from.",
        [Query('client_server:traces_service_graph_request_failed:rate5m{env=~"$env", connection_type!="virtual_node"}',
               "{{client}} -> {{server}}")],
        "reqps",
    ), 8)
    board.add(timeseries_panel(
        "Where errors start",
        "Errors per second each service returns beyond those its own failed calls explain (errors returned "
        "minus failed calls it made): the service where an error chain starts stands out, its callers stay "
        "near zero.",
        [Query(f"clamp_min({errors_returned} - on (env, service) group_left {errors_received}, 0) or {errors_returned}",
               "{{service}}")],
        "reqps",
    ), 8)
    return board.build()
