"""Mock exporters: synthetic hosts that serve what node_exporter, cAdvisor, dcgm-exporter and vLLM
serve — the same family names, types, sample names and label names — with plausible, deterministic
values, so dashboards and alert rules can be built and tested before the real exporters are rolled
out (node first, then cAdvisor, then DCGM, then vLLM).

Run: python -m mock_exporter --exporter {node,cadvisor,dcgm,vllm,spanmetrics} --listen HOST:PORT
         [--seed N] [--hosts N] [--fault KIND] [--cpus N] [--disks N] [--interfaces N]
         [--gpus N] [--containers N] [--clock-offset SECONDS]
         [--vllm-generation current|previous] [--vllm-feature speculative_decoding|lora ...]
         [--otlp-endpoint URL] [--web-config-file FILE]

With --web-config-file (the format of exporter-toolkit's --web.config.file, mock_exporter/webconfig.py)
every host serves HTTPS (TLS 1.2 or later) and asks for one of the file's basic-auth users on every
path below, /-/healthy included: 401 with `WWW-Authenticate: Basic` otherwise.

Endpoints (per simulated host):
  GET    /metrics    Prometheus text format 0.0.4.
  GET    /-/healthy  200 while the process serves (even under the `down` fault, so it can be cleared).
  GET    /-/fault    active faults and the kinds this exporter accepts, as JSON.
  POST   /-/fault    JSON {"kind": KIND, ...parameters}: start a fault (replaces one of the same kind).
  DELETE /-/fault    clear every fault, or only ?kind=KIND.

Values: counters integrate a daily rhythm (a sinusoid over the day plus a slower wobble) and never
decrease; gauges follow the same rhythm plus seeded noise. Everything is a function of the seed and
the wall-clock time, so two mocks with the same seed agree; --clock-offset shifts that clock, so a
test or a demo can serve the night's trough or the daily peak whatever the hour. With --hosts N, host i listens on PORT+i
with seed SEED+i and hostname mock-host-<seed>; with port 0 each host takes an ephemeral port. The
chosen addresses are printed on stdout, one "listening exporter=... host=i address=HOST:PORT" line each.
The vLLM mock serves the metric names of vLLM v0.33.0, or with --vllm-generation previous those of
v0.10.1.1 (time_per_output_token_seconds before its rename to inter_token_latency_seconds), so rules
and dashboards can be tried on a fleet mixing both; --vllm-feature adds the speculative-decoding or
LoRA families a server configured for them serves.
`spanmetrics` is no exporter of the rollout: it serves the span-metric and service-graph series
Tempo's metrics-generator derives from a plugin-style request flow (gateway -> plugins -> model
server -> database, mock_exporter/traced_flow.py), and with --otlp-endpoint it also sends that
flow's traces over OTLP/HTTP (OpenTelemetry SDK) and logs one line per request with its trace_id.

Faults (parameters optional, defaults shown):
  any       down            {"mode": "503"|"close"}  /metrics answers 503, or closes the connection.
  node      cpu_saturation  {"busy": 0.98}  every CPU busy at that share; load averages ≈ 1.6 × CPUs.
  node      memory_pressure MemAvailable ≈ 3 % of MemTotal, swap in use, major faults and swapping
                            surge, one OOM kill at once then one every two minutes.
  node      disk_fill       {"mountpoint": "/", "seconds_to_full": 3600}  free space falls linearly
                            to the root reserve (avail 0) over that time.
  cadvisor  oom             {"container": <first with a memory limit>}  working set at its limit,
                            container_oom_events_total +1 at once then +1 a minute, major faults up.
  cadvisor  restart         {"container": ...}  the container restarts now: start time moves, its
                            counters start again from 0 (a counter reset, as after a real restart).
  dcgm      gpu_overheat    {"gpu": 0|"all", "celsius": 93}  temperature at that value, SM clock
                            throttled to 60 %, power draw lower.
  dcgm      xid_error       {"gpu": 0|"all", "code": 79}  DCGM_FI_DEV_XID_ERRORS = code with
                            err_code/err_msg labels; codes 48/94/95 (uncorrectable ECC)
                            count one double-bit error at once, then single-bit errors.
  dcgm      gpu_stuck       {"gpu": 0|"all"}  GPU_UTIL pinned at 100 while the engine does no work
                            (PROF_GR_ENGINE_ACTIVE 0) and power sits near idle: a hung GPU.
  vllm      error_rate      {"ratio": 0.3}  that share of finished requests end as finished_reason
                            "abort" (vLLM's engine metrics have no HTTP status).
  vllm      latency         {"factor": 5}  TTFT, time per output token, e2e, inference, prefill and
                            decode latencies multiplied; more requests running.
  vllm      queue_growth    {"per_second": 2}  waiting requests grow by that rate, batch full,
                            KV cache ≈ 98.5 %, queue time +30 s, preemptions up.
  spanmetrics error_rate   {"ratio": 0.3, "service": "model-server"}  that service's server spans fail
                            at that ratio; the error surfaces in every caller up to the gateway.
  spanmetrics latency      {"factor": 5, "service": "model-server"}  that service's own time multiplied.

Clearing a fault restores normal behaviour from that instant; counters keep their accumulated values.
"""
