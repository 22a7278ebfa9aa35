"""Upstream answers shaped exactly as each project's API defines them, for the adapters whose
binaries do not run here. Values are ours; the shapes, field names and encodings are upstream's:

- Grafana 11.6 HTTP API (docs/sources/developers/http_api/dashboard.md, folder.md, folder_dashboard_search.md):
  `GET /api/search` is a list of hits with uid, title, url, type, tags, folderUid; `POST
  /api/dashboards/db` answers id, uid, url, status, version, slug; `GET /api/dashboards/uid/<uid>`
  answers {dashboard, meta} with meta.provisioned and meta.folderUid.
- Loki 3.5 HTTP API (docs/sources/reference/loki-http-api.md): query_range answers
  {status, data: {resultType: "streams", result: [{stream, values: [[<ns string>, <line>]]}]}};
  `/loki/api/v1/series` answers {status, data: [<label set>]}; `/loki/api/v1/patterns` answers
  {status, data: [{pattern, samples: [[<unix seconds>, <count>]]}]} (pkg/util/marshal
  WriteQueryPatternsResponseJSON).
- Tempo 2.9 HTTP API (docs/sources/tempo/api_docs/_index.md): `/api/search` answers {traces: [{traceID,
  rootServiceName, rootTraceName, startTimeUnixNano (string), durationMs}], metrics}; `/api/traces/<id>`
  answers OTLP JSON under `batches`, ids base64 (protobuf JSON bytes), int64s as strings.
- Pyroscope 1.15 (api/querier/v1/querier.proto, api/types/v1/types.proto; connect JSON): ProfileTypes
  answers {profileTypes: [{ID, name, sampleType, sampleUnit, periodType, periodUnit}]}, LabelValues
  answers {names}; `/pyroscope/render` answers {flamebearer: {names, levels, numTicks, maxSelf},
  metadata: {format: "single", units, sampleRate, ...}} with levels as flat [offset, total, self,
  name index] quadruples (public/app/services/TestData.ts in the Pyroscope repository has the same shape).
"""

GRAFANA_SEARCH = [
    {"id": 1, "uid": "node", "title": "Node", "uri": "db/node", "url": "/d/node/node", "slug": "", "type": "dash-db",
     "tags": ["node"], "isStarred": False, "folderId": 1, "folderUid": "monitoring", "folderTitle": "Monitoring",
     "folderUrl": "/dashboards/f/monitoring/"},
    {"id": 7, "uid": "mine-1a2b3c4d", "title": "Mine", "uri": "db/mine", "url": "/d/mine-1a2b3c4d/mine", "slug": "",
     "type": "dash-db", "tags": [], "isStarred": False, "folderId": 3, "folderUid": "monitoring-api",
     "folderTitle": "Monitoring API", "folderUrl": "/dashboards/f/monitoring-api/"},
]
GRAFANA_SAVED = {"id": 7, "uid": "mine-1a2b3c4d", "url": "/d/mine-1a2b3c4d/mine", "status": "success", "version": 2,
                 "slug": "mine"}


def grafana_dashboard(uid: str, folder_uid: str, provisioned: bool) -> dict:
    return {
        "dashboard": {"id": 7, "uid": uid, "title": "Mine", "version": 1, "panels": [], "schemaVersion": 39},
        "meta": {"type": "db", "canSave": True, "canEdit": True, "slug": "mine", "url": f"/d/{uid}/mine",
                 "version": 1, "provisioned": provisioned, "provisionedExternalId": "node.json" if provisioned else "",
                 "folderUid": folder_uid, "folderTitle": "Monitoring API", "folderUrl": f"/dashboards/f/{folder_uid}/"},
    }


LOKI_QUERY_RANGE = {
    "status": "success",
    "data": {
        "resultType": "streams",
        "result": [
            {"stream": {"service": "api", "level": "error"},
             "values": [["1700000002000000000", "error talking to db"], ["1700000001000000000", "error timeout"]]},
            {"stream": {"service": "worker", "level": "error"}, "values": [["1700000001500000000", "error job 7"]]},
        ],
        "stats": {"summary": {"bytesProcessedPerSecond": 1000, "execTime": 0.001}},
    },
}
LOKI_METRIC_QUERY = {"status": "success", "data": {"resultType": "matrix", "result": []}}
LOKI_SERIES = {"status": "success", "data": [{"service": "api", "level": "error"}, {"service": "worker", "level": "info"}]}
LOKI_PATTERNS = {
    "status": "success",
    "data": [
        {"pattern": "<_> level=info msg=\"request served\" <_>", "samples": [[1700000000, 4], [1700000010, 6]]},
        {"pattern": "<_> level=error msg=\"db timeout\" <_>", "samples": [[1700000000, 15]]},
    ],
}

TEMPO_SEARCH = {
    "traces": [
        {"traceID": "2f3e0cee77ae5dc9c17ade3689eb2e54", "rootServiceName": "gateway", "rootTraceName": "POST /chat",
         "startTimeUnixNano": "1700000000000000000", "durationMs": 557},
    ],
    "metrics": {"inspectedTraces": 10, "inspectedBytes": "3811", "totalBlocks": 1},
}
# Trace id 2f3e0cee77ae5dc9c17ade3689eb2e54, span ids 0102030405060708 and 1112131415161718, in base64.
TEMPO_TRACE = {
    "batches": [
        {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "gateway"}}]},
         "scopeSpans": [{"scope": {"name": "gateway"}, "spans": [
             {"traceId": "Lz4M7neuXcnBet42iesuVA==", "spanId": "AQIDBAUGBwg=", "name": "POST /chat", "kind": "SPAN_KIND_SERVER",
              "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000557000000",
              "attributes": [{"key": "http.status_code", "value": {"intValue": "500"}}],
              "status": {"code": "STATUS_CODE_ERROR"}}]}]},
        {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "model-server"}}]},
         "scopeSpans": [{"scope": {"name": "model-server"}, "spans": [
             {"traceId": "Lz4M7neuXcnBet42iesuVA==", "spanId": "ERITFBUWFxg=", "parentSpanId": "AQIDBAUGBwg=",
              "name": "generate", "kind": "SPAN_KIND_SERVER", "startTimeUnixNano": "1700000000010000000",
              "endTimeUnixNano": "1700000000500000000", "attributes": [], "status": {}}]}]},
    ]
}

PYROSCOPE_PROFILE_TYPES = {"profileTypes": [
    {"ID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "name": "process_cpu", "sampleType": "cpu",
     "sampleUnit": "nanoseconds", "periodType": "cpu", "periodUnit": "nanoseconds"},
    {"ID": "memory:inuse_space:bytes:space:bytes", "name": "memory", "sampleType": "inuse_space", "sampleUnit": "bytes",
     "periodType": "space", "periodUnit": "bytes"},
]}
PYROSCOPE_LABEL_VALUES = {"names": ["plugin-chat", "gateway"]}
# total(100) -> main(100) -> {handle(70, self 60) -> parse(10, self 10), gc(30, self 30)}
PYROSCOPE_RENDER = {
    "version": 1,
    "flamebearer": {
        "names": ["total", "main", "handle", "gc", "parse"],
        "levels": [[0, 100, 0, 0], [0, 100, 0, 1], [0, 70, 60, 2, 0, 30, 30, 3], [0, 10, 10, 4]],
        "numTicks": 100, "maxSelf": 60,
    },
    "metadata": {"format": "single", "spyName": "", "sampleRate": 1000000000, "units": "samples", "name": "cpu"},
    "timeline": {"startTime": 1700000000, "samples": [100], "durationDelta": 10},
}
