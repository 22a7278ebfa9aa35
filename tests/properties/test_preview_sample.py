"""A small sample of generated settings through the real program (`preview_probe`: `python -m
preview` under the mock engine). Valid ones preview cleanly; bad ones exit 1 with one line per
problem, no traceback, nothing written, and no resource registered: never a half-declared stack.

Thousands of settings go through the parse path in test_settings_properties.py; a full preview
costs seconds, so only a few run here. Derandomized (fixed seed per test, `print_blob` on failure).
"""

from __future__ import annotations

import json
import subprocess
import sys

import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import ROOT
from tests.properties.generators import BASES, apply, mutations
from tests.properties.support import LINE, names, replayable

ROLLOUT = ("node", "cadvisor", "dcgm", "vllm")
MODES = ("mock", "shadow", "real")  # in rollout progress order


def probe(stack: str, raw: dict, tmp_path) -> tuple[dict, subprocess.CompletedProcess]:
    config = tmp_path / f"Pulumi.{stack}.yaml"
    config.write_text(yaml.safe_dump({"config": {f"monitoring:{key}": value for key, value in raw.items()}}))
    completed = subprocess.run(
        [sys.executable, "-m", "tests.properties.preview_probe", stack, str(config), str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert "Traceback" not in completed.stderr + completed.stdout, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1]), completed


@st.composite
def valid_changes(draw):
    """A valid variation of a stack: rollout modes in order, collector, TLS, API, sampling, retention."""
    progress = sorted(draw(st.lists(st.integers(0, 2), min_size=4, max_size=4)), reverse=True)
    exporters = {name: {"mode": MODES[step]} for name, step in zip(ROLLOUT, progress)}
    if exporters["vllm"]["mode"] != "mock":
        exporters["vllm"]["targets"] = ["vllm-1:8000"]
    tls = draw(st.sampled_from(["off", "generated"]))
    return {
        "exporters": exporters,
        "logs": {"collector": draw(st.sampled_from(["alloy", "promtail"]))},
        "security": {"tls": {"mode": tls}, "auth": {"enabled": tls != "off" and draw(st.booleans())}},
        "api": {"enabled": draw(st.booleans())},
        "traces": {"sampling": {"head_ratio": 1.0, "tail": {"keep_ratio": draw(st.floats(0, 1))}}},
        "loki": {"retention": draw(st.sampled_from(["7d", "30d", "90d"]))},
    }


@replayable(3)
@given(stack=st.sampled_from(sorted(BASES)), changes=valid_changes())
def test_generated_valid_settings_preview_cleanly(stack, changes, tmp_path_factory):
    raw = {**BASES[stack]}
    for section, values in changes.items():
        raw[section] = {**raw.get(section, {}), **values}
    if stack == "prod":
        raw["exporters"]["mock_image"] = {"registry": "registry.example.com/monitoring"}
    result, completed = probe(stack, raw, tmp_path_factory.mktemp("valid"))
    assert result["exit"] == 0, completed.stderr
    assert result["registered"] > 50


@replayable(6)
@given(stack=st.sampled_from(sorted(BASES)), problems=mutations)
def test_generated_bad_settings_register_nothing(stack, problems, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("bad")
    result, completed = probe(stack, apply(BASES[stack], problems), tmp_path)
    assert result == {"exit": 1, "registered": 0}, completed.stderr
    assert not (tmp_path / "out" / "resources.json").exists()
    errors = completed.stderr[completed.stderr.index("error: invalid stack settings:\n") :].splitlines()[1:]
    assert len(errors) == len(problems) and all(LINE.match(line) for line in errors), completed.stderr
    for problem in problems:
        assert sum(names(problem, line) for line in errors) == 1, (problem, errors)
