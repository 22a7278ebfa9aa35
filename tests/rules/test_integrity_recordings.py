"""The integrity recording that serves the data-validation dashboard's "Contract metrics missing"
panel, evaluated by `promtool test rules` on series built from the contracts themselves."""

from __future__ import annotations

import re

from exporters.contracts import CONTRACTS
from rules import render_rule_files
from rules.integrity import contract_names
from settings import parse_settings
from tests.rules.support import ALL_ON, all_on_settings, promtool, write_documents

RECORD = "exporter_source:contract_sample_names_missing:count"
EXPORTER = "node"


def series(name: str, source: str, instance: str) -> dict[str, str]:
    labels = {"__name__": name, "env": "test", "exporter": EXPORTER, "source": source, "instance": instance,
              "job": f"{EXPORTER}-mock" if source == "mock" else EXPORTER}
    return {"series": "{" + ", ".join(f'{key}="{value}"' for key, value in labels.items()) + "}", "values": "1x10"}


def test_missing_contract_names_are_counted_per_exporter_and_source(tmp_path):
    """Two mock hosts serve the whole contract (0 missing: names are counted once, not per
    series); the real exporter serves all but two names plus families outside the contract
    (2 missing: extras cannot hide a gap).

    Mutations caught: counting series instead of names (mock reads -N), dropping the __name__
    filter (extras lower the real count), grouping without `source` (one row for both), a wrong
    contract size in the expression (either value moves)."""
    names = contract_names(EXPORTER)
    absent = names[:2]
    input_series = [series(name, "mock", f"host-{host}:9100") for host in (1, 2) for name in names]
    input_series += [series(name, "real", "db-1:9100") for name in names if name not in absent]
    input_series += [series(extra, "real", "db-1:9100") for extra in ("go_goroutines", "process_open_fds", "node_scrape_collector_success")]
    tests = {
        "integrity.test.yml": {
            "rule_files": ["integrity.yml"],
            "evaluation_interval": "1m",
            "tests": [{
                "interval": "1m",
                "input_series": input_series,
                "promql_expr_test": [{
                    "expr": f'{RECORD}{{exporter="{EXPORTER}"}}',
                    "eval_time": "5m",
                    "exp_samples": [
                        {"labels": f'{RECORD}{{env="test", exporter="{EXPORTER}", source="mock"}}', "value": 0},
                        {"labels": f'{RECORD}{{env="test", exporter="{EXPORTER}", source="real"}}', "value": len(absent)},
                    ],
                }],
            }],
        }
    }
    rule_files = render_rule_files(all_on_settings())
    write_documents(tmp_path, {"integrity.yml": rule_files["integrity.yml"], **tests})
    result = promtool("test", "rules", "integrity.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_one_recording_per_deployed_exporter():
    """An exporter switched off gets no recording (its row would read "whole contract missing")."""
    settings = parse_settings({"exporters": {**ALL_ON["exporters"], "redis": {"mode": "off"}}}, "test")
    recorded = [rule["expr"] for group in render_rule_files(settings)["integrity.yml"]["groups"]
                for rule in group["rules"] if rule.get("record") == RECORD]
    exporters = sorted(re.search(r'exporter="([^"]+)"', expr).group(1) for expr in recorded)
    assert exporters == sorted(name for name in CONTRACTS if name != "redis")
