"""Metric contracts: the families of each exporter the stack relies on, as typed data.

Each `<exporter>.yaml` next to this file lists the families (name, type, label names without
`le`/`quantile`, help) of the pinned upstream version, with a provenance line. Where the older
build Debian 12 ships differs, a family says so (`debian_absent`, or the `debian_labels` it serves
instead) with the reason; `Contract.as_served_by_debian()` applies exactly those differences, so
the real-exporter tests skip nothing else.

An exporter whose releases serve different names (vLLM) lists under `families` what a default
server of the pinned release serves; families marked `generation: current` are not served by the
previous generation, whose own families are under `previous_families` (and `previous_labels` where a
family's labels differ); `optional_families` are served only with their `feature` on.
`Contract.as_served(generation, features)` gives the view of one such server.

A file names its kind by its first key: `exporter:` (an exporter, in `CONTRACTS`), `service:` (one
of the stack's own services — Prometheus, Alertmanager, Loki, Promtail, Alloy, Grafana, Tempo, Pyroscope — in
`SERVICE_CONTRACTS`; `prefixes:` lists how its family names begin when not with its own name) or
`synthesised:` (series Prometheus writes itself for every target and alerting rule, served by no
endpoint: `SYNTHESISED`). They are kept apart because exporter code
iterates `CONTRACTS` as the list of exporters. `GENERATED` (kind `generated`, no file) lists the
series Tempo's metrics-generator remote-writes, from traces/tempo_generated.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping

import yaml

from exporters.exposition import Family, parse

CONTRACT_DIR = Path(__file__).resolve().parent
FAMILY_TYPES = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})
DEFAULT_ENDPOINT = "/metrics"
CONTRACT_KINDS = ("exporter", "service", "synthesised")


@dataclass(frozen=True)
class MetricFamily:
    name: str
    type: str
    labels: frozenset[str]
    help: str
    endpoint: str = DEFAULT_ENDPOINT
    debian_absent: bool = False
    debian_labels: frozenset[str] | None = None
    debian_reason: str = ""
    note: str = ""
    # The exporter option that makes it serve this family ("" for every server), and "current" for
    # a family the previous generation of the exporter does not serve (under its name).
    feature: str = ""
    generation: str = ""
    previous_labels: frozenset[str] | None = None


GENERATIONS = ("current", "previous")


@dataclass(frozen=True)
class Contract:
    exporter: str
    upstream_version: str
    families: tuple[MetricFamily, ...]
    provenance: str = ""
    debian_version: str | None = None
    # "exporter", "service" or "synthesised"; `exporter` above holds the name whatever the kind.
    kind: str = "exporter"
    # How a service's family names begin: its own name, unless it serves families of a library
    # under that library's name (Alloy's loki.write client serves loki_write_*).
    prefixes: tuple[str, ...] = ()
    # Families only some servers serve: with a feature on, or only the previous generation.
    optional_families: tuple[MetricFamily, ...] = ()
    previous_families: tuple[MetricFamily, ...] = ()
    previous_version: str | None = None

    def as_served(self, generation: str = "current", features: Iterable[str] = ()) -> "Contract":
        """The families one server serves: of the `generation`, plus those of its `features`."""
        if generation not in GENERATIONS:
            raise ValueError(f"generation must be one of {GENERATIONS}, not {generation!r}")
        wanted = set(features)
        if unknown := wanted - {f.feature for f in self.optional_families}:
            raise ValueError(f"{self.exporter} has no optional features {sorted(unknown)}")
        optional = tuple(f for f in self.optional_families if f.feature in wanted)
        if generation == "current":
            return replace(self, families=self.families + optional)
        kept = tuple(
            replace(f, labels=f.previous_labels) if f.previous_labels is not None else f
            for f in self.families
            if f.generation != "current"
        )
        return replace(self, families=kept + self.previous_families + optional,
                       upstream_version=self.previous_version or self.upstream_version)

    def every_family(self) -> tuple[MetricFamily, ...]:
        """Every family any server of this exporter may serve, whatever its generation and features."""
        return self.families + self.optional_families + self.previous_families

    def name_prefixes(self) -> tuple[str, ...]:
        return self.prefixes or (f"{self.exporter}_",)

    def family(self, name: str) -> MetricFamily:
        for family in self.families:
            if family.name == name:
                return family
        raise KeyError(f"{self.exporter} contract has no family {name}")

    def names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.families)

    def for_endpoint(self, endpoint: str) -> "Contract":
        return replace(self, families=tuple(f for f in self.families if f.endpoint == endpoint))

    def as_served_by_debian(self) -> "Contract":
        """The contract as the Debian 12 build serves it: declared differences applied, no others."""
        families = tuple(
            replace(f, labels=f.debian_labels) if f.debian_labels is not None else f
            for f in self.families
            if not f.debian_absent
        )
        return replace(self, families=families, upstream_version=f"{self.debian_version} (Debian)")


def _family(raw: dict, exporter: str) -> MetricFamily:
    unknown = set(raw) - {
        "name", "type", "labels", "help", "endpoint", "debian_absent", "debian_labels",
        "debian_reason", "note", "feature", "generation", "previous_labels",
    }
    if unknown:
        raise ValueError(f"{exporter}: family {raw.get('name')} has unknown keys {sorted(unknown)}")
    if raw["type"] not in FAMILY_TYPES:
        raise ValueError(f"{exporter}: family {raw['name']} has unknown type {raw['type']!r}")
    differs_on_debian = raw.get("debian_absent", False) or "debian_labels" in raw
    if differs_on_debian and not raw.get("debian_reason"):
        raise ValueError(f"{exporter}: family {raw['name']} differs on Debian without a reason")
    debian_labels = raw.get("debian_labels")
    if raw.get("generation", "current") != "current":
        raise ValueError(f"{exporter}: family {raw['name']} generation must be 'current' (previous-only families "
                         "go under previous_families)")
    previous_labels = raw.get("previous_labels")
    return MetricFamily(
        name=raw["name"],
        type=raw["type"],
        labels=frozenset(raw["labels"]),
        help=raw["help"],
        endpoint=raw.get("endpoint", DEFAULT_ENDPOINT),
        debian_absent=bool(raw.get("debian_absent", False)),
        debian_labels=frozenset(debian_labels) if debian_labels is not None else None,
        debian_reason=raw.get("debian_reason", ""),
        note=raw.get("note", ""),
        feature=raw.get("feature", ""),
        generation=raw.get("generation", ""),
        previous_labels=frozenset(previous_labels) if previous_labels is not None else None,
    )


def _kind(raw: dict, path: Path) -> str:
    kinds = [kind for kind in CONTRACT_KINDS if kind in raw]
    if len(kinds) != 1:
        raise ValueError(f"{path.name} must name exactly one of {', '.join(CONTRACT_KINDS)}, found {kinds}")
    return kinds[0]


def load_contract(path: Path) -> Contract:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    kind = _kind(raw, path)
    exporter = raw[kind]
    if exporter != path.stem:
        raise ValueError(f"{path.name} declares {kind} {exporter!r}")
    families = tuple(_family(item, exporter) for item in raw["families"])
    optional = tuple(_family(item, exporter) for item in raw.get("optional_families", ()))
    previous = tuple(_family(item, exporter) for item in raw.get("previous_families", ()))
    if any(f.feature for f in families + previous) or not all(f.feature for f in optional):
        raise ValueError(f"{exporter}: exactly the optional_families name a feature")
    names = [f.name for f in families + optional + previous]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{exporter}: duplicate families {duplicates}")
    return Contract(
        exporter=exporter,
        upstream_version=raw["upstream_version"],
        families=families,
        provenance=raw["provenance"],
        debian_version=raw.get("debian_version"),
        kind=kind,
        prefixes=tuple(raw.get("prefixes", ())),
        optional_families=optional,
        previous_families=previous,
        previous_version=raw.get("previous_version"),
    )


def _load_all(kind: str) -> Mapping[str, Contract]:
    loaded = (load_contract(path) for path in sorted(CONTRACT_DIR.glob("*.yaml")))
    return MappingProxyType({contract.exporter: contract for contract in loaded if contract.kind == kind})


CONTRACTS: Mapping[str, Contract] = _load_all("exporter")
SERVICE_CONTRACTS: Mapping[str, Contract] = _load_all("service")
# Prometheus' own series per scrape target (`up`, `scrape_*`) and per alerting rule (`ALERTS*`).
SYNTHESISED: Contract = _load_all("synthesised")["synthetic"]


def _generated_by_tempo() -> Contract:
    """The series Tempo's metrics-generator writes into Prometheus by remote write (span metrics and
    the service graph): no scrape endpoint serves them, and traces/tempo_generated.py, read from the
    pinned Tempo's source, is their one inventory."""
    from settings.images import IMAGES
    from traces import tempo_generated

    families = tuple(
        MetricFamily(name=name, type=kind, labels=frozenset(labels), help=f"Written by Tempo's metrics-generator ({kind}).",
                     endpoint="remote_write")
        for name, (kind, labels) in tempo_generated.generated_families().items()
    )
    version = IMAGES["tempo"].image.rsplit(":", 1)[1]
    return Contract(exporter="tempo_generated", upstream_version=f"Tempo v{version.lstrip('v')}", families=families,
                    provenance="traces/tempo_generated.py", kind="generated")


# Series Tempo's metrics-generator writes into Prometheus itself (the traced mock serves the same).
GENERATED: Contract = _generated_by_tempo()


def sample_names(family: MetricFamily) -> tuple[str, ...]:
    """The sample names a family is exposed under (counters keep their name as declared)."""
    if family.type == "histogram":
        return (f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count")
    if family.type == "summary":
        return (family.name, f"{family.name}_sum", f"{family.name}_count")
    return (family.name,)


def _names_of(contracts: Iterable[Contract]) -> frozenset[str]:
    return frozenset(name for contract in contracts for family in contract.families for name in sample_names(family))


def all_metric_names() -> frozenset[str]:
    """Every sample name of every exporter contract."""
    return _names_of(CONTRACTS.values())


def known_metric_names() -> frozenset[str]:
    """Every sample name of every contract — exporters (of any generation, with any feature), the
    stack's own services, the series Prometheus synthesises and those Tempo's generator writes:
    what rules and dashboards may refer to besides recording rules."""
    every = (replace(c, families=c.every_family())
             for c in (*CONTRACTS.values(), *SERVICE_CONTRACTS.values(), SYNTHESISED, GENERATED))
    return _names_of(every)


def check_families(contract: Contract, served: Mapping[str, Family]) -> list[str]:
    """One readable line per way the served families break the contract."""
    problems: list[str] = []
    for expected in contract.families:
        actual = served.get(expected.name)
        where = f"{contract.exporter}: {expected.name}"
        if actual is None:
            problems.append(f"{where}: missing family")
            continue
        if actual.type != expected.type:
            problems.append(f"{where}: type is {actual.type}, contract says {expected.type}")
            continue
        missing_samples = set(sample_names(expected)) - actual.sample_names()
        if missing_samples:
            problems.append(f"{where}: no samples named {', '.join(sorted(missing_samples))}")
        served_labels = actual.label_names()
        if missing := expected.labels - served_labels:
            problems.append(f"{where}: missing labels {', '.join(sorted(missing))}")
        if extra := served_labels - expected.labels:
            problems.append(f"{where}: unexpected labels {', '.join(sorted(extra))}")
    return problems


def check_exposition(contract: Contract, text: str, endpoint: str | None = None) -> list[str]:
    """Parse `text` (one scrape) and list its contract violations; `endpoint` narrows the families
    checked to those served on that path (blackbox serves probes on /probe)."""
    selected = contract.for_endpoint(endpoint) if endpoint is not None else contract
    return check_families(selected, parse(text))


def contracts_for(names: Iterable[str]) -> tuple[Contract, ...]:
    return tuple(CONTRACTS[name] for name in names)
