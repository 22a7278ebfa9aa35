"""The capacity recordings evaluated by `promtool test rules` on the rendered rule file: every
resource's usage ratio and size, and the chain daily peak -> trend -> forecast -> days until full
-> recommendation on a filesystem growing at a known rate; and the capacity settings."""

from __future__ import annotations

import math

import pytest

from rules import render_rule_files
from rules.capacity import DAYS_UNTIL_FULL, FORECAST, HEADROOM, PEAK, RECOMMENDED, SIZE, TREND, USAGE
from settings import parse_settings
from settings.errors import SettingsError
from tests.rules.support import ALL_ON, promtool, write_documents

RESOURCES = {
    "filesystem_space", "filesystem_inodes", "memory", "cpu", "gpu_memory", "gpu_utilisation", "kv_cache",
    "request_queue", "container_memory", "prometheus_series", "prometheus_disk", "loki_ingestion", "loki_disk",
}


def settings(**extra):
    return parse_settings({**ALL_ON, **extra}, "test")


def run_promtool(tmp_path, rule_file: dict, tests: list[dict], interval: str) -> None:
    # promtool evaluates groups in map order unless told: the peak must read this step's usage.
    order = [group["name"] for group in rule_file["groups"]]
    document = {"rule_files": ["capacity.yml"], "evaluation_interval": interval, "group_eval_order": order, "tests": tests}
    write_documents(tmp_path, {"capacity.yml": rule_file, "capacity.test.yml": document})
    result = promtool("test", "rules", "capacity.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def series(name: str, values: str, /, **labels: str) -> dict[str, str]:
    return {"series": name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}", "values": values}


def sample(record: str, value: float, /, **labels: str) -> dict:
    return {"labels": record + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}", "value": value}


def close(record: str, value: float, time: str, /, **labels: str) -> dict:
    """A check that `record{labels}` is within 1e-9 of `value` at `time` (promtool compares
    exactly; deriv and rate land a few ulps off), or exactly an infinite `value`."""
    selector = record + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
    if math.isinf(value):
        return {"expr": selector, "eval_time": time, "exp_samples": [sample(record, value, **labels)]}
    return {"expr": f"abs({selector} - {value!r}) < bool 1e-9", "eval_time": time, "exp_samples": [sample("", 1, **labels)]}


NODE = {"env": "test", "exporter": "node", "source": "real", "instance": "h:9100"}
FS = {**NODE, "device": "/dev/a", "fstype": "ext4"}
VLLM = {"env": "test", "exporter": "vllm", "source": "real", "model_name": "m", "engine": "0"}
DCGM = {"env": "test", "exporter": "dcgm", "source": "real", "instance": "g:9400"}
BOX = {"env": "test", "exporter": "cadvisor", "source": "real", "instance": "c:8080", "name": "app"}


def test_every_resource_is_recorded_as_a_share_of_its_capacity(tmp_path):
    """Each resource is fed data at 75 % of its capacity: every usage ratio reads 0.75 and every
    size the capacity in its unit. Mutations caught: a ratio upside down or against the wrong
    total (free instead of size, idle instead of busy), a size in the wrong unit (MiB per GPU
    instead of GPUs), a resource missing or recorded twice, the vLLM release's other name lost."""
    stack = settings(prometheus={"retention_size": "100GB"}, capacity={"loki_disk": "3456MB"})
    inputs = [
        series("node_filesystem_avail_bytes", "250x80", **FS, mountpoint="/data"),
        series("node_filesystem_size_bytes", "1000x80", **FS, mountpoint="/data"),
        series("node_filesystem_files_free", "100x80", **FS, mountpoint="/data"),
        series("node_filesystem_files", "400x80", **FS, mountpoint="/data"),
        series("node_memory_MemAvailable_bytes", "4000000000x80", **NODE),
        series("node_memory_MemTotal_bytes", "16000000000x80", **NODE),
        series("node_cpu_seconds_total", "0+30x80", **NODE, cpu="0", mode="idle"),   # idle 0.5
        series("node_cpu_seconds_total", "0+0x80", **NODE, cpu="1", mode="idle"),    # idle 0
        series("node_cpu_seconds_total", "0+30x80", **NODE, cpu="0", mode="user"),
        *(series("DCGM_FI_DEV_FB_USED", "30000x80", **DCGM, gpu=g) for g in "01"),
        *(series("DCGM_FI_DEV_FB_FREE", "10000x80", **DCGM, gpu=g) for g in "01"),
        series("DCGM_FI_DEV_GPU_UTIL", "50x80", **DCGM, gpu="0"),
        series("DCGM_FI_DEV_GPU_UTIL", "100x80", **DCGM, gpu="1"),
        # One server on the current release's name, one on the previous one's.
        series("vllm:kv_cache_usage_perc", "0.5x80", **VLLM, instance="a:8000"),
        series("vllm:gpu_cache_usage_perc", "1x80", **VLLM, instance="b:8000"),
        series("vllm:num_requests_waiting", "8x80", **VLLM, instance="a:8000"),
        series("vllm:num_requests_waiting", "16x80", **VLLM, instance="b:8000"),
        series("container_memory_working_set_bytes", "768x80", **BOX),
        series("container_spec_memory_limit_bytes", "1024x80", **BOX),
        series("prometheus_tsdb_head_series", "1500000x80", env="test", service="prometheus", instance="p:9090"),
        series("prometheus_tsdb_storage_blocks_bytes", "75000000000x80", env="test", service="prometheus", instance="p:9090"),
        # 6 MiB/s against Loki's 8 MiB/s limit; 1000 B/s stored for 30 days = 2.592 GB of 3.456 GB.
        series("loki_distributor_bytes_received_total", "0+377487360x80", env="test", service="loki", tenant="fake"),
        series("loki_ingester_chunk_stored_bytes_total", "0+60000x80", env="test", service="loki", tenant="fake"),
    ]
    expected = {
        "filesystem_space": ("bytes", 1000, {**{k: FS[k] for k in ("env", "source", "instance", "device")}, "mountpoint": "/data"}),
        "filesystem_inodes": ("inodes", 400, {**{k: FS[k] for k in ("env", "source", "instance", "device")}, "mountpoint": "/data"}),
        "memory": ("bytes", 16e9, {"env": "test", "source": "real", "instance": "h:9100"}),
        "cpu": ("cores", 2, {"env": "test", "source": "real", "instance": "h:9100"}),
        "gpu_memory": ("gpus", 2, {"env": "test", "source": "real", "instance": "g:9400"}),
        "gpu_utilisation": ("gpus", 2, {"env": "test", "source": "real", "instance": "g:9400"}),
        "kv_cache": ("replicas", 2, {"env": "test", "source": "real", "model_name": "m"}),
        "request_queue": ("replicas", 2, {"env": "test", "source": "real", "model_name": "m"}),
        "container_memory": ("bytes", 1024, {"env": "test", "source": "real", "instance": "c:8080", "name": "app"}),
        "prometheus_series": ("series", 2e6, {"env": "test", "instance": "p:9090"}),
        "prometheus_disk": ("bytes", 1e11, {"env": "test", "instance": "p:9090"}),
        "loki_ingestion": ("bytes_per_second", 8 * 2**20, {"env": "test", "tenant": "fake"}),
        "loki_disk": ("bytes", 3.456e9, {"env": "test"}),
    }
    assert set(expected) == RESOURCES
    checks = []
    for resource, (unit, size, labels) in sorted(expected.items()):
        tag = {**labels, "resource": resource, "unit": unit}
        checks += [close(USAGE, 0.75, "70m", **tag), close(SIZE, size, "70m", **tag)]
        # Exactly one series per resource: no other label set, no second rule recording it.
        checks.append({"expr": f'count({USAGE}{{resource="{resource}"}})', "eval_time": "70m", "exp_samples": [{"labels": "{}", "value": 1}]})
    run_promtool(tmp_path, render_rule_files(stack)["capacity.yml"],
                 [{"interval": "1m", "input_series": inputs, "promql_expr_test": checks}], "1m")


GROW = {**FS, "mountpoint": "/grow"}
FLAT = {**FS, "mountpoint": "/flat"}
FULL = {**FS, "mountpoint": "/full"}


def test_the_forecast_chain_on_a_filesystem_growing_at_a_known_rate(tmp_path):
    """12,000 bytes, 1,000 used, 1 more every 5 minutes (0.024 of capacity a day). At 8d5m: usage
    3305/12000, growth 0.024/day, forecast +30 d 11945/12000, 30.19 days until full, and
    ceil(12000 x (forecast / 0.8 - 1)) = 2932 bytes to add; a flat filesystem never fills and
    needs nothing; a full one is 0 days from full and needs 3000. At 6d (under min_history 7d):
    no forecast at all.

    Mutations caught: a trend per second instead of per day, the horizon missing from the
    forecast, days until full from the usage instead of the headroom, a recommendation that
    ignores the headroom or does not round up, the history guard dropped or inverted."""
    inputs = [
        series("node_filesystem_avail_bytes", "11000-1x2400", **GROW),
        series("node_filesystem_size_bytes", "12000x2400", **GROW),
        series("node_filesystem_avail_bytes", "6000x2400", **FLAT),
        series("node_filesystem_size_bytes", "12000x2400", **FLAT),
        series("node_filesystem_avail_bytes", "0x2400", **FULL),
        series("node_filesystem_size_bytes", "12000x2400", **FULL),
    ]
    keep = ("env", "source", "instance", "device", "mountpoint")
    grow, flat, full = ({**{k: fs[k] for k in keep}, "resource": "filesystem_space", "unit": "bytes"} for fs in (GROW, FLAT, FULL))
    used = 3305 / 12000

    def absent(record: str, time: str) -> dict:
        return {"expr": f'{record}{{resource="filesystem_space"}}', "eval_time": time, "exp_samples": []}

    expected = {
        USAGE: (used, 0.5, 1),
        HEADROOM: (1 - used, 0.5, 0),
        PEAK: (used, 0.5, 1),
        TREND: (0.024, 0, 0),
        FORECAST: (11945 / 12000, 0.5, 1),
        DAYS_UNTIL_FULL: ((1 - used) / 0.024, math.inf, 0),
        RECOMMENDED: (2932, None, 3000),
    }
    checks = [close(record, value, "8d5m", **fs) for record, values in expected.items()
              for fs, value in zip((grow, flat, full), values) if value is not None]
    checks += [{"expr": f'count({record}{{resource="filesystem_space"}})', "eval_time": "8d5m",
                "exp_samples": [{"labels": "{}", "value": sum(v is not None for v in values)}]} for record, values in expected.items()]
    checks += [absent(record, "6d") for record in (FORECAST, DAYS_UNTIL_FULL, RECOMMENDED)]
    run_promtool(tmp_path, render_rule_files(settings())["capacity.yml"],
                 [{"interval": "5m", "input_series": inputs, "promql_expr_test": checks}], "5m")


def _records(stack) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for group in render_rule_files(stack).get("capacity.yml", {"groups": []})["groups"]:
        for rule in group["rules"]:
            found.setdefault(rule.get("record") or rule["alert"], []).append({**rule, "group": group})
    return found


def test_settings_reach_the_rules():
    """Horizon, trend window, urgency, headroom and interval come from `capacity:`; defaults
    otherwise. Mutations caught: a setting read but not applied, a window typed into the rule."""
    default = _records(settings())
    assert "[28d]" in default[FORECAST][0]["expr"] and "2592000)" in default[FORECAST][0]["expr"]
    assert default[PEAK][0]["group"]["interval"] == "5m"
    changed = _records(settings(capacity={"horizon": "60d", "trend_window": "14d", "urgent_within": "3d",
                                          "headroom": 0.3, "evaluation_interval": "10m", "min_history": "3d"}))
    assert "[14d]" in changed[FORECAST][0]["expr"] and "5184000)" in changed[FORECAST][0]["expr"]
    assert "offset 3d" in changed[FORECAST][0]["expr"]
    assert changed[PEAK][0]["group"]["interval"] == "10m"
    assert "/ 0.7 - 1" in changed[RECOMMENDED][0]["expr"]
    assert changed["CapacityExhaustionWithinHorizon"][0]["expr"].endswith("> 3 and capacity:usage:days_until_full{resource!=\"\"} <= 60")
    assert changed["CapacityExhaustionWithinWeek"][0]["expr"].endswith("<= 3")
    assert settings(capacity={"enabled": False}) and "capacity.yml" not in render_rule_files(settings(capacity={"enabled": False}))


def test_disks_without_a_known_size_are_not_forecast():
    def resources(stack) -> set[str]:
        return {rule["labels"]["resource"] for rule in _records(stack)[USAGE]}

    assert resources(settings()) == RESOURCES - {"prometheus_disk", "loki_disk"}
    assert "prometheus_disk" in resources(settings(prometheus={"retention_size": "10GB"}))
    assert {"prometheus_disk", "loki_disk"} <= resources(settings(capacity={"prometheus_disk": "1TB", "loki_disk": "1TB"}))
    off = parse_settings({"exporters": {name: {"mode": "off"} for name in ("node", "cadvisor", "dcgm", "vllm")}}, "test")
    assert resources(off) == {"prometheus_series", "loki_ingestion"}


@pytest.mark.parametrize(
    ("capacity", "line"),
    [
        ({"trend_window": "36h"}, 'monitoring:capacity.trend_window: "36h" is not a whole number of days of at least 2d (the trend is fitted to daily peaks)'),
        ({"min_history": "30d"}, 'monitoring:capacity.min_history: "30d" is not between 1d and trend_window 28d'),
        ({"urgent_within": "30d"}, 'monitoring:capacity.urgent_within: "30d" is not shorter than horizon 30d'),
        ({"headroom": 1}, "monitoring:capacity.headroom: 1 is out of range; must be < 1.0"),
        ({"horizon": "2y"}, 'monitoring:capacity.horizon: "2y" is beyond 365d: a linear trend says nothing a year ahead'),
        ({"horizon": "a month"}, 'monitoring:capacity.horizon: "a month" is not a duration like 30d, 12h, 30s or 1h30m'),
        ({"treshold": 1}, None),
    ],
)
def test_a_bad_capacity_setting_is_one_clear_line(capacity, line):
    with pytest.raises(SettingsError) as error:
        parse_settings({"capacity": capacity}, "test")
    assert len(error.value.lines) == 1
    if line:
        assert error.value.lines == [line]
    else:
        assert error.value.lines[0].startswith("monitoring:capacity.treshold: unknown setting; known keys here: ")
