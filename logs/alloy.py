"""Grafana Alloy's rendering of the log pipeline (`logs.pipeline`): discovery and source components
per source, one `loki.process` with the pipeline's stages, and one `loki.write` to the stack's Loki.

Block and attribute names follow Alloy's component reference (v1.11).

Alloy takes over Promtail's read positions: on its first start (no positions of its own yet) each
`loki.source.file` converts Promtail's positions file (`legacy_positions_file`; since v1.11.0 an
entry matches on the path alone when the target carries labels, as ours do) and
`loki.source.journal` takes Promtail's journal cursor of the same job (`legacy_position`, v1.11.0).
A missing file is skipped, so a stack that never ran Promtail starts normally.
"""

from __future__ import annotations

from typing import Any

from logs.alloy_syntax import Block, Call, Ref, write
from logs.loki import CLIENT_PASSWORD_ENV
from logs.pipeline import LogPipeline, RelabelRule, Source, Stage, log_pipeline, plain
from logs.promtail import POSITIONS_FILE as PROMTAIL_POSITIONS_FILE
from profiles.alloy import gateway_client_blocks, profile_blocks
from services.topology import Endpoints
from render.gateway import client_url
from render.tls_clients import requires_auth, serves_tls
from render.web_config import CERT_FILE, KEY_FILE, SECRETS_DIR
from settings.model import StackSettings
from traces.alloy import trace_blocks

CONFIG_FILE = "config.alloy"
# Alloy's storage path (positions, component state). Deliberately not the image's /var/lib/alloy/data:
# that directory is owned by the image's alloy user (473) with mode 770, and a new named volume
# mounted over it takes that owner and mode, which root without capabilities cannot write. A path the
# image lacks gives a volume owned by root (see services.collector for why Alloy runs as root).
STORAGE_DIR = "/var/lib/alloy-state"
PROCESS = "pipeline"
WRITE = "loki"
# The environment variable holding the client user's password, which Alloy's own server checks
# (security.auth): from the `web_client_password` secret, never in config.alloy (collector_secret_env).
HTTP_PASSWORD_ENV = CLIENT_PASSWORD_ENV

# Pipeline stage kind -> Alloy block inside `loki.process` (the rest are `stage.<kind>`).
ALLOY_STAGE = {"labelallow": "stage.label_keep"}
# Stages whose Promtail value is a bare mapping; Alloy takes it as their `values` attribute.
_VALUES_STAGES = {"labels", "structured_metadata"}


def stage_block(stage: Stage) -> Block:
    name = ALLOY_STAGE.get(stage.kind, f"stage.{stage.kind}")
    params = plain(stage.params)
    if stage.kind in _VALUES_STAGES:
        params = {"values": params}
    return Block(name, attributes=params)



def rule_block(rule: RelabelRule) -> Block:
    attributes: dict[str, Any] = {}
    if rule.source_labels:
        attributes["source_labels"] = list(rule.source_labels)
        attributes["separator"] = rule.separator
    attributes.update({"regex": rule.regex, "replacement": rule.replacement, "target_label": rule.target_label})
    return Block("rule", attributes=attributes)


def static_rules(source: Source) -> list[RelabelRule]:
    return [RelabelRule(name, regex="(.*)", replacement=value) for name, value in sorted(source.labels.items())]


def source_blocks(source: Source) -> list[Block]:
    """The source's discovery and reading components, then its own prelude stages if it has any."""
    forward = [Ref(f"loki.process.{source.name if source.prelude else PROCESS}.receiver")]
    prelude = (
        [Block("loki.process", source.name, {"forward_to": [Ref(f"loki.process.{PROCESS}.receiver")]}, [stage_block(stage) for stage in source.prelude])]
        if source.prelude
        else []
    )
    return _reading_blocks(source, forward) + prelude


def _reading_blocks(source: Source, forward: list[Ref]) -> list[Block]:
    name = source.name
    if source.kind == "docker":
        rules = [rule_block(rule) for rule in static_rules(source) + list(source.relabel)]
        return [
            Block("discovery.docker", name, {"host": source.options["host"], "refresh_interval": source.options["refresh_interval"]}),
            # Rules applied by the source as it reads (the stream label exists only per line).
            Block("discovery.relabel", name, {"targets": []}, rules),
            Block(
                "loki.source.docker",
                name,
                {
                    "host": source.options["host"],
                    "targets": Ref(f"discovery.docker.{name}.targets"),
                    "relabel_rules": Ref(f"discovery.relabel.{name}.rules"),
                    "forward_to": forward,
                },
            ),
        ]
    if source.kind == "kubernetes":
        rules = [rule_block(rule) for rule in static_rules(source) + list(source.relabel)]
        return [
            Block("discovery.kubernetes", name, dict(source.options)),
            Block("discovery.relabel", name, {"targets": Ref(f"discovery.kubernetes.{name}.targets")}, rules),
            Block("local.file_match", name, {"path_targets": Ref(f"discovery.relabel.{name}.output")}),
            _file_reader(name, forward),
        ]
    if source.kind == "journal":
        return [
            Block("loki.relabel", name, {"forward_to": []}, [rule_block(rule) for rule in source.relabel]),
            Block(
                "loki.source.journal",
                name,
                {
                    **dict(source.options),
                    "labels": dict(source.labels),
                    "relabel_rules": Ref(f"loki.relabel.{name}.rules"),
                    "forward_to": forward,
                },
                # Promtail keeps a journal job's cursor under the job's name, which is the source's name.
                [Block("legacy_position", attributes={"file": PROMTAIL_POSITIONS_FILE, "name": name})],
            ),
        ]
    targets = [{**dict(source.labels), **dict(target.labels), "__path__": target.path} for target in source.files]
    return [
        Block("local.file_match", name, {"path_targets": targets}),
        _file_reader(name, forward),
    ]


def _file_reader(name: str, forward: list[Ref]) -> Block:
    return Block(
        "loki.source.file",
        name,
        {
            "targets": Ref(f"local.file_match.{name}.targets"),
            "forward_to": forward,
            "legacy_positions_file": PROMTAIL_POSITIONS_FILE,
        },
    )


def render_alloy_pipeline(pipeline: LogPipeline, settings: StackSettings, endpoints: Endpoints) -> str:
    blocks = [Block("logging", attributes={"level": "info", "format": "logfmt"})]
    for source in pipeline.sources:
        blocks += source_blocks(source)
    blocks.append(
        Block(
            "loki.process",
            PROCESS,
            {"forward_to": [Ref(f"loki.write.{WRITE}.receiver")]},
            [stage_block(stage) for stage in pipeline.stages],
        )
    )
    blocks.append(
        Block(
            "loki.write",
            WRITE,
            {"external_labels": {"env": settings.environment}},
            [
                Block(
                    "endpoint",
                    attributes={"url": f"{client_url(settings, endpoints, 'loki')}/loki/api/v1/push"},
                    # Loki's (or the gateway's) certificate checked against the stack's CA (security.tls),
                    # and the client user at the gateway (security.auth, render/gateway.py).
                    blocks=gateway_client_blocks(settings, "loki"),
                )
            ],
        )
    )
    return write(blocks)


def http_block(settings: StackSettings) -> list[Block]:
    """Alloy's own server (the port of alloy_command: UI, /metrics, /-/ready, pprof) serving TLS with
    the collector's certificate when security.tls is on, and asking every path for the client user
    when security.auth is on; nothing (plain HTTP, Alloy's default) otherwise.

    What v1.11.3 accepts and does is in logs/upstream/alloy-v1.11.3-http-block.md: `tls` covers the
    whole port; `auth > basic` takes `password` as a `secret`, here `sys.env(...)` of a variable set
    from the secret, so no password is in this file. The `filter` is spelled out because Alloy
    applies its default (`authenticate_matching_paths = true`) only to a written block: an empty
    `filter {}` would authenticate no path at all, `paths = ["/"]` authenticates every one.
    The trace receivers (traces/alloy.py) are other listeners, untouched.
    """
    if not serves_tls(settings, "alloy"):
        return []
    blocks = [Block("tls", attributes={
        "cert_file": f"{SECRETS_DIR}/{CERT_FILE}", "key_file": f"{SECRETS_DIR}/{KEY_FILE}", "min_version": "TLS12"})]
    if requires_auth(settings, "alloy"):
        blocks.append(Block("auth", blocks=[
            Block("basic", attributes={"username": settings.security.auth.client_user,
                                       "password": Call("sys.env", (HTTP_PASSWORD_ENV,))}),
            Block("filter", attributes={"paths": ["/"], "authenticate_matching_paths": True}),
        ]))
    return [Block("http", blocks=blocks)]


def collector_secret_env(settings: StackSettings) -> dict[str, str]:
    """Environment variable -> secret key Alloy needs at start: the password its server checks."""
    return {HTTP_PASSWORD_ENV: "web_client_password"} if requires_auth(settings, "alloy") else {}


def render_alloy_config(settings: StackSettings, endpoints: Endpoints, port: int) -> str:
    """The Alloy configuration; `port` is where Alloy serves its UI, /metrics and /-/ready (see alloy_command).

    Its own server first (`http`: TLS and the client user when security.tls/auth ask), then the one
    collector: the log pipeline, then the trace pipeline (traces/alloy.py) and the profile pipeline
    (profiles/alloy.py) when the stack runs Tempo and Pyroscope.
    """
    signals: list[Block] = []
    if settings.runs_traces and "tempo" in endpoints:
        signals += trace_blocks(settings, endpoints)
    if settings.runs_profiles and "pyroscope" in endpoints:
        signals += profile_blocks(settings, endpoints)
    server = http_block(settings)
    text = (write(server) if server else "") + render_alloy_pipeline(log_pipeline(settings), settings, endpoints)
    return text + (write(signals) if signals else "")


def alloy_command(config_path: str, port: int) -> tuple[str, ...]:
    return ("run", f"--server.http.listen-addr=0.0.0.0:{port}", f"--storage.path={STORAGE_DIR}", config_path)
