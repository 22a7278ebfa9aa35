"""Extract the Prometheus families a vLLM release declares, from its source, into an inventory file.

    python scripts/extract_vllm_metrics.py SOURCE_ROOT OUT.yaml

SOURCE_ROOT holds the `vllm/` package of one release (an unpacked wheel: `pip download --no-deps
vllm==X.Y.Z` and unzip it). The source is read, never imported or run: every call of a
prometheus_client Gauge/Counter/Histogram constructor whose name starts with `vllm:` in the engine's
stat logger (vllm/v1/metrics/loggers.py), the speculative-decoding metrics and, where the release
has them, the performance counters is one family. For each: the name as exposed (the client adds
`_total` to counters), the type, the label names, the buckets, and the condition the source creates
it under, classified as a feature (`speculative_decoding`, `lora`, ...) or empty when every server
serves it. An unknown condition stops the script, so a newly gated family is looked at by a person.

The inventory is what tests/exporters/test_vllm_release.py compares the mock with, offline."""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import yaml

LOGGER_FILES = ("vllm/v1/metrics/loggers.py", "vllm/v1/spec_decode/metrics.py", "vllm/v1/metrics/perf.py")
BUCKETS_FILE = "vllm/v1/metrics/buckets.py"
CACHE_CONFIG_FILE = "vllm/config/cache.py"
CONSTRUCTORS = {"Gauge": "gauge", "Counter": "counter", "Histogram": "histogram",
                "_gauge_cls": "gauge", "_counter_cls": "counter", "_histogram_cls": "histogram"}
# Token-count buckets depend on the served model's max_model_len: recorded as a rule, not numbers.
ONE_TWO_FIVE = "1-2-5 up to max_model_len"
ENGINE_LABELS = ["model_name", "engine"]

# How the source's conditions read, and the feature each means. Checked in order; a condition no
# pattern matches is an error. `None` marks conditions that hold on every server.
FEATURES: tuple[tuple[str, str | None], ...] = (
    (r"^type == 'cache_config'$", None),  # the one metrics-info type the logger ever logs
    (r"^is_diffusion$", "diffusion"),
    (r"spec_decoding_enabled|speculative_config is not None", "speculative_decoding"),
    (r"^not is_diffusion$", None),  # refines speculative decoding, decided above
    (r"lora_config is not None", "lora"),
    (r"kv_cache_metrics_enabled", "kv_cache_metrics"),
    (r"VLLM_COMPUTE_NANS_IN_LOGITS", "nan_detection"),
    (r"watermark_config is not None", "watermark"),
    (r"kv_transfer_config", "kv_transfer"),
    (r"show_hidden_metrics", "hidden_deprecated"),
)


@dataclass
class Scope:
    """One function: its assignments (with the conditions they sit under) and parameters."""

    assignments: dict[str, list[tuple[tuple[str, ...], ast.expr]]] = field(default_factory=dict)
    subscript_keys: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Found:
    name: str
    type: str
    labels: tuple[str, ...]
    buckets: object
    conditions: tuple[str, ...]


def literal_tuples(tree: ast.Module) -> dict[str, list[float]]:
    """Module-level `NAME: tuple[...] = (numbers)` constants (the release's default buckets)."""
    constants: dict[str, list[float]] = {}
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and node.value is not None:
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            if isinstance(value, (tuple, list)) and value and all(isinstance(v, (int, float)) for v in value):
                constants[target.id] = [float(v) for v in value]
    return constants


def bucket_families(root: Path) -> dict[str, list[float] | str]:
    """`histogram_buckets("<family>")` defaults: the `_STATIC_FAMILY_DEFAULTS` table of buckets.py."""
    path = root / BUCKETS_FILE
    if not path.exists():
        return {}
    tree = ast.parse(path.read_text())
    constants = literal_tuples(tree)
    families: dict[str, list[float] | str] = {"request_tokens": ONE_TWO_FIVE}
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == "_STATIC_FAMILY_DEFAULTS" and isinstance(node.value, ast.Dict):
            for key, value in zip(node.value.keys, node.value.values):
                families[ast.literal_eval(key)] = constants[value.id]
    return families


def cache_config_fields(root: Path) -> list[str]:
    """Instance fields of CacheConfig: `metrics_info()` turns every one into a label."""
    tree = ast.parse((root / CACHE_CONFIG_FILE).read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "CacheConfig":
            return [
                stmt.target.id for stmt in node.body
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                and "ClassVar" not in ast.unparse(stmt.annotation)
            ]
    raise SystemExit(f"{CACHE_CONFIG_FILE}: no class CacheConfig")


def negate(test: ast.expr) -> str:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return ast.unparse(test.operand)
    return f"not {ast.unparse(test)}"


def is_return_guard(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.If) and not stmt.orelse and len(stmt.body) == 1 and isinstance(stmt.body[0], ast.Return)


def leaf_statements(body: list[ast.stmt], conditions: tuple[str, ...] = ()) -> Iterator[tuple[ast.stmt, tuple[str, ...]]]:
    """Each statement of a function body that is not control flow, with the conditions it runs
    under: the tests of the `if`s around it and of the early `return`s before it."""
    for stmt in body:
        if is_return_guard(stmt):
            conditions = conditions + (negate(stmt.test),)
        elif isinstance(stmt, ast.If):
            yield from leaf_statements(stmt.body, conditions + (ast.unparse(stmt.test),))
            yield from leaf_statements(stmt.orelse, conditions + (negate(stmt.test),))
        elif isinstance(stmt, (ast.For, ast.With, ast.Try)):
            yield from leaf_statements(stmt.body, conditions)
        elif not isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            yield stmt, conditions


class Extractor:
    def __init__(self, root: Path) -> None:
        self.buckets = bucket_families(root)
        self.cache_fields = cache_config_fields(root)
        self.found: list[Found] = []

    # --- scopes -------------------------------------------------------------------------------

    @staticmethod
    def collect(function: ast.FunctionDef) -> Scope:
        scope = Scope()
        for stmt, conditions in leaf_statements(function.body):
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, (ast.Name, ast.Attribute)):
                        scope.assignments.setdefault(ast.unparse(target), []).append((conditions, stmt.value))
                    elif isinstance(target, ast.Tuple) and isinstance(stmt.value, ast.Tuple):
                        for name, value in zip(target.elts, stmt.value.elts):
                            if isinstance(name, ast.Name):
                                scope.assignments.setdefault(name.id, []).append((conditions, value))
                    elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                        key = target.slice
                        if isinstance(key, ast.Constant) and isinstance(key.value, str):
                            scope.subscript_keys.setdefault(target.value.id, []).append(key.value)
        return scope

    def values(self, node: ast.expr, scope: Scope, bound: dict[str, ast.expr]) -> list[tuple[tuple[str, ...], object]]:
        """Every value `node` can take, each with the conditions of the assignments it came from."""
        if isinstance(node, ast.Attribute) and ast.unparse(node) in scope.assignments:
            return self.values(ast.Name(ast.unparse(node)), scope, bound)
        if isinstance(node, (ast.List, ast.Tuple)) and not all(isinstance(e, ast.Constant) for e in node.elts):
            elements = [self.values(e, scope, bound) for e in node.elts]
            if all(len(options) == 1 for options in elements):
                return [(tuple(c for (conds, _), in elements for c in conds), [value for ((_, value),) in elements])]
            return [((), None)]
        if isinstance(node, ast.Name):
            if node.id in bound:
                return self.values(bound[node.id], scope, bound)
            if node.id == "labelnames" and node.id not in scope.assignments:
                return [((), list(ENGINE_LABELS))]  # the parameter every metrics class receives
            results = []
            for conditions, value in scope.assignments.get(node.id, []):
                for more, resolved in self.values(value, scope, bound):
                    if resolved is not None:
                        results.append((conditions + more, resolved))
            return results
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return [
                (lc + rc, left + right)
                for lc, left in self.values(node.left, scope, bound)
                for rc, right in self.values(node.right, scope, bound)
                if isinstance(left, list) and isinstance(right, list)
            ]
        if isinstance(node, ast.Call):
            callee = ast.unparse(node.func)
            if callee.endswith("histogram_buckets"):
                return [((), self.buckets[ast.literal_eval(node.args[0])])]
            if callee.endswith("build_1_2_5_buckets"):
                return [((), ONE_TWO_FIVE)]
            if callee.endswith("metrics_info.keys"):
                receiver = node.func.value.id  # type: ignore[attr-defined]
                return [((), self.cache_fields + scope.subscript_keys.get(receiver, []))]
            return [((), None)]
        try:
            value = ast.literal_eval(node)
        except ValueError:
            return [((), None)]
        if isinstance(value, (list, tuple)):
            value = [float(v) if isinstance(v, (int, float)) else v for v in value]
        return [((), value)]

    # --- constructors -------------------------------------------------------------------------

    def constructors(self, node: ast.AST, scope: Scope, conditions: tuple[str, ...], bound: dict[str, ast.expr]) -> None:
        if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
            for generator in node.generators:
                for more, items in self.values(generator.iter, scope, bound):
                    for item in items if isinstance(items, list) else []:
                        names = generator.target.elts if isinstance(generator.target, ast.Tuple) else [generator.target]
                        values = item if isinstance(item, (list, tuple)) else [item]
                        binding = {n.id: ast.Constant(v) for n, v in zip(names, values) if isinstance(n, ast.Name)}
                        self.constructors(node.elt, scope, conditions + more, {**bound, **binding})
            return
        if isinstance(node, ast.Call):
            kind = CONSTRUCTORS.get(ast.unparse(node.func).rsplit(".", 1)[-1])
            keywords = {kw.arg: kw.value for kw in node.keywords}
            if kind and "name" in keywords:
                self.record(kind, keywords, scope, conditions, bound)
        for child in ast.iter_child_nodes(node):
            self.constructors(child, scope, conditions, bound)

    def record(self, kind: str, keywords: dict, scope: Scope, conditions: tuple[str, ...], bound: dict) -> None:
        for name_conditions, name in self.values(keywords["name"], scope, bound):
            if not isinstance(name, str) or not name.startswith("vllm:"):
                continue
            label_options = self.values(keywords["labelnames"], scope, bound) if "labelnames" in keywords else [((), [])]
            for label_conditions, labels in label_options:
                if not isinstance(labels, list):
                    raise SystemExit(f"{name}: cannot read its label names {ast.unparse(keywords['labelnames'])!r}")
                buckets = None
                if kind == "histogram":
                    (_, buckets), = self.values(keywords["buckets"], scope, bound)
                exposed = name if kind != "counter" or name.endswith("_total") else f"{name}_total"
                self.found.append(Found(exposed, kind, tuple(sorted(set(labels))), buckets,
                                        tuple(dict.fromkeys(conditions + name_conditions + label_conditions))))

    def extract(self, path: Path) -> None:
        for function in ast.walk(ast.parse(path.read_text())):
            if isinstance(function, ast.FunctionDef):
                scope = self.collect(function)
                for stmt, conditions in leaf_statements(function.body):
                    self.constructors(stmt, scope, conditions, {})


def feature_of(conditions: tuple[str, ...]) -> str:
    features = set()
    for condition in conditions:
        for pattern, feature in FEATURES:
            if re.search(pattern, condition):
                if feature:
                    features.add(feature)
                break
        else:
            raise SystemExit(f"unclassified condition {condition!r}: add it to FEATURES")
    if "diffusion" in features:
        features.discard("speculative_decoding")
    if len(features) > 1:
        raise SystemExit(f"conditions {conditions} name several features {sorted(features)}")
    return features.pop() if features else ""


def version_of(root: Path) -> tuple[str, str]:
    text = (root / "vllm/_version.py").read_text()
    version = re.search(r"__version__ = version = '([^']+)'", text)
    commit = re.search(r"commit_id = 'g?([0-9a-f]+)'", text)
    if not version or not commit:
        raise SystemExit("vllm/_version.py names no version and commit")
    return version.group(1), commit.group(1)


def inventory(root: Path) -> dict:
    extractor = Extractor(root)
    sources = [f for f in LOGGER_FILES if (root / f).exists()]
    for relative in sources:
        extractor.extract(root / relative)
    version, commit = version_of(root)
    families: dict[str, dict] = {}
    for found in extractor.found:
        entry = {"name": found.name, "type": found.type, "labels": list(found.labels), "feature": feature_of(found.conditions)}
        if found.buckets is not None:
            entry["buckets"] = found.buckets
        previous = families.get(found.name)
        if previous is not None and previous != entry:
            raise SystemExit(f"{found.name} is declared twice, differently: {previous} / {entry}")
        families[found.name] = entry
    return {
        "release": f"v{version}",
        "commit": commit,
        "sources": sources,
        "generated_by": "scripts/extract_vllm_metrics.py",
        "families": sorted(families.values(), key=lambda f: f["name"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source_root", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    document = inventory(args.source_root)
    header = (f"# Generated by scripts/extract_vllm_metrics.py from vLLM {document['release']} "
              f"(commit {document['commit']}); do not edit.\n")
    args.out.write_text(header + yaml.safe_dump(document, sort_keys=False, width=120, default_flow_style=None))
    print(f"{args.out}: {len(document['families'])} families of vLLM {document['release']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
