"""The SLO burn-rate alerts judged on windows as long as they really are: three and a half days of
the mock vLLM server's own time-to-first-token histogram, sampled every minute through its daily
rhythm, evaluated by `promtool test rules` with the deployed SLO rule file. Healthy days raise no
SLO alert (not even pending); the same days with a latency fault from day two page. The end-to-end
runs cannot judge these alerts: their windows (1h to 3d) would hold only the seconds a test runs."""

from __future__ import annotations

from pathlib import Path

from mock_exporter.base import HostOptions
from mock_exporter.registry import SIMULATORS
from rules import render_rule_files
from tests.rules.support import all_on_settings, promtool, write_documents

T0 = 1_790_000_000.0
STEP = 60  # seconds between samples, as a 1m scrape would take them
# Rules are evaluated every 5 minutes over the days (the stack evaluates every 30 s): a condition
# true for less than that could slip between two evaluations, which a real burn never does.
EVALUATION_INTERVAL = "5m"
MINUTES = int(3.5 * 24 * 60)
FAULT_AT = 2 * 24 * 60  # minute the latency fault starts in the faulty run
LABELS = 'env="test",exporter="vllm",source="mock"'
SETTINGS = all_on_settings()


def ttft_series(fault_at_minute: int | None) -> list[dict[str, str]]:
    """`le="1.0"` bucket and count of the mock's TTFT histogram, one value per minute."""
    vllm = SIMULATORS["vllm"](HostOptions(seed=11, started_at=T0, hostname="mock-host-11"))
    histogram = next(h for spec, h in vllm.histograms if spec.name == "vllm:time_to_first_token_seconds")
    one_second = histogram.bounds.index(1.0)
    good, total = [], []
    for minute in range(MINUTES + 1):
        now = T0 + minute * STEP
        if minute == fault_at_minute:
            vllm.add_fault(now, "latency", {})
        counts = histogram.counts(now)
        good.append(str(counts[one_second]))
        total.append(str(counts[-1]))
    return [
        {"series": f'vllm:time_to_first_token_seconds_bucket{{{LABELS},le="1.0"}}', "values": " ".join(good)},
        {"series": f"vllm:time_to_first_token_seconds_count{{{LABELS}}}", "values": " ".join(total)},
        {"series": 'up{env="test",job="prometheus",service="prometheus",instance="p:9090"}', "values": f"1x{MINUTES}"},
    ]


def slo_alerts_over_the_days(tmp_path: Path, fault_at_minute: int | None, expected: list[dict]) -> str:
    """Run promtool over the days and check which SLO alerts ever existed (firing or pending)."""
    rule_files = {"slo.yml": render_rule_files(SETTINGS)["slo.yml"]}
    end = f"{MINUTES}m"
    test = {
        "rule_files": ["slo.yml"],
        "evaluation_interval": EVALUATION_INTERVAL,
        "tests": [{
            "interval": "1m",
            "input_series": ttft_series(fault_at_minute),
            "promql_expr_test": [{
                "expr": f'max by (alertname, alertstate) (max_over_time(ALERTS{{slo!=""}}[{end}]))',
                "eval_time": end,
                "exp_samples": expected,
            }],
        }],
    }
    write_documents(tmp_path, {**rule_files, "days.test.yml": test})
    result = promtool("test", "rules", "days.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout


def test_healthy_days_raise_no_slo_alert(tmp_path):
    slo_alerts_over_the_days(tmp_path, None, [])


def test_the_same_days_with_slow_first_tokens_page(tmp_path):
    """The control: the harness sees an alert when there is one (a healthy run proves nothing else)."""
    expected = [
        {"labels": f'{{alertname="{name}",alertstate="{state}"}}', "value": 1}
        for name in ("SloLlmTtftErrorBudgetBurnFast", "SloLlmTtftErrorBudgetBurnSlow")
        for state in ("firing", "pending")
    ]
    slo_alerts_over_the_days(tmp_path, FAULT_AT, expected)
