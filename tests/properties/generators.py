"""Hypothesis strategies for stack settings: valid bases and one-problem mutations of them.

Every mutation carries the config key its problem must be reported under, so a test can check that
the error names that key, once. Durations and sizes are judged by their own small oracles here (not
by the product's regexes), so a generated value the product wrongly accepts is caught.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from hypothesis import strategies as st

from settings import parse_settings
from tests.conftest import STACKS, stack_raw_config
from tests.properties.model_paths import BOUNDED_LEAVES, DURATION_LEAVES, LEAVES, SECTIONS, SIZE_LEAVES, Leaf

BASES = {stack: stack_raw_config(stack) for stack in STACKS}
DURATION_UNITS = ("y", "w", "d", "h", "m", "s", "ms")
SIZE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB", "EB")


def is_duration(text: str) -> bool:
    """Prometheus' duration: number+unit groups, units descending (y w d h m s ms), each at most once, > 0."""
    groups = re.findall(r"(\d+)(ms|y|w|d|h|m|s)", text)
    if not groups or "".join(n + u for n, u in groups) != text:
        return False
    order = [DURATION_UNITS.index(unit) for _, unit in groups]
    return order == sorted(set(order)) and any(int(n) for n, _ in groups)


def is_byte_size(text: str) -> bool:
    match = re.fullmatch(r"(\d+)([A-Z]+)", text)
    return bool(match) and match.group(2) in SIZE_UNITS and int(match.group(1)) > 0


@dataclass(frozen=True)
class Mutation:
    kind: str
    path: tuple[str, ...]
    value: Any

    @property
    def key(self) -> str:
        return "monitoring:" + ".".join(self.path)


# Every setting at its default, as a user would write it out.
DEFAULTS = parse_settings({}, "staging").model_dump(mode="json", by_alias=True)


def apply(raw: dict[str, Any], mutations: list[Mutation]) -> dict[str, Any]:
    """`raw` with each mutation's value set; a section it creates starts from its defaults, since
    a section given at all must give its required keys (`resources: {cpus: 2}` lacks memory_mb)."""
    data = copy.deepcopy(raw)
    for mutation in mutations:
        node, defaults = data, DEFAULTS
        for part in mutation.path[:-1]:
            defaults = defaults.get(part) if isinstance(defaults, dict) else None
            if part not in node:
                node[part] = copy.deepcopy(defaults) if isinstance(defaults, dict) else {}
            node = node[part]
        node[mutation.path[-1]] = mutation.value
    return data


durations_text = st.one_of(
    st.sampled_from(["30 days", "5", "1h30", "-5m", "0s", "0d", "1.5h", "1m1h", "5mm", "1d1d", "P1D", "", " 5m", "5M"]),
    st.text(alphabet="0123456789ywdhms .-", min_size=1, max_size=7),
)
sizes_text = st.one_of(
    st.sampled_from(["50 GB", "50G", "50gb", "0GB", "1.5GB", "GB", "-1MB", "50GiB", ""]),
    st.text(alphabet="0123456789BKMGTPEi .-", min_size=1, max_size=6),
)


def wrong_type(leaf: Leaf) -> st.SearchStrategy[Mutation]:
    if leaf.container is dict:
        values = st.sampled_from([[1, 2], 7, "text"])
    elif leaf.container is tuple:
        values = st.sampled_from([{"unexpected": 1}, 7])
    elif leaf.is_optional_section:
        values = st.sampled_from([7, [1, 2]])
    else:
        values = st.sampled_from([{"unexpected": 1}, [1, 2]])
    return values.map(lambda value: Mutation("wrong type", leaf.path, value))


def out_of_range(leaf: Leaf) -> st.SearchStrategy[Mutation]:
    margin = st.integers(1, 10**6) if leaf.is_int else st.floats(0.001, 1e6, allow_nan=False)
    options = []
    for bound in leaf.bounds():
        if isinstance(bound, (Ge, Gt)):
            low = bound.ge if isinstance(bound, Ge) else bound.gt
            options.append(margin.map(lambda m, low=low, open_=isinstance(bound, Gt): low - (0 if open_ and m == 1 else m)))
        else:
            high = bound.le if isinstance(bound, Le) else bound.lt
            options.append(margin.map(lambda m, high=high, open_=isinstance(bound, Lt): high + (0 if open_ and m == 1 else m)))
    return st.one_of(options).map(lambda value: Mutation("out of range", leaf.path, value))


def bad_text(leaf: Leaf, texts: st.SearchStrategy[str], valid) -> st.SearchStrategy[Mutation]:
    return texts.filter(lambda text: not valid(text)).map(lambda text: Mutation("bad format", leaf.path, text))


def unknown_key(section: tuple[tuple[str, ...], type]) -> st.SearchStrategy[Mutation]:
    path, model = section
    known = {field.alias or name for name, field in model.model_fields.items()}
    names = st.from_regex(r"[a-z][a-z_]{1,12}", fullmatch=True).filter(lambda name: name not in known)
    return names.map(lambda name: Mutation("unknown key", (*path, name), 1))


NUMBER_LEAVES = [leaf for leaf in LEAVES if leaf.field.annotation in (int, float, int | None, float | None)]

mutation = st.one_of(
    st.sampled_from(LEAVES).flatmap(wrong_type),
    st.sampled_from(NUMBER_LEAVES).flatmap(lambda leaf: st.booleans().map(lambda flag: Mutation("boolean", leaf.path, flag))),
    st.sampled_from(BOUNDED_LEAVES).flatmap(out_of_range),
    st.sampled_from(DURATION_LEAVES).flatmap(lambda leaf: bad_text(leaf, durations_text, is_duration)),
    st.sampled_from(SIZE_LEAVES).flatmap(lambda leaf: bad_text(leaf, sizes_text, is_byte_size)),
    st.sampled_from(SECTIONS).flatmap(unknown_key),
)


def independent(mutations: list[Mutation]) -> bool:
    """No mutation's key lies inside another's (each problem stands alone)."""
    paths = [m.path for m in mutations]
    return all(a == b or (a[: len(b)] != b and b[: len(a)] != a) for a in paths for b in paths if a is not b) and len(
        set(paths)
    ) == len(paths)


mutations = st.lists(mutation, min_size=1, max_size=4).filter(independent)
