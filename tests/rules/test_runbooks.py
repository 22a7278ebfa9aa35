"""Every alert links to a runbook section that exists and says what it means, what it breaks, how
to diagnose it and how to mitigate it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rules import render_rule_files
from rules.runbooks import PAGE, render_page
from tests.conftest import STACKS, stack_settings
from settings import parse_settings
from tests.rules.support import ALL_ON, all_alerts, all_on_settings

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("**Meaning.**", "**Impact.**", "**Diagnosis.**", "**Mitigation.**")


def sections(page: Path) -> dict[str, str]:
    """Heading anchor (GitHub style: lower-case heading text) -> section text."""
    found = {}
    for block in re.split(r"^## ", page.read_text(), flags=re.MULTILINE)[1:]:
        heading, _, body = block.partition("\n")
        found[heading.strip().lower()] = body
    return found


def promtail_settings():
    """Everything on, with Promtail: its alerts need runbook sections while it stays selectable."""
    return parse_settings({**ALL_ON, "logs": {"collector": "promtail"}}, "test")


@pytest.mark.parametrize("stack", [*STACKS, "all-on", "all-on-promtail"])
def test_every_alert_has_a_complete_runbook_section(stack):
    named = {"all-on": all_on_settings, "all-on-promtail": promtail_settings}
    settings = named[stack]() if stack in named else stack_settings(stack)
    problems = []
    for alert in all_alerts(render_rule_files(settings)):
        path, _, anchor = alert["annotations"]["runbook_url"].partition("#")
        page = ROOT / path
        if not page.is_file():
            problems.append(f"{alert['alert']}: no page {path}")
            continue
        body = sections(page).get(anchor)
        if body is None:
            problems.append(f"{alert['alert']}: no section #{anchor} in {path}")
        elif missing := [part for part in PARTS if part not in body]:
            problems.append(f"{alert['alert']}: section lacks {missing}")
    assert not problems, "\n".join(problems)


def test_generated_targets_page_is_current():
    assert PAGE.read_text() == render_page(), "run: .venv/bin/python -m rules.runbooks"


def test_no_runbook_section_without_an_alert():
    documents = render_rule_files(all_on_settings())
    with_promtail = render_rule_files(promtail_settings())
    alerts = {a["alert"].lower() for a in all_alerts(documents) + all_alerts(with_promtail)}
    # The pages of the Prometheus rule domains (other pages, e.g. Loki's log alerts, are not ours).
    for page in sorted(ROOT / "docs" / "runbooks" / name.replace(".yml", ".md") for name in documents):
        stale = set(sections(page)) - alerts
        assert not stale, f"{page.name} documents alerts that do not exist: {sorted(stale)}"
