"""A small interpreter of the log pipeline data (`logs.pipeline`), for tests and for trying a change.

It applies the stages in order the way Promtail and Alloy do, with the real RE2 engine (`re2`),
`json`, a logfmt reader, the JMESPath subset the pipeline uses (`a || b || "@c"`), the Go template
subset it uses (`or`, `if/else/end`, `ToLower`) and Go's time layouts. It answers "what would Loki
receive for these lines": the labels, the timestamp, the extracted fields and structured metadata,
or the reason a record was dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

import re2

from logs.pipeline import LogPipeline, Source, Stage


@dataclass
class Entry:
    line: str
    labels: dict[str, str]
    extracted: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime | None = None  # None: the time the collector read it
    metadata: dict[str, str] = field(default_factory=dict)
    dropped: str | None = None


class PipelineError(ValueError):
    """The pipeline holds something this interpreter (and so the tests) does not understand."""


_COMPILED: dict[str, Any] = {}


def compile_re2(expression: str) -> Any:
    """Compiled with RE2 itself: an expression RE2 rejects (a lookaround, a backreference) raises."""
    if expression not in _COMPILED:
        _COMPILED[expression] = re2.compile(expression)
    return _COMPILED[expression]


# --- stages ---


def relabel(source: Source, discovered: Mapping[str, str]) -> dict[str, str]:
    """A stream's labels: the source's static labels, then its relabel rules over the discovered
    (`__meta_*`) labels; labels starting with `__` are internal and dropped afterwards."""
    labels = {**dict(discovered), **dict(source.labels)}
    for rule in source.relabel:
        value = rule.separator.join(labels.get(name, "") for name in rule.source_labels)
        match = compile_re2(f"^(?:{rule.regex})$").search(value)
        if match:
            result = re.sub(
                r"\$\{?(\w+)\}?",
                lambda ref: match.group(int(ref.group(1)) if ref.group(1).isdigit() else ref.group(1)) or "",
                rule.replacement,
            )
            if result:
                labels[rule.target_label] = result
            else:
                labels.pop(rule.target_label, None)
    return {name: value for name, value in labels.items() if not name.startswith("__")}


def run(
    pipeline: LogPipeline,
    source: Source,
    lines: Iterable[str],
    labels: Mapping[str, str],
    now: datetime,
) -> list[Entry]:
    """The entries of one stream of `source` after every stage; dropped ones included."""
    entries = [Entry(line, dict(labels)) for line in lines]
    # Token buckets of the limit stages, by (stage position, value of its label).
    buckets: dict[tuple[int, str], dict[str, float]] = {}
    for position, stage in enumerate(pipeline.stages_for(source)):
        if stage.kind == "multiline":
            entries = multiline(stage.params, entries)
            continue
        for entry in entries:
            if entry.dropped is None:
                apply(stage, entry, now, buckets, position)
    return entries


def multiline(params: Mapping[str, Any], entries: list[Entry]) -> list[Entry]:
    first = compile_re2(params["firstline"])
    max_lines = int(params["max_lines"])
    blocks: list[Entry] = []
    count = 0
    for entry in entries:
        starts = first.search(entry.line) is not None
        if blocks and not starts and count < max_lines:
            blocks[-1].line += "\n" + entry.line
            count += 1
        else:
            blocks.append(entry)
            count = 1
    return blocks


def apply(stage: Stage, entry: Entry, now: datetime, buckets: dict, position: int = 0) -> None:
    params = stage.params
    kind = stage.kind
    if kind == "cri":
        match = compile_re2(r"^(?s)(?P<time>\S+?) (?P<stream>stdout|stderr) (?P<flags>\S+?) (?P<content>.*)$").search(entry.line)
        if match:
            entry.labels["stream"] = match.group("stream")
            entry.timestamp = parse_time("RFC3339Nano", match.group("time"), timezone.utc, now)
            entry.line = match.group("content")
    elif kind == "drop":
        value = entry.line if "source" not in params else entry.extracted.get(params["source"])
        if value is not None and compile_re2(params["expression"]).search(str(value)):
            entry.dropped = params.get("drop_counter_reason", "drop_stage")
    elif kind == "regex":
        value = entry.line if "source" not in params else entry.extracted.get(params["source"])
        if value is None:
            return
        pattern = compile_re2(params["expression"])
        match = pattern.search(str(value))
        if match:
            for name in pattern.groupindex:
                # Go reports a group that took no part in the match as "", and the stage keeps it.
                entry.extracted[name] = match.group(name) or ""
    elif kind == "json":
        body = entry.extracted.get(params["source"]) if "source" in params else entry.line
        if body is None:
            return
        try:
            document = json.loads(body)
        except ValueError:
            return
        for name, expression in params["expressions"].items():
            value = jmespath(expression, document)
            if value is not None:
                entry.extracted[name] = value
    elif kind == "logfmt":
        body = entry.extracted.get(params["source"]) if "source" in params else entry.line
        if body is None:
            return
        pairs = logfmt(str(body))
        for name, key in params["mapping"].items():
            if (key or name) in pairs:
                entry.extracted[name] = pairs[key or name]
    elif kind == "template":
        source = params["source"]
        data = {key: _string(value) for key, value in entry.extracted.items()}
        if source in data:
            data["Value"] = data[source]
        data["Entry"] = entry.line
        try:
            result = go_template(params["template"], data)
        except PipelineError:
            return  # Promtail logs a failed template and leaves the value as it was
        if result == "":
            entry.extracted.pop(source, None)
        else:
            entry.extracted[source] = result
    elif kind == "timestamp":
        value = entry.extracted.get(params["source"])
        if value in (None, ""):
            return
        zone = ZoneInfo(params["location"]) if params.get("location") else timezone.utc
        for layout in (params["format"], *params.get("fallback_formats", ())):
            parsed = parse_time(layout, str(value), zone, now)
            if parsed is not None:
                entry.timestamp = parsed
                return
    elif kind == "labels":
        for name, source in params.items():
            value = entry.extracted.get(source or name)
            if value is not None:
                entry.labels[name] = _string(value)
    elif kind == "structured_metadata":
        for name, source in params.items():
            value = entry.extracted.get(source or name)
            if value not in (None, ""):
                entry.metadata[name] = _string(value)
    elif kind == "limit":
        key = entry.labels.get(params["by_label_name"], "") if params.get("by_label_name") else ""
        # All lines of a simulated stream arrive at once: only the burst is available.
        bucket = buckets.setdefault((position, key), {"tokens": float(params["burst"])})
        if bucket["tokens"] >= 1:
            bucket["tokens"] -= 1
        elif params.get("drop"):
            entry.dropped = "rate_limited"
    elif kind == "labelallow":
        entry.labels = {name: value for name, value in entry.labels.items() if name in params["values"]}
    else:
        raise PipelineError(f"stage kind {kind!r} is not simulated")


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


# --- JMESPath: `a || b.c || "@d"` ---


def jmespath(expression: str, document: Any) -> Any:
    for alternative in expression.split("||"):
        value = _path(alternative.strip(), document)
        if value not in (None, "", [], {}, False):
            return value
    return None


def _path(path: str, document: Any) -> Any:
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"|([A-Za-z_][A-Za-z0-9_]*)', path)
    if not parts or re.sub(r'"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*|\.', "", path):
        raise PipelineError(f"JMESPath {path!r} is outside the supported subset")
    value = document
    for quoted, plain in parts:
        if not isinstance(value, dict):
            return None
        value = value.get(json.loads(f'"{quoted}"') if quoted else plain)
    return value


# --- logfmt ---


def logfmt(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for match in re.finditer(r'([^\s=]+)(?:=("(?:[^"\\]|\\.)*"|\S*))?', text):
        key, raw = match.group(1), match.group(2) or ""
        pairs[key] = json.loads(raw) if raw.startswith('"') else raw
    return pairs


# --- Go templates: {{ or .a .b "" }}, {{ if .X }}...{{ else }}...{{ end }}, {{ ToLower .X }} ---

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)


def go_template(template: str, data: Mapping[str, Any]) -> str:
    tokens: list[tuple[str, str]] = []
    position = 0
    for match in _ACTION.finditer(template):
        if match.start() > position:
            tokens.append(("text", template[position:match.start()]))
        tokens.append(("action", match.group(1)))
        position = match.end()
    if position < len(template):
        tokens.append(("text", template[position:]))
    output, rest = _render(tokens, data)
    if rest:
        raise PipelineError("template has an unmatched {{ end }} or {{ else }}")
    return output


def _render(tokens: list[tuple[str, str]], data: Mapping[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    out = ""
    while tokens:
        kind, text = tokens[0]
        if kind == "text":
            out += text
            tokens = tokens[1:]
            continue
        if text in ("end", "else"):
            return out, tokens
        if text.startswith("if "):
            condition = _truthy(_evaluate(text[3:], data))
            then_part, tokens = _render(tokens[1:], data)
            else_part = ""
            if tokens and tokens[0][1] == "else":
                else_part, tokens = _render(tokens[1:], data)
            if not tokens or tokens[0][1] != "end":
                raise PipelineError("template {{ if }} without {{ end }}")
            tokens = tokens[1:]
            out += then_part if condition else else_part
            continue
        value = _evaluate(text, data)
        out += "<no value>" if value is None else str(value)
        tokens = tokens[1:]
    return out, []


def _evaluate(expression: str, data: Mapping[str, Any]) -> Any:
    words = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', expression)
    args = [_argument(word, data) for word in words[1:]]
    if words[0] == "or":
        return next((arg for arg in args if _truthy(arg)), args[-1] if args else None)
    if words[0] == "ToLower":
        if len(args) != 1 or not isinstance(args[0], str):
            raise PipelineError("ToLower needs one string")
        return args[0].lower()
    if len(words) == 1:
        return _argument(words[0], data)
    raise PipelineError(f"template function {words[0]!r} is not simulated")


def _argument(word: str, data: Mapping[str, Any]) -> Any:
    if word.startswith('"'):
        return json.loads(word)
    if word.startswith("."):
        return data.get(word[1:])
    raise PipelineError(f"template argument {word!r} is not simulated")


def _truthy(value: Any) -> bool:
    return value not in (None, "", 0, False)


# --- Go time layouts ---

_LAYOUTS = {
    "RFC3339": "2006-01-02T15:04:05Z07:00",
    "RFC3339Nano": "2006-01-02T15:04:05.999999999Z07:00",
}
_LAYOUT_TOKENS = [
    ("2006", r"(?P<year>\d{4})"),
    ("Jan", r"(?P<month_name>[A-Z][a-z]{2})"),
    ("01", r"(?P<month>\d{2})"),
    ("_2", r"(?P<day> \d|\d{2})"),
    ("02", r"(?P<day>\d{2})"),
    ("15", r"(?P<hour>\d{2})"),
    ("04", r"(?P<minute>\d{2})"),
    ("05", r"(?P<second>\d{2})"),
    (".999999999", r"(?:\.(?P<fraction>\d{1,9}))?"),
    (".000", r"\.(?P<fraction>\d{3})"),
    (",000", r",(?P<fraction>\d{3})"),
    ("Z07:00", r"(?P<zone>Z|[+-]\d{2}:\d{2})"),
    ("-0700", r"(?P<zone>[+-]\d{4})"),
]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def layout_regex(layout: str) -> re.Pattern[str]:
    layout = _LAYOUTS.get(layout, layout)
    pattern = ""
    position = 0
    while position < len(layout):
        for token, regex in _LAYOUT_TOKENS:
            if layout.startswith(token, position):
                pattern += regex
                position += len(token)
                # Go accepts a fraction right after the seconds even if the layout has none.
                if token == "05" and not layout.startswith((".", ","), position):
                    pattern += r"(?:[.,](?P<fraction>\d{1,9}))?"
                break
        else:
            pattern += re.escape(layout[position])
            position += 1
    return re.compile(f"^{pattern}$")


def parse_time(layout: str, value: str, zone: Any, now: datetime) -> datetime | None:
    if layout in ("Unix", "UnixMs", "UnixUs", "UnixNs"):
        raise PipelineError(f"timestamp format {layout} is not simulated")
    match = layout_regex(layout).match(value)
    if not match:
        return None
    parts = match.groupdict()
    month = int(parts["month"]) if parts.get("month") else _MONTHS.index(parts["month_name"]) + 1
    fraction = (parts.get("fraction") or "0").ljust(6, "0")[:6]
    tz: Any = zone
    if parts.get("zone"):
        text = parts["zone"]
        if text == "Z":
            tz = timezone.utc
        else:
            sign = -1 if text[0] == "-" else 1
            digits = text[1:].replace(":", "")
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    # A layout without a year (syslog) means this year, as Promtail and Alloy read it.
    year = int(parts["year"]) if parts.get("year") else now.year
    return datetime(
        year, month, int(parts["day"].strip()), int(parts["hour"]), int(parts["minute"]), int(parts["second"]),
        int(fraction), tzinfo=tz,
    )
