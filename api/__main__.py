"""`python -m api --listen HOST:PORT --prometheus URL --alertmanager URL [--grafana URL] [--loki URL]
[--tempo URL] [--pyroscope URL] --tokens-file FILE [--rules-dir DIR | --rules-configmap NAMESPACE/NAME]
[--promtool PATH] [--tls-cert-file FILE --tls-key-file FILE]`:
the entry point the image runs. With a certificate and key it serves HTTPS only (TLS 1.2 or later)."""

from __future__ import annotations

import argparse
import shutil
import ssl
import sys
from pathlib import Path

from api.config import UPSTREAMS, ApiConfig, TokensFileError, read_tokens


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT")
    return host or "0.0.0.0", int(port)


def _timeout(value: str) -> tuple[str, float]:
    name, sep, seconds = value.partition("=")
    if not sep or name not in UPSTREAMS:
        raise argparse.ArgumentTypeError(f"{value!r} is not UPSTREAM=SECONDS with UPSTREAM one of {', '.join(UPSTREAMS)}")
    try:
        number = float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: {seconds!r} is not a number of seconds")
    if not 0 < number <= 300:
        raise argparse.ArgumentTypeError(f"{value!r}: between 0 and 300 seconds")
    return name, number


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__.split(":")[0])
    parser.add_argument("--listen", type=_listen, required=True, help="HOST:PORT")
    for upstream in UPSTREAMS:
        parser.add_argument(f"--{upstream}", metavar="URL", required=upstream in ("prometheus", "alertmanager"),
                            help=f"{upstream}'s base URL" + ("" if upstream in ("prometheus", "alertmanager") else
                                                             "; without it its endpoints answer 503"))
    parser.add_argument("--tokens-file", type=Path, required=True, help="one `read <token>` or `write <token>` a line")
    parser.add_argument("--rules-dir", type=Path, help="the user rules directory Prometheus' rule_files globs")
    parser.add_argument("--prometheus-reload-url", metavar="URL", help="POSTed after a rule change (Prometheus /-/reload)")
    parser.add_argument("--grafana-token-file", type=Path, help="a Grafana service account token")
    parser.add_argument("--timeout", type=_timeout, action="append", default=[], metavar="UPSTREAM=SECONDS")
    parser.add_argument("--rate-limit", type=float, default=0.0, help="requests a second per token; 0: none")
    parser.add_argument("--ca-file", type=Path, help="CA certificate that HTTPS upstreams are verified against")
    parser.add_argument("--client-user", help="basic-auth user for the upstreams named by --client-auth")
    parser.add_argument("--client-password-file", type=Path, help="that user's password")
    parser.add_argument("--client-auth", action="append", default=[], choices=UPSTREAMS, metavar="UPSTREAM",
                        help="an upstream that asks for basic auth (repeatable)")
    parser.add_argument("--promtool", default="auto", metavar="PATH",
                        help="promtool checking user rules (default: `promtool` on PATH; `none`: promql-parser only)")
    parser.add_argument("--promtool-timeout", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--rules-configmap", metavar="NAMESPACE/NAME",
                        help="on a cluster: the user rules ConfigMap, written through the Kubernetes API (instead of --rules-dir)")
    parser.add_argument("--kubernetes-api", metavar="URL", help="the API server (default: the in-cluster one)")
    parser.add_argument("--kubernetes-token-file", type=Path, help="default: the pod's ServiceAccount token")
    parser.add_argument("--kubernetes-ca-file", type=Path, help="default: the pod's ServiceAccount CA")
    parser.add_argument("--rules-propagation-seconds", type=int, default=150,
                        help="with --rules-configmap: how long until every Prometheus replica evaluates a change")
    parser.add_argument("--tls-cert-file", type=Path, help="serve HTTPS with this certificate (PEM; with --tls-key-file)")
    parser.add_argument("--tls-key-file", type=Path, help="the certificate's private key (PEM)")
    return parser.parse_args(argv)


def server_config(app, host: str, port: int, cert_file: Path | None = None, key_file: Path | None = None):
    """uvicorn's configuration: HTTPS only when given a certificate, TLS 1.2 at least (plain HTTP
    on that port fails the handshake), no server header, no access log."""
    import uvicorn

    tls = {"ssl_certfile": str(cert_file), "ssl_keyfile": str(key_file)} if cert_file else {}
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, server_header=False, **tls)
    config.load()
    if config.ssl is not None:
        config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
    return config


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        tokens = read_tokens(args.tokens_file)
    except (OSError, TokensFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if (args.tls_cert_file is None) != (args.tls_key_file is None):
        print("error: --tls-cert-file and --tls-key-file go together", file=sys.stderr)
        return 2
    for option, path in (("--tls-cert-file", args.tls_cert_file), ("--tls-key-file", args.tls_key_file)):
        if path is not None and not path.is_file():
            print(f"error: {option} {path} is not a file", file=sys.stderr)
            return 2
    promtool = shutil.which("promtool") if args.promtool == "auto" else None if args.promtool == "none" else args.promtool
    if promtool is not None and shutil.which(promtool) is None:
        print(f"error: --promtool {promtool} is not an executable", file=sys.stderr)
        return 2
    if args.rules_configmap is not None:
        namespace, _, name = args.rules_configmap.partition("/")
        if not namespace or not name or args.rules_dir is not None:
            print("error: --rules-configmap is NAMESPACE/NAME, instead of --rules-dir", file=sys.stderr)
            return 2
    if args.rules_dir is not None and not args.rules_dir.is_dir():
        print(f"error: --rules-dir {args.rules_dir} is not a directory", file=sys.stderr)
        return 2
    import uvicorn

    from api.app import create_app

    config = ApiConfig(
        upstreams={name: getattr(args, name) for name in UPSTREAMS if getattr(args, name)},
        tokens=tokens, rules_dir=args.rules_dir, prometheus_reload_url=args.prometheus_reload_url,
        timeouts=dict(args.timeout), rate_limit=args.rate_limit, ca_file=args.ca_file,
        client_user=args.client_user, client_auth_upstreams=tuple(args.client_auth),
        client_password=args.client_password_file.read_text().strip() if args.client_password_file else None,
        promtool=promtool, promtool_timeout=args.promtool_timeout, rules_configmap=args.rules_configmap,
        kubernetes_api=args.kubernetes_api, kubernetes_token_file=args.kubernetes_token_file,
        kubernetes_ca_file=args.kubernetes_ca_file, rules_propagation_seconds=args.rules_propagation_seconds,
    )
    grafana_token = args.grafana_token_file.read_text().strip() if args.grafana_token_file else None
    host, port = args.listen
    uvicorn.Server(server_config(create_app(config, grafana_token=grafana_token), host, port,
                                 args.tls_cert_file, args.tls_key_file)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
