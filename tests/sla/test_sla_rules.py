"""SLA settings and rules: one clear line per bad setting, the month to date computed over the
calendar month with maintenance left out (real promtool over a January→February boundary), and
every SLA expression built from the settings' queries and windows."""

from __future__ import annotations

import pytest

from render.serialize import to_yaml
from rules import render_rule_files
from rules.common import RuleContext
from rules.sla import GOOD as GOOD_HOURLY
from rules.sla import MAINTENANCE as MAINTENANCE_ACTIVE
from rules.sla import RATIO_MONTH, STATE, build
from rules.sla import TOTAL as TOTAL_HOURLY
from settings import SettingsError, parse_settings
from tests.rules.support import all_rules, durations, promtool

GOOD = 'sum(sum_over_time(up{exporter="vllm"}[$window]))'
TOTAL = 'sum(count_over_time(up{exporter="vllm"}[$window]))'


def sla_settings(**service):
    base = {"name": "llm-api", "description": "d", "availability": {"objective": 0.999, "good": GOOD, "total": TOTAL}}
    return {"sla": {"services": [{**base, **service}]}}


@pytest.mark.parametrize(
    "raw, line",
    [
        (sla_settings(availability={"objective": 0.999, "good": 'up{exporter="vllm"}', "total": TOTAL}),
         'monitoring:sla.services[0].availability.good: "up{exporter=\\"vllm\\"}" has no $window where its range goes, e.g. increase(x[$window])'),
        (sla_settings(availability={"objective": 0.999, "good": "rate(x[$window])", "total": TOTAL}),
         'monitoring:sla.services[0].availability.good: "rate(x[$window])" does not count events over the window: use one of sum_over_time, count_over_time, increase'),
        (sla_settings(availability={"objective": 1.0, "good": GOOD, "total": TOTAL}),
         "monitoring:sla.services[0].availability.objective: 1.0 is out of range; must be < 1.0"),
        (sla_settings(maintenance=[{"start": "2026-11-03T02:00:00Z", "end": "2026-11-03T01:00:00Z", "reason": "db"}]),
         'monitoring:sla.services[0].maintenance[0].end: "2026-11-03T01:00:00+00:00" is not after start 2026-11-03T02:00:00+00:00'),
        (sla_settings(maintenance=[{"start": "2026-11-03T02:00:00Z", "end": "2026-11-03T04:00:00Z", "reason": "a"},
                                   {"start": "2026-11-03T03:00:00Z", "end": "2026-11-03T05:00:00Z", "reason": "b"}]),
         'monitoring:sla.services[0].maintenance: "2026-11-03T03:00:00+00:00" overlaps the window that ends 2026-11-03T04:00:00+00:00'),
        ({"sla": {"state_window": "6h"}}, 'monitoring:sla.state_window: "6h" is not shorter than burn_window 6h'),
        ({"sla": {"outage_below": 0.9995}}, "monitoring:sla.outage_below: 0.9995 is not below services[0].availability.objective 0.999"),
        ({"sla": {"status_pag": {}}}, None),
    ],
)
def test_a_bad_sla_setting_is_one_clear_line(raw, line):
    with pytest.raises(SettingsError) as raised:
        parse_settings(raw, "test")
    assert len(raised.value.lines) == 1, raised.value.lines
    if line is None:  # an unknown key: named, with the known ones
        assert raised.value.lines[0].startswith("monitoring:sla.status_pag: unknown setting"), raised.value.lines
    else:
        assert raised.value.lines[0] == line


def test_every_sla_expression_comes_from_the_settings():
    """Sentinel queries and odd windows: every recorded SLI reads the settings' query with a
    window the settings or the calendar give, nothing written into the module."""
    settings = parse_settings(
        {"sla": {"state_window": "7m13s", "burn_window": "5h3m", "services": [{
            "name": "x", "description": "d",
            "availability": {"objective": 0.99, "good": 'sum(increase(good_total{sentinel="a"}[$window]))',
                             "total": 'sum(increase(all_total{sentinel="a"}[$window]))'},
        }]}},
        "test",
    )
    built = build(RuleContext.from_settings(settings))
    allowed = {433.0, 5 * 3600 + 180.0, 3600.0, 31 * 86400.0}
    sli_reads = 0
    for group in built.groups:
        for rule in group.rules:
            for window in durations(rule.expr):
                assert window.total_seconds() in allowed, (getattr(rule, "record", None) or rule.name, window)
            sli_reads += rule.expr.count('sentinel="a"')
            assert "vllm" not in rule.expr and "up{" not in rule.expr
    # good and total at the hour, the state window and the burn window.
    assert sli_reads == 6


# January 1970 is promtool's first month (its tests start at the epoch). The month group reads the
# hourly counts, given here hour by hour (each step closes the hour before it): down all January
# except hours closing 2 Jan 01:00-22:00, inside a maintenance window (2 Jan 00:00-23:00); up from
# 1 February. The group runs once a day: promtool evaluates every group at its evaluation
# interval, and a month of 31-day subqueries every few minutes would take it minutes.
HOURLY_GOOD = "0x24 6x21 0x697 6x23"
HOURLY_TOTAL = "6x768"
IN_MAINTENANCE = "0x23 1x23 0x720"
NEVER_IN_MAINTENANCE = "0x768"


def _month_to_date_test(maintenance: str) -> dict:
    at = '{objective="availability",sla="llm-api"}'

    def expect(when: str, value: float) -> dict:
        return {"expr": f'{RATIO_MONTH}{{objective="availability"}}', "eval_time": when,
                "exp_samples": [{"labels": f"{RATIO_MONTH}{at}", "value": value}]}

    return {
        "rule_files": ["sla.yml"],
        "evaluation_interval": "1d",
        "tests": [{
            "interval": "1h",
            "input_series": [
                {"series": f"{GOOD_HOURLY}{at}", "values": HOURLY_GOOD},
                {"series": f"{TOTAL_HOURLY}{at}", "values": HOURLY_TOTAL},
                {"series": f'{MAINTENANCE_ACTIVE}{{sla="llm-api"}}', "values": maintenance},
            ],
            "promql_expr_test": [
                # 1 Feb 00:00, the end of January: its one good day was in maintenance -> nothing good.
                expect("31d", 0),
                # 2 Feb 00:00: February's first day only -> all good; January is not carried over.
                expect("32d", 1),
            ],
        }],
    }


def _month_group_only(tmp_path, maintenance: str):
    groups = render_rule_files(parse_settings(sla_settings(), "test"))["sla.yml"]["groups"]
    month = [g for g in groups if g["name"] in ("sla.period", "sla.llm-api.month")]
    for group in month:
        group.pop("interval", None)
    (tmp_path / "sla.yml").write_text(to_yaml({"groups": month}))
    (tmp_path / "sla.test.yml").write_text(to_yaml(_month_to_date_test(maintenance)))
    return promtool("test", "rules", "sla.test.yml", cwd=tmp_path)


def test_month_to_date_is_the_calendar_month_without_maintenance(tmp_path):
    result = _month_group_only(tmp_path, IN_MAINTENANCE)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_month_to_date_test_fails_when_maintenance_is_not_left_out(tmp_path):
    """The control: with no maintenance, 2 January counts and the end-of-January check fails."""
    result = _month_group_only(tmp_path, NEVER_IN_MAINTENANCE)
    assert result.returncode != 0 and "31d" in result.stdout + result.stderr


def test_state_is_recorded_per_service():
    settings = parse_settings({}, "test")
    states = [r for _, r in all_rules(render_rule_files(settings)) if r.get("record") == STATE]
    assert [r["labels"] for r in states] == [{"sla": s.name} for s in settings.sla.services]
