"""The collector's trace pipeline, rendered into the same config.alloy as the log pipeline.

    receivers (OTLP gRPC/HTTP, Jaeger gRPC/Thrift HTTP, Zipkin)
      -> memory_limiter -> probabilistic_sampler (head, when head_ratio < 1)
      -> tail_sampling (errors, slow traces, a share of the rest) -> batch -> OTLP to Tempo

Component, block and argument names follow Alloy v1.11 (checked against
logs/upstream/alloy-v1.11.3-components.json). `sampling_policies` is the one description of the
sampling decisions: the renderer writes it, and the sampling simulation reads it back from the
rendered config (traces/sampling.py).
"""

from __future__ import annotations

from logs.alloy_syntax import Block, Ref
from services.topology import Endpoints
from settings.model import StackSettings
from settings.types import duration_seconds
from traces.tempo import RECEIVER_PORTS

# Component labels, fixed: other blocks reference them.
LABEL = "default"
TEMPO_EXPORTER = "tempo"
# The memory limiter refuses data above this share of the container's memory limit (cgroup).
MEMORY_LIMIT_PERCENTAGE = 80
MEMORY_SPIKE_PERCENTAGE = 20


def _listen(port: int) -> str:
    return f"0.0.0.0:{port}"


def _output(target: str) -> Block:
    return Block("output", attributes={"traces": [Ref(f"{target}.input")]})


def receiver_blocks(first: str) -> list[Block]:
    output = _output(first)
    return [
        Block(
            "otelcol.receiver.otlp",
            LABEL,
            blocks=[
                Block("grpc", attributes={"endpoint": _listen(RECEIVER_PORTS["otlp-grpc"])}),
                Block("http", attributes={"endpoint": _listen(RECEIVER_PORTS["otlp-http"])}),
                output,
            ],
        ),
        Block(
            "otelcol.receiver.jaeger",
            LABEL,
            blocks=[
                Block(
                    "protocols",
                    blocks=[
                        Block("grpc", attributes={"endpoint": _listen(RECEIVER_PORTS["jaeger-grpc"])}),
                        Block("thrift_http", attributes={"endpoint": _listen(RECEIVER_PORTS["jaeger-http"])}),
                    ],
                ),
                output,
            ],
        ),
        Block("otelcol.receiver.zipkin", LABEL, {"endpoint": _listen(RECEIVER_PORTS["zipkin"])}, [output]),
    ]


def sampling_policies(settings: StackSettings) -> list[Block]:
    """Tail policies; a trace is kept when any one of them keeps it."""
    tail = settings.traces.sampling.tail
    return [
        Block("policy", attributes={"name": "errors", "type": "status_code"},
              blocks=[Block("status_code", attributes={"status_codes": ["ERROR"]})]),
        Block("policy", attributes={"name": "slow", "type": "latency"},
              blocks=[Block("latency", attributes={"threshold_ms": int(duration_seconds(tail.latency_threshold) * 1000)})]),
        Block("policy", attributes={"name": "share-of-rest", "type": "probabilistic"},
              blocks=[Block("probabilistic", attributes={"sampling_percentage": round(tail.keep_ratio * 100, 4)})]),
    ]


def trace_blocks(settings: StackSettings, endpoints: Endpoints) -> list[Block]:
    sampling = settings.traces.sampling
    # The chain after the receivers, in order: (component, arguments, children without output).
    chain: list[tuple[str, dict, list[Block]]] = [
        ("otelcol.processor.memory_limiter",
         {"check_interval": "1s", "limit_percentage": MEMORY_LIMIT_PERCENTAGE, "spike_limit_percentage": MEMORY_SPIKE_PERCENTAGE}, []),
    ]
    if sampling.head_ratio < 1:
        chain.append(("otelcol.processor.probabilistic_sampler", {"sampling_percentage": round(sampling.head_ratio * 100, 4)}, []))
    if sampling.tail.enabled:
        chain.append((
            "otelcol.processor.tail_sampling",
            {"decision_wait": sampling.tail.decision_wait, "num_traces": sampling.tail.num_traces},
            sampling_policies(settings),
        ))
    chain.append(("otelcol.processor.batch", {"timeout": "5s", "send_batch_size": 8192}, []))
    blocks = receiver_blocks(f"{chain[0][0]}.{LABEL}")
    for index, (component, arguments, children) in enumerate(chain):
        following = f"{chain[index + 1][0]}.{LABEL}" if index + 1 < len(chain) else f"otelcol.exporter.otlp.{TEMPO_EXPORTER}"
        blocks.append(Block(component, LABEL, arguments, [*children, _output(following)]))
    tempo = endpoints["tempo"]
    blocks.append(
        Block(
            "otelcol.exporter.otlp",
            TEMPO_EXPORTER,
            blocks=[
                Block(
                    "client",
                    attributes={"endpoint": f"{tempo.host}:{RECEIVER_PORTS['otlp-grpc']}"},
                    # Inside the stack network (Docker) or the cluster's policies: plain gRPC.
                    blocks=[Block("tls", attributes={"insecure": True})],
                )
            ],
        )
    )
    return blocks
