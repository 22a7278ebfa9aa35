"""Generated SLA blocks (`monitoring:sla.services`): one malformed entry among valid ones fails with
one line naming `sla.services[<index>].<field>`. Derandomized (fixed seed, `print_blob` on failure).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.properties.support import error_lines, key_of, replayable

GOOD = {
    "availability": {"objective": 0.999, "good": "sum(sum_over_time(up[$window]))", "total": "sum(count_over_time(up[$window]))"},
    "maintenance": [{"start": "2026-11-01T02:00:00Z", "end": "2026-11-01T03:00:00Z", "reason": "upgrade"}],
}
# A problem, the key under the entry it must be reported at, and the change that makes it.
PROBLEMS = {
    "objective too high": ("availability.objective", lambda s: s["availability"].update(objective=1.5)),
    "objective not a number": ("availability.objective", lambda s: s["availability"].update(objective="high")),
    "no $window": ("availability.good", lambda s: s["availability"].update(good="sum(up)")),
    "not counting": ("availability.total", lambda s: s["availability"].update(total="sum(rate(up[$window]))")),
    "bad PromQL": ("availability.good", lambda s: s["availability"].update(good="sum(increase(up[$window])")),
    "missing availability": ("availability", lambda s: s.pop("availability")),
    "bad name": ("name", lambda s: s.update(name="Bad Name")),
    "unknown key": ("objective", lambda s: s.update(objective=0.99)),
    "empty description": ("description", lambda s: s.update(description="")),
    "naive start": ("maintenance[0].start", lambda s: s["maintenance"][0].update(start="2026-11-01T02:00:00")),
    "end before start": ("maintenance[0].end", lambda s: s["maintenance"][0].update(end="2026-11-01T01:00:00Z")),
    "overlapping windows": ("maintenance", lambda s: s["maintenance"].append(dict(s["maintenance"][0], reason="again"))),
}


@replayable(300)
@given(count=st.integers(1, 4), bad=st.integers(0, 3), problem=st.sampled_from(sorted(PROBLEMS)))
def test_a_malformed_sla_names_its_entry_and_field(count, bad, problem):
    import copy

    services = [{"name": f"service-{index}", "description": f"Service {index}.", **copy.deepcopy(GOOD)} for index in range(count)]
    index = bad % count
    field, change = PROBLEMS[problem]
    change(services[index])
    lines = error_lines({"sla": {"services": services}}, "staging")
    assert len(lines) == 1, lines
    assert key_of(lines[0]) == f"monitoring:sla.services[{index}].{field}", lines


def test_the_valid_block_parses():
    assert error_lines({"sla": {"services": [{"name": "a", "description": "A.", **GOOD}]}}, "staging") == []
