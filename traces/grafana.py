"""Grafana's links between the four signals, as datasource settings (jsonData, Grafana 11.6):

- Tempo -> Loki (tracesToLogsV2: the span's service and the trace id), -> Prometheus (tracesToMetrics:
  the span metrics of the span's service and operation), -> Pyroscope (tracesToProfiles), the service
  map (serviceMap, from the service-graph series) and the node graph;
- Loki -> Tempo (derivedFields: a trace id in a line opens the trace);
- Prometheus -> Tempo (exemplarTraceIdDestinations: an exemplar's trace id opens the trace);
- Pyroscope, its own datasource.

Key names follow Grafana 11.6's Tempo, Loki and Prometheus datasource provisioning documentation.
"""

from __future__ import annotations

from render.gateway import gated
from settings.model import StackSettings
from traces.tempo_generated import EXEMPLAR_TRACE_ID_LABEL, SPANMETRICS_CALLS, SPANMETRICS_LATENCY, STATUS_ERROR

TEMPO_UID = "tempo"
PYROSCOPE_UID = "pyroscope"
PROMETHEUS_UID = "prometheus"
LOKI_UID = "loki"
# A span's resource attribute -> the label carrying it in each store.
LOG_SERVICE_TAG = {"key": "service.name", "value": "service"}
METRIC_SERVICE_TAG = {"key": "service.name", "value": "service"}
PROFILE_SERVICE_TAG = {"key": "service.name", "value": "service_name"}
# Go's CPU profile in Pyroscope's profile type id form (name:sample type:unit:period type:unit).
CPU_PROFILE_TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
# Logs and metrics around a span: from a minute before it starts to a minute after it ends.
SHIFT = {"spanStartTimeShift": "-1m", "spanEndTimeShift": "1m"}


def tempo_json_data(settings: StackSettings) -> dict:
    data: dict = {
        "tracesToLogsV2": {
            "datasourceUid": LOKI_UID,
            **SHIFT,
            "tags": [LOG_SERVICE_TAG],
            "filterByTraceID": True,
            "filterBySpanID": False,
        },
        "tracesToMetrics": {
            "datasourceUid": PROMETHEUS_UID,
            **SHIFT,
            "tags": [METRIC_SERVICE_TAG],
            "queries": [
                {"name": "Request rate", "query": f"sum(rate({SPANMETRICS_CALLS}{{$__tags}}[5m]))"},
                {
                    "name": "Error rate",
                    "query": f'sum(rate({SPANMETRICS_CALLS}{{$__tags, status_code="{STATUS_ERROR}"}}[5m]))',
                },
                {
                    "name": "p95 latency",
                    "query": f"histogram_quantile(0.95, sum by (le) (rate({SPANMETRICS_LATENCY}_bucket{{$__tags}}[5m])))",
                },
            ],
        },
        "serviceMap": {"datasourceUid": PROMETHEUS_UID},
        "nodeGraph": {"enabled": True},
        "search": {"hide": False},
        "traceQuery": {"timeShiftEnabled": True, **SHIFT},
        # Streaming search is gRPC over HTTP/2 to Tempo's HTTP port; the gateway (security.auth,
        # render/gateway.py) speaks HTTP/1.1 to Tempo, so Grafana then searches with plain requests.
        "streamingEnabled": {"search": not gated(settings, "tempo")},
    }
    if settings.runs_profiles:
        data["tracesToProfiles"] = {
            "datasourceUid": PYROSCOPE_UID,
            "profileTypeId": CPU_PROFILE_TYPE,
            "tags": [PROFILE_SERVICE_TAG],
            "customQuery": False,
        }
    return data


def pyroscope_json_data(settings: StackSettings) -> dict:
    return {"minStep": "15s"}


def exemplar_destinations(settings: StackSettings) -> list[dict]:
    """Prometheus' exemplars whose trace id opens in Tempo (only when Tempo runs)."""
    if not settings.runs_traces:
        return []
    return [{"name": EXEMPLAR_TRACE_ID_LABEL, "datasourceUid": TEMPO_UID}]


def trace_link_datasource(settings: StackSettings) -> str | None:
    """Where a trace id found in a log line opens: the configured datasource, else Tempo when it runs."""
    link = settings.logs.trace_link
    if link.datasource_uid or link.url_template:
        return link.datasource_uid
    return TEMPO_UID if settings.runs_traces else None
