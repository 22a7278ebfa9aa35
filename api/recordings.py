"""Record names of the stack's recording rules the API reads. Kept here so the image carries the
API package alone; tests/api/test_recordings.py holds them equal to rules/capacity.py and rules/sla.py."""

CAPACITY_USAGE = "capacity:usage:ratio"
CAPACITY_SIZE = "capacity:size"
CAPACITY_HEADROOM = "capacity:headroom:ratio"
CAPACITY_FORECAST = "capacity:usage:ratio_forecast"
CAPACITY_DAYS_UNTIL_FULL = "capacity:usage:days_until_full"
CAPACITY_RECOMMENDED = "capacity:size:recommended_addition"

SLA_STATE = "sla:status:state"
SLA_RATIO_MONTH = "sla:sli:ratio_month_to_date"
SLA_BUDGET_USED = "sla:error_budget_used:ratio_month_to_date"
SLA_BUDGET_PROJECTED = "sla:error_budget_used:ratio_month_projected"
SLA_STATES = {0: "operational", 1: "degraded", 2: "outage"}

# Tempo's metrics-generator service graph (the pinned Tempo; traces/tempo_generated.py).
SERVICE_GRAPH_REQUESTS = "traces_service_graph_request_total"
SERVICE_GRAPH_FAILED = "traces_service_graph_request_failed_total"
SERVICE_GRAPH_SERVER_SECONDS = "traces_service_graph_request_server_seconds_bucket"

# The stack's own request-latency histograms (`/monitoring/benchmarks`), with this API's.
LATENCY_HISTOGRAMS = (
    "prometheus_http_request_duration_seconds",
    "alertmanager_http_request_duration_seconds",
    "grafana_http_request_duration_seconds",
    "loki_request_duration_seconds",
    "tempo_request_duration_seconds",
    "pyroscope_request_duration_seconds",
    "monitoring_api_request_duration_seconds",
)
