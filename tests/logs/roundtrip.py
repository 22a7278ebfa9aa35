"""Read a Promtail document, an Alloy configuration and the pipeline data into one neutral shape.

Neutral shape: the client (push URL, external labels) and, per source in order, its kind, options,
static labels or file targets, relabel rules and the full list of stages its lines go through.
"""

from __future__ import annotations

from typing import Any

from logs.alloy_syntax import Block, Ref, parse
from logs.pipeline import LogPipeline, RelabelRule, Source


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    keys = ("source_labels", "separator", "regex", "replacement", "target_label")
    neutral = {key: rule[key] for key in keys if key in rule}
    neutral.setdefault("source_labels", [])
    if not neutral["source_labels"]:
        neutral.pop("separator", None)
    return neutral


def _stage(kind: str, params: Any) -> dict[str, Any]:
    if kind in ("labels", "structured_metadata"):
        return {"kind": kind, "params": dict(params)}
    if kind == "labelallow":
        return {"kind": kind, "params": {"values": list(params)}}
    return {"kind": kind, "params": dict(params or {})}


# --- the pipeline data, as both renderings should carry it ---


def from_pipeline(pipeline: LogPipeline, push_url: str, env: str) -> dict[str, Any]:
    def static(source: Source) -> list[dict[str, Any]]:
        return [
            _rule(RelabelRule(name, regex="(.*)", replacement=value).as_data())
            for name, value in sorted(source.labels.items())
        ]

    sources = []
    for source in pipeline.sources:
        entry: dict[str, Any] = {"name": source.name, "kind": source.kind, "options": dict(source.options)}
        rules = [_rule(rule.as_data()) for rule in source.relabel]
        if source.kind in ("docker", "kubernetes"):
            rules = static(source) + rules
        if source.kind == "journal":
            entry["labels"] = dict(source.labels)
        if source.kind == "file":
            entry["targets"] = [{**dict(source.labels), **dict(t.labels), "__path__": t.path} for t in source.files]
        entry["relabel"] = rules
        entry["stages"] = [_stage(s.kind, s.params["values"] if s.kind == "labelallow" else s.params) for s in pipeline.stages_for(source)]
        sources.append(entry)
    return {"client": {"url": push_url, "external_labels": {"env": env}}, "sources": sources}


# --- Promtail ---


def from_promtail(document: dict[str, Any]) -> dict[str, Any]:
    (client,) = document["clients"]
    sources = []
    for job in document["scrape_configs"]:
        entry: dict[str, Any] = {"name": job["job_name"]}
        if "docker_sd_configs" in job:
            entry.update(kind="docker", options=dict(job["docker_sd_configs"][0]))
        elif "kubernetes_sd_configs" in job:
            entry.update(kind="kubernetes", options=dict(job["kubernetes_sd_configs"][0]))
        elif "journal" in job:
            options = dict(job["journal"])
            entry.update(kind="journal", labels=options.pop("labels", {}), options=options)
        elif "static_configs" in job:
            entry.update(kind="file", options={}, targets=[dict(c["labels"]) for c in job["static_configs"]])
        else:
            raise AssertionError(f"unknown Promtail job shape: {sorted(job)}")
        entry["relabel"] = [_rule(rule) for rule in job.get("relabel_configs", [])]
        entry["stages"] = [_stage(*next(iter(stage.items()))) for stage in job["pipeline_stages"]]
        sources.append(entry)
    return {"client": {"url": client["url"], "external_labels": client["external_labels"]}, "sources": sources}


# --- Alloy ---

_READERS = {"loki.source.docker", "loki.source.journal", "loki.source.file"}


def _component(blocks: dict[str, Block], ref: Ref, export: str) -> Block:
    path = ref.path
    assert path.endswith("." + export), f"{path} is not a .{export} export"
    return blocks[path[: -len(export) - 1]]


def _stages_from(blocks: dict[str, Block], receivers: list[Ref]) -> tuple[list[dict[str, Any]], Block]:
    """Follow forward_to through loki.process components to the loki.write at the end."""
    stages: list[dict[str, Any]] = []
    (receiver,) = receivers
    component = _component(blocks, receiver, "receiver")
    while component.name == "loki.process":
        for stage in component.blocks:
            kind = "labelallow" if stage.name == "stage.label_keep" else stage.name.removeprefix("stage.")
            params = stage.attributes.get("values") if kind in ("labels", "structured_metadata", "labelallow") else stage.attributes
            stages.append(_stage(kind, params))
        (receiver,) = component.attributes["forward_to"]
        component = _component(blocks, receiver, "receiver")
    assert component.name == "loki.write", f"pipeline ends at {component.name}, not loki.write"
    return stages, component


def _rules(block: Block) -> list[dict[str, Any]]:
    return [_rule(rule.attributes) for rule in block.children("rule")]


def from_alloy(text: str) -> dict[str, Any]:
    parsed = parse(text)
    blocks = {f"{block.name}.{block.label}" if block.label else block.name: block for block in parsed}
    sources = []
    writers = set()
    for block in parsed:
        if block.name not in _READERS:
            continue
        attributes = block.attributes
        entry: dict[str, Any] = {"name": block.label}
        if block.name == "loki.source.docker":
            discovery = _component(blocks, attributes["targets"], "targets")
            entry.update(kind="docker", options=dict(discovery.attributes))
            assert attributes["host"] == discovery.attributes["host"]
            entry["relabel"] = _rules(_component(blocks, attributes["relabel_rules"], "rules"))
        elif block.name == "loki.source.journal":
            options = {k: v for k, v in attributes.items() if k not in ("labels", "relabel_rules", "forward_to")}
            entry.update(kind="journal", labels=attributes.get("labels", {}), options=options)
            entry["relabel"] = _rules(_component(blocks, attributes["relabel_rules"], "rules"))
        else:
            match = _component(blocks, attributes["targets"], "targets")
            path_targets = match.attributes["path_targets"]
            if isinstance(path_targets, Ref):
                relabel = _component(blocks, path_targets, "output")
                discovery = _component(blocks, relabel.attributes["targets"], "targets")
                entry.update(kind="kubernetes", options=dict(discovery.attributes), relabel=_rules(relabel))
            else:
                entry.update(kind="file", options={}, targets=[dict(t) for t in path_targets], relabel=[])
        entry["stages"], writer = _stages_from(blocks, attributes["forward_to"])
        writers.add(writer.label)
        sources.append({key: entry[key] for key in ("name", "kind", "options", "labels", "targets", "relabel", "stages") if key in entry})
    assert len(writers) == 1, f"sources end at several loki.write components: {writers}"
    writer = blocks[f"loki.write.{writers.pop()}"]
    (endpoint,) = writer.children("endpoint")
    client = {"url": endpoint.attributes["url"], "external_labels": writer.attributes.get("external_labels", {})}
    return {"client": client, "sources": sources}
