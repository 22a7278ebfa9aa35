"""SLOs from settings: error ratios for every window, objective, budget left, burn-rate alerts."""

from __future__ import annotations

from rules import render_rule_files
from tests.rules.support import all_alerts, all_on_settings, all_rules, promtool, write_documents

API = {
    "name": "api-errors",
    "description": "API requests succeed.",
    "objective": 0.995,
    "bad": 'sum by (env) (rate(http_requests_total{code=~"5.."}[$window]))',
    "total": "sum by (env) (rate(http_requests_total[$window]))",
}


def test_custom_slo_gets_recordings_budget_and_both_burn_alerts(tmp_path):
    settings = all_on_settings(slos=[API])
    documents = render_rule_files(settings)
    records = {(r["record"], r["labels"]["slo"]): r["expr"] for _, r in all_rules(documents) if "record" in r and "slo" in r.get("labels", {})}
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"):
        assert records[(f"slo:sli_error:ratio_rate{window}", "api-errors")] == (
            f'(sum by (env) (rate(http_requests_total{{code=~"5.."}}[{window}]))) / '
            f"(sum by (env) (rate(http_requests_total[{window}])))"
        )
    assert records[("slo:objective:ratio", "api-errors")] == "vector(0.995)"
    assert "slo:sli_error:ratio_rate30d" in records[("slo:error_budget_remaining:ratio", "api-errors")]
    alerts = {a["alert"]: a for a in all_alerts(documents)}
    fast, slow = alerts["SloApiErrorsErrorBudgetBurnFast"], alerts["SloApiErrorsErrorBudgetBurnSlow"]
    assert fast["labels"]["severity"] == "critical" and slow["labels"]["severity"] == "warning"
    # 14.4 x (1 - 0.995) and 6 x, over 1h/5m and 6h/30m; 3 x and 1 x over 1d/2h and 3d/6h.
    assert "ratio_rate1h{slo=\"api-errors\"} > 0.072" in fast["expr"] and "ratio_rate5m{slo=\"api-errors\"} > 0.072" in fast["expr"]
    assert "ratio_rate6h{slo=\"api-errors\"} > 0.03" in fast["expr"] and "ratio_rate30m{slo=\"api-errors\"} > 0.03" in fast["expr"]
    assert "ratio_rate1d{slo=\"api-errors\"} > 0.015" in slow["expr"] and "ratio_rate3d{slo=\"api-errors\"} > 0.005" in slow["expr"]
    paths = write_documents(tmp_path, documents)
    result = promtool("check", "rules", *map(str, paths))
    assert result.returncode == 0, result.stdout + result.stderr


def test_slow_windows_evaluate_in_their_own_group():
    groups = {g["name"]: g for g in render_rule_files(all_on_settings(slo_long_interval="10m"))["slo.yml"]["groups"]}
    long = groups["slo.stack-availability.long"]
    assert long["interval"] == "10m"
    assert {r["record"] for r in long["rules"]} == {
        "slo:sli_error:ratio_rate1d", "slo:sli_error:ratio_rate3d", "slo:sli_error:ratio_rate30d",
        "slo:error_budget_remaining:ratio",
    }
    assert "interval" not in groups["slo.stack-availability"]


def test_no_slos_no_slo_file():
    assert "slo.yml" not in render_rule_files(all_on_settings(slos=[]))
