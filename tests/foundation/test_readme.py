"""README.md stays true: the generated reference is current and CI runs the README's test command."""

import re

from scripts.update_readme_settings import README, with_current_reference
from tests.conftest import ROOT


def test_settings_reference_is_current():
    text = README.read_text()
    assert with_current_reference(text) == text, "run: .venv/bin/python scripts/update_readme_settings.py"
    assert "| `prometheus.retention` | str | `\"30d\"` |" in text


def test_ci_runs_exactly_the_readme_test_command():
    readme = README.read_text()
    assert "make test " in readme and "make preview STACK=staging" in readme
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("make")]
    assert commands == ["make test"]


def test_every_make_target_the_readme_names_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", makefile, re.M))
    for target in set(re.findall(r"`make ([a-z-]+)", README.read_text())):
        assert target in targets, target


def test_every_settings_example_in_the_readme_is_valid():
    import textwrap

    import yaml

    from settings import parse_settings
    from settings.loader import namespace_config
    from settings.secrets import SECRET_KEYS

    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2
    for block in blocks:
        document = yaml.safe_load(textwrap.dedent(block))
        config = document.get("config", document)
        parse_settings(namespace_config(config, SECRET_KEYS), "staging")  # raises on any bad example
