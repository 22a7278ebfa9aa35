"""`python -m api --listen HOST:PORT --prometheus URL --alertmanager URL [--grafana URL] [--loki URL]
[--tempo URL] [--pyroscope URL] --tokens-file FILE [--rules-dir DIR]`: the entry point the image runs."""

from __future__ import annotations

import argparse
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        tokens = read_tokens(args.tokens_file)
    except (OSError, TokensFileError) as error:
        print(f"error: {error}", file=sys.stderr)
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
    )
    grafana_token = args.grafana_token_file.read_text().strip() if args.grafana_token_file else None
    host, port = args.listen
    uvicorn.run(create_app(config, grafana_token=grafana_token), host=host, port=port, log_level="warning",
                access_log=False, server_header=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
