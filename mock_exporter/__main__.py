"""Command line: python -m mock_exporter --exporter node --listen 127.0.0.1:9100 [--hosts 50]
[--web-config-file FILE]."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

import mock_exporter
from mock_exporter.base import FaultError, HostOptions
from mock_exporter.registry import KINDS
from mock_exporter.server import HostServer
from mock_exporter.webconfig import WebConfigError, WebSecurity, load_web_config
from mock_exporter.vllm import FEATURES as VLLM_FEATURES, GENERATIONS as VLLM_GENERATIONS


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mock_exporter",
        description="Serve synthetic metrics with the exact names and labels of a real exporter.",
        epilog="Faults" + mock_exporter.__doc__.split("Faults", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--exporter", required=True, choices=sorted(KINDS))
    parser.add_argument("--listen", required=True, type=parse_listen, help="HOST:PORT of the first host (port 0: ephemeral)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hosts", type=positive, default=1, help="simulated hosts on consecutive ports")
    parser.add_argument("--fault", action="append", default=[], metavar="KIND", help="start with this fault (repeatable)")
    parser.add_argument("--cpus", type=positive, default=8, help="node: CPUs per host (cadvisor: ×4 machine cores)")
    parser.add_argument("--disks", type=positive, default=2, help="node: block devices per host")
    parser.add_argument("--interfaces", type=positive, default=2, help="node: network interfaces besides lo")
    parser.add_argument("--gpus", type=positive, default=8, help="dcgm: GPUs per host")
    parser.add_argument("--containers", type=positive, default=10, help="cadvisor: containers per host")
    parser.add_argument("--vllm-generation", choices=VLLM_GENERATIONS, default="current",
                        help="vllm: current (v0.33.0 names) or previous (v0.10.1.1: time_per_output_token_seconds, ...)")
    parser.add_argument("--vllm-feature", action="append", default=[], choices=VLLM_FEATURES, dest="vllm_features",
                        help="vllm: also serve the families of this optional feature (repeatable)")
    parser.add_argument("--otlp-endpoint", metavar="URL",
                        help="spanmetrics: also send the traces of the flow over OTLP/HTTP to URL (e.g. http://alloy:4318)")
    parser.add_argument("--clock-offset", type=float, default=0.0, metavar="SECONDS",
                        help="serve the values of this many seconds from now (negative: ago), e.g. the night's trough")
    parser.add_argument("--web-config-file", metavar="FILE",
                        help="TLS and basic auth from an exporter-toolkit web configuration file "
                             "(tls_server_config: cert_file, key_file, min_version; basic_auth_users), on every host")
    return parser


def start_servers(args: argparse.Namespace, security: WebSecurity | None = None) -> list[HostServer]:
    host, port = args.listen
    started_at = time.time() + args.clock_offset
    servers: list[HostServer] = []
    try:
        for index in range(args.hosts):
            seed = args.seed + index
            options = HostOptions(
                seed=seed, started_at=started_at, hostname=f"mock-host-{seed}", cpus=args.cpus,
                disks=args.disks, interfaces=args.interfaces, gpus=args.gpus, containers=args.containers,
                vllm_generation=args.vllm_generation, vllm_features=tuple(args.vllm_features),
                clock_offset=args.clock_offset,
            )
            simulator = KINDS[args.exporter](options)
            for kind in args.fault:
                simulator.add_fault(started_at, kind, {})
            servers.append(HostServer((host, port + index if port else 0), simulator, args.clock_offset, security))
    except BaseException:
        for server in servers:
            server.server_close()
        raise
    return servers


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.otlp_endpoint and args.exporter != "spanmetrics":
        print("mock_exporter: --otlp-endpoint is an option of --exporter spanmetrics", file=sys.stderr)
        return 2
    try:
        security = load_web_config(args.web_config_file) if args.web_config_file else None
    except WebConfigError as error:
        print(f"mock_exporter: {error}", file=sys.stderr)
        return 2
    try:
        servers = start_servers(args, security)
    except FaultError as error:
        print(f"mock_exporter: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"mock_exporter: cannot listen: {error}", file=sys.stderr)
        return 1
    if args.otlp_endpoint:
        from mock_exporter.tracing import start_workload

        for server in servers:
            start_workload(server.simulator, args.otlp_endpoint, server.lock, args.clock_offset)
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    for index, server in enumerate(servers):
        address, bound_port = server.server_address[:2]
        print(f"listening exporter={args.exporter} host={index} address={address}:{bound_port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for server in servers:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
