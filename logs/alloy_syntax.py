"""The subset of Alloy's configuration syntax this project writes, both ways.

Writing: `block(name, label, attributes, children)` to text with values as Alloy expressions
(strings, numbers, booleans, lists, objects and component references). Reading: `parse(text)`
back into the same `Block` tree, which is how the tests compare the Alloy rendering with Promtail's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Ref:
    """A reference to another component's export, e.g. `loki.process.pipeline.receiver`."""

    path: str


@dataclass(frozen=True)
class Call:
    """A standard-library call, e.g. `sys.env("HOSTNAME")`."""

    function: str
    arguments: tuple = ()


@dataclass(frozen=True)
class Concat:
    """String concatenation of values, e.g. `"spec.nodeName=" + sys.env("HOSTNAME")`."""

    parts: tuple


@dataclass
class Block:
    name: str
    label: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    blocks: list["Block"] = field(default_factory=list)

    def children(self, name: str) -> list["Block"]:
        return [child for child in self.blocks if child.name == name]


# --- writing ---

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def expression(value: Any, indent: str) -> str:
    if isinstance(value, Ref):
        return value.path
    if isinstance(value, Call):
        return f"{value.function}(" + ", ".join(expression(item, indent) for item in value.arguments) + ")"
    if isinstance(value, Concat):
        return " + ".join(expression(item, indent) for item in value.parts)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) and not value.is_integer() else str(int(value))
    if isinstance(value, str):
        # JSON's escapes (\" \\ \n \t \uXXXX) are all valid in Alloy strings.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        inner = indent + "  "
        return "[\n" + "".join(f"{inner}{expression(item, inner)},\n" for item in value) + f"{indent}]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = indent + "  "
        return "{\n" + "".join(
            f"{inner}{json.dumps(str(key))} = {expression(item, inner)},\n" for key, item in value.items()
        ) + f"{indent}}}"
    raise TypeError(f"no Alloy expression for {value!r}")


def write(blocks: list[Block], indent: str = "") -> str:
    out: list[str] = []
    for item in blocks:
        header = item.name + (f" {json.dumps(item.label)}" if item.label is not None else "")
        inner = indent + "  "
        lines = [f"{inner}{key} = {expression(value, inner)}\n" for key, value in item.attributes.items()]
        body = "".join(lines) + write(item.blocks, inner)
        out.append(f"{indent}{header} {{\n{body}{indent}}}\n" if body else f"{indent}{header} {{ }}\n")
        if not indent:
            out.append("\n")
    return "".join(out)


# --- reading ---

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[{}\[\]=,()+])
    """,
    re.VERBOSE,
)


class AlloySyntaxError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise AlloySyntaxError(f"unexpected {text[position:position + 20]!r} at offset {position}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append((kind, match.group()))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        token_kind, token = self.peek()
        if (value is not None and token != value) or (kind is not None and token_kind != kind):
            raise AlloySyntaxError(f"expected {value or kind}, found {token!r} (token {self.at})")
        self.at += 1
        return token

    def body(self, closing: str | None) -> Block:
        container = Block("")
        while True:
            kind, token = self.peek()
            if closing is None and kind == "end":
                return container
            if token == closing:
                return container
            name = self.take(kind="ident")
            if self.peek()[1] == "=":
                self.take("=")
                if name in container.attributes:
                    raise AlloySyntaxError(f"attribute {name} set twice")
                container.attributes[name] = self.value()
                continue
            label = json.loads(self.take(kind="string")) if self.peek()[0] == "string" else None
            self.take("{")
            inner = self.body("}")
            self.take("}")
            container.blocks.append(Block(name, label, inner.attributes, inner.blocks))

    def value(self) -> Any:
        first = self.operand()
        if self.peek()[1] != "+":
            return first
        parts = [first]
        while self.peek()[1] == "+":
            self.take("+")
            parts.append(self.operand())
        return Concat(tuple(parts))

    def operand(self) -> Any:
        kind, token = self.peek()
        if kind == "string":
            self.at += 1
            return json.loads(token)
        if kind == "number":
            self.at += 1
            number = float(token)
            return int(number) if number.is_integer() and "." not in token else number
        if kind == "ident":
            self.at += 1
            if token in ("true", "false"):
                return token == "true"
            if token == "null":
                return None
            if self.peek()[1] == "(":
                self.take("(")
                arguments = []
                while self.peek()[1] != ")":
                    arguments.append(self.value())
                    if self.peek()[1] == ",":
                        self.take(",")
                self.take(")")
                return Call(token, tuple(arguments))
            return Ref(token)
        if token == "[":
            self.take("[")
            items = []
            while self.peek()[1] != "]":
                items.append(self.value())
                if self.peek()[1] == ",":
                    self.take(",")
            self.take("]")
            return items
        if token == "{":
            self.take("{")
            mapping: dict[str, Any] = {}
            while self.peek()[1] != "}":
                key_kind, key = self.peek()
                self.at += 1
                key = json.loads(key) if key_kind == "string" else key
                self.take("=")
                mapping[key] = self.value()
                if self.peek()[1] == ",":
                    self.take(",")
            self.take("}")
            return mapping
        raise AlloySyntaxError(f"unexpected {token!r} where a value belongs (token {self.at})")


def parse(text: str) -> list[Block]:
    """The top-level blocks of an Alloy configuration (raises AlloySyntaxError)."""
    return _Parser(text).body(None).blocks
