"""A strict parser for the Prometheus text exposition format 0.0.4.

Tests and contract checks use it to read what an exporter (mock or real) serves. It is strict on
purpose: a mock that emits something Prometheus would reject, or would silently mis-type, must fail
here rather than in production. It returns families with their declared type, HELP text and samples.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})
# Label names that encode a bucket or quantile, not a dimension of the family.
STRUCTURAL_LABELS = frozenset({"le", "quantile"})


class ExpositionError(ValueError):
    def __init__(self, line_number: int, message: str, line: str = "") -> None:
        super().__init__(f"line {line_number}: {message}" + (f": {line!r}" if line else ""))
        self.line_number = line_number


@dataclass(frozen=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float
    timestamp_ms: int | None = None

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)

    def dimension_labels(self) -> tuple[tuple[str, str], ...]:
        return tuple((k, v) for k, v in self.labels if k not in STRUCTURAL_LABELS)


@dataclass
class Family:
    name: str
    type: str = "untyped"
    help: str | None = None
    samples: list[Sample] = field(default_factory=list)
    declared_type: bool = False

    def label_names(self) -> frozenset[str]:
        """Every label name used by any sample, without `le`/`quantile`."""
        names: set[str] = set()
        for sample in self.samples:
            names.update(k for k, _ in sample.labels if k not in STRUCTURAL_LABELS)
        return frozenset(names)

    def sample_names(self) -> frozenset[str]:
        return frozenset(s.name for s in self.samples)


def sample_suffixes(family_type: str) -> tuple[str, ...]:
    """Suffixes a sample of a family of this type may carry after the family name."""
    if family_type == "histogram":
        return ("_bucket", "_sum", "_count", "_created")
    if family_type == "summary":
        return ("", "_sum", "_count", "_created")
    return ("",)


def parse(text: str) -> dict[str, Family]:
    """Parse an exposition into families keyed by family name, in order of appearance."""
    return _Parser().parse(text)


class _Parser:
    def __init__(self) -> None:
        self.families: dict[str, Family] = {}
        self.current: Family | None = None
        self.closed: set[str] = set()
        self.seen_series: set[tuple[str, tuple[tuple[str, str], ...]]] = set()

    def parse(self, text: str) -> dict[str, Family]:
        if text and not text.endswith("\n"):
            raise ExpositionError(text.count("\n") + 1, "exposition must end with a newline")
        for number, line in enumerate(text.split("\n")[:-1] if text else [], start=1):
            if not line.strip():
                continue
            if line.startswith("#"):
                self._comment(number, line)
            else:
                self._sample(number, line)
        return self.families

    def _family(self, number: int, name: str, line: str) -> Family:
        """The family `name`, opening it; a family may not reopen once another one started."""
        if self.current is not None and self.current.name == name:
            return self.current
        if name in self.closed or name in self.families:
            raise ExpositionError(number, f"family {name} is not contiguous", line)
        if self.current is not None:
            self.closed.add(self.current.name)
        family = Family(name)
        self.families[name] = family
        self.current = family
        return family

    def _comment(self, number: int, line: str) -> None:
        parts = line.split(None, 3)
        if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
            return  # an ordinary comment
        keyword, name = parts[1], parts[2]
        if not METRIC_NAME.fullmatch(name):
            raise ExpositionError(number, f"invalid metric name {name!r}", line)
        rest = parts[3] if len(parts) == 4 else ""
        family = self._family(number, name, line)
        if keyword == "HELP":
            if family.help is not None:
                raise ExpositionError(number, f"second HELP for {name}", line)
            family.help = _unescape_help(number, rest, line)
            return
        if rest not in TYPES:
            raise ExpositionError(number, f"unknown type {rest!r}", line)
        if family.samples or family.declared_type:
            raise ExpositionError(number, f"TYPE for {name} after its samples or twice", line)
        family.type = rest
        family.declared_type = True

    def _owner(self, sample_name: str) -> str:
        """The family a sample name belongs to: the open typed family if its suffix rules allow."""
        current = self.current
        if current is not None:
            for suffix in sample_suffixes(current.type):
                if sample_name == current.name + suffix:
                    return current.name
        return sample_name

    def _sample(self, number: int, line: str) -> None:
        name, labels, rest = _split_sample(number, line)
        family = self._family(number, self._owner(name), line)
        value, timestamp = _value_and_timestamp(number, rest, line)
        self._check_structure(number, family, name, labels, line)
        key = (name, tuple(sorted(labels)))
        if key in self.seen_series:
            raise ExpositionError(number, "duplicate series", line)
        self.seen_series.add(key)
        family.samples.append(Sample(name, labels, value, timestamp))

    @staticmethod
    def _check_structure(number: int, family: Family, name: str, labels: tuple, line: str) -> None:
        label_names = {k for k, _ in labels}
        if family.type == "histogram" and name.endswith("_bucket") and "le" not in label_names:
            raise ExpositionError(number, "histogram bucket without le", line)
        if family.type == "summary" and name == family.name and "quantile" not in label_names:
            raise ExpositionError(number, "summary quantile sample without quantile", line)


def _split_sample(number: int, line: str) -> tuple[str, tuple[tuple[str, str], ...], str]:
    match = METRIC_NAME.match(line)
    if not match:
        raise ExpositionError(number, "sample line does not start with a metric name", line)
    name, position = match.group(0), match.end()
    labels: tuple[tuple[str, str], ...] = ()
    if position < len(line) and line[position] == "{":
        labels, position = _labels(number, line, position + 1)
    rest = line[position:]
    if not rest.startswith((" ", "\t")):
        raise ExpositionError(number, "expected whitespace before the value", line)
    return name, labels, rest.strip()


def _labels(number: int, line: str, position: int) -> tuple[tuple[tuple[str, str], ...], int]:
    pairs: list[tuple[str, str]] = []
    while True:
        while position < len(line) and line[position] in " \t":
            position += 1
        if position < len(line) and line[position] == "}":
            break
        match = LABEL_NAME.match(line, position)
        if not match:
            raise ExpositionError(number, f"invalid label name at column {position + 1}", line)
        label, position = match.group(0), match.end()
        if line[position:position + 2] != '="':
            raise ExpositionError(number, f"expected =\" after label {label}", line)
        value, position = _label_value(number, line, position + 2)
        if any(existing == label for existing, _ in pairs):
            raise ExpositionError(number, f"duplicate label {label}", line)
        pairs.append((label, value))
        while position < len(line) and line[position] in " \t":
            position += 1
        if position < len(line) and line[position] == ",":
            position += 1
            continue
        if position < len(line) and line[position] == "}":
            break
        raise ExpositionError(number, "expected , or } after a label value", line)
    return tuple(pairs), position + 1


_LABEL_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


def _label_value(number: int, line: str, position: int) -> tuple[str, int]:
    chars: list[str] = []
    while position < len(line):
        char = line[position]
        if char == '"':
            return "".join(chars), position + 1
        if char == "\\":
            escaped = line[position + 1:position + 2]
            if escaped not in _LABEL_ESCAPES:
                raise ExpositionError(number, f"invalid escape \\{escaped} in label value", line)
            chars.append(_LABEL_ESCAPES[escaped])
            position += 2
            continue
        chars.append(char)
        position += 1
    raise ExpositionError(number, "unterminated label value", line)


def _unescape_help(number: int, text: str, line: str) -> str:
    out: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "\\":
            escaped = text[position + 1:position + 2]
            if escaped not in ("\\", "n"):
                raise ExpositionError(number, f"invalid escape \\{escaped} in HELP", line)
            out.append("\n" if escaped == "n" else "\\")
            position += 2
            continue
        out.append(char)
        position += 1
    return "".join(out)


def parse_float(text: str) -> float:
    lowered = text.lower()
    if lowered in ("+inf", "inf"):
        return math.inf
    if lowered == "-inf":
        return -math.inf
    if lowered == "nan":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        raise ValueError(text)
    return float(text)


def _value_and_timestamp(number: int, rest: str, line: str) -> tuple[float, int | None]:
    parts = rest.split()
    if len(parts) not in (1, 2):
        raise ExpositionError(number, "expected a value and an optional timestamp", line)
    try:
        value = parse_float(parts[0])
    except ValueError:
        raise ExpositionError(number, f"invalid value {parts[0]!r}", line) from None
    if len(parts) == 1:
        return value, None
    if not re.fullmatch(r"-?\d+", parts[1]):
        raise ExpositionError(number, f"invalid timestamp {parts[1]!r}", line)
    return value, int(parts[1])


def histogram_violations(family: Family) -> list[str]:
    """Buckets must be cumulative and end in +Inf equal to _count, per label set."""
    problems: list[str] = []
    series: dict[tuple, dict[str, object]] = {}
    for sample in family.samples:
        entry = series.setdefault(sample.dimension_labels(), {"buckets": []})
        if sample.name.endswith("_bucket"):
            entry["buckets"].append((parse_float(sample.label("le") or ""), sample.value))  # type: ignore[union-attr]
        elif sample.name.endswith("_count"):
            entry["count"] = sample.value
        elif sample.name.endswith("_sum"):
            entry["sum"] = sample.value
    for labels, entry in series.items():
        where = f"{family.name}{dict(labels)}"
        buckets = sorted(entry["buckets"])  # type: ignore[arg-type]
        if not buckets or not math.isinf(buckets[-1][0]):
            problems.append(f"{where}: no +Inf bucket")
            continue
        counts = [count for _, count in buckets]
        if any(later < earlier for earlier, later in zip(counts, counts[1:])):
            problems.append(f"{where}: buckets are not cumulative")
        if "count" not in entry or entry["count"] != counts[-1]:
            problems.append(f"{where}: +Inf bucket {counts[-1]} differs from _count {entry.get('count')}")
        if "sum" not in entry:
            problems.append(f"{where}: no _sum")
    return problems
