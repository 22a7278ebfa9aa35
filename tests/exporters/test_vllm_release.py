"""The vLLM mock and contract against what the pinned releases declare in their source.

exporters/contracts/vllm_releases/<release>.yaml is extracted from each release's source by
scripts/extract_vllm_metrics.py (run on the unpacked wheel; the file records the release and its
commit). These tests compare the mock's exposition with those inventories in both directions —
no family missing, none extra, same types, label names and buckets — for both generations, with
and without the optional features, so the next rename upstream fails here when the inventory is
regenerated, not in a user's dashboard."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from exporters.contracts import CONTRACT_DIR, CONTRACTS, check_exposition
from exporters.exposition import Family, parse
from mock_exporter.base import HostOptions
from mock_exporter.vllm import FEATURES, MAX_MODEL_LEN, VllmSimulator, one_two_five
from scripts import extract_vllm_metrics
from tests.exporters.conftest import MockProcess

RELEASES = {"current": "v0.33.0", "previous": "v0.10.1.1"}
T0 = 1_790_000_000.0


def inventory(generation: str) -> dict:
    return yaml.safe_load((CONTRACT_DIR / "vllm_releases" / f"{RELEASES[generation]}.yaml").read_text())


def declared(generation: str, features: tuple[str, ...]) -> dict[str, dict]:
    """The inventory's families a server of `generation` with `features` on serves."""
    return {f["name"]: f for f in inventory(generation)["families"] if f["feature"] in ("", *features)}


def expected_bounds(family: dict) -> list[float]:
    buckets = family["buckets"]
    if buckets == extract_vllm_metrics.ONE_TWO_FIVE:
        return one_two_five(MAX_MODEL_LEN)
    return [float(b) for b in buckets]


def served_bounds(family: Family) -> list[float]:
    return sorted(float(s.label("le")) for s in family.samples if s.name.endswith("_bucket") and s.label("le") != "+Inf")


def differences(served: dict[str, Family], wanted: dict[str, dict]) -> list[str]:
    """One line per way the served families differ from the declared ones, in both directions."""
    problems = [f"{name}: declared by the release, not served" for name in sorted(set(wanted) - set(served))]
    problems += [f"{name}: served, not declared by the release" for name in sorted(set(served) - set(wanted))]
    for name in sorted(set(wanted) & set(served)):
        family, actual = wanted[name], served[name]
        if actual.type != family["type"]:
            problems.append(f"{name}: type {actual.type}, the release declares {family['type']}")
        if actual.label_names() != set(family["labels"]):
            problems.append(f"{name}: labels {sorted(actual.label_names())}, the release declares {family['labels']}")
        if family["type"] == "histogram" and served_bounds(actual) != expected_bounds(family):
            problems.append(f"{name}: buckets {served_bounds(actual)}, the release declares {expected_bounds(family)}")
    return problems


def mock_scrape(generation: str, features: tuple[str, ...]) -> dict[str, Family]:
    options = HostOptions(seed=5, started_at=T0, hostname="mock-host-5", vllm_generation=generation, vllm_features=features)
    return parse(VllmSimulator(options).render(T0 + 900))


@pytest.mark.parametrize("features", [(), FEATURES], ids=["default", "all-features"])
@pytest.mark.parametrize("generation", sorted(RELEASES))
def test_the_mock_serves_exactly_what_the_release_declares(generation: str, features: tuple[str, ...]) -> None:
    """Mutations caught: a family renamed, dropped or added in the mock (e.g. serving the old
    time_per_output_token_seconds as current), a label or a bucket changed, or an inventory
    regenerated from a release that renamed something."""
    assert differences(mock_scrape(generation, features), declared(generation, features)) == []


def test_the_comparison_sees_a_rename() -> None:
    """The check itself can fail: the previous generation's scrape against the current release
    reports the inter-token latency histogram under both of its names."""
    problems = differences(mock_scrape("previous", ()), declared("current", ()))
    assert "vllm:inter_token_latency_seconds: declared by the release, not served" in problems
    assert "vllm:time_per_output_token_seconds: served, not declared by the release" in problems


@pytest.mark.parametrize("generation", sorted(RELEASES))
def test_the_contract_is_the_release_inventory(generation: str) -> None:
    """The contract (what rules, dashboards and the migration table rely on) names the same
    families, types and labels as the inventory of each generation; every feature-gated family of
    the release is either modelled or listed as not modelled."""
    contract = CONTRACTS["vllm"]
    raw = yaml.safe_load((CONTRACT_DIR / "vllm.yaml").read_text())
    modelled = tuple(sorted({f.feature for f in contract.optional_families}))
    assert modelled == tuple(sorted(FEATURES))
    release_features = {f["feature"] for f in inventory(generation)["families"]} - {""}
    assert release_features <= set(modelled) | set(raw["unmodelled_features"])
    view = contract.as_served(generation, modelled)
    ours = {f.name: (f.type, sorted(f.labels)) for f in view.families}
    theirs = {name: (f["type"], sorted(f["labels"])) for name, f in declared(generation, modelled).items()}
    assert ours == theirs
    version = view.upstream_version.removeprefix("vLLM ")
    assert version == inventory(generation)["release"] == RELEASES[generation]
    assert f"{RELEASES[generation]} (" in contract.provenance and inventory(generation)["commit"] in contract.provenance


def test_the_current_release_renamed_the_inter_token_histogram() -> None:
    current, previous = declared("current", ()), declared("previous", ())
    assert "vllm:inter_token_latency_seconds" in current and "vllm:time_per_output_token_seconds" not in current
    assert "vllm:time_per_output_token_seconds" in previous and "vllm:inter_token_latency_seconds" not in previous
    assert current["vllm:inter_token_latency_seconds"]["buckets"] == previous["vllm:time_per_output_token_seconds"]["buckets"]


def test_the_previous_generation_served_over_http_satisfies_its_contract_view(mock_factory) -> None:
    """The command line's --vllm-generation and --vllm-feature reach the served families."""
    mock: MockProcess = mock_factory("--exporter", "vllm", "--vllm-generation", "previous", "--vllm-feature", "lora")
    view = CONTRACTS["vllm"].as_served("previous", ["lora"])
    text = mock.scrape().text
    assert check_exposition(view, text) == []
    assert set(parse(text)) == view.names()


# --- the extractor --------------------------------------------------------------------------------

LOGGER = '''
import prometheus_client
from vllm.v1.metrics.buckets import histogram_buckets

class PrometheusStatLogger:
    _counter_cls = prometheus_client.Counter

    def __init__(self, vllm_config):
        labelnames = ["model_name", "engine"]
        latency = histogram_buckets("request_latency")
        self.requests = self._counter_cls(name="vllm:requests", documentation="x", labelnames=labelnames)
        self.latency = prometheus_client.Histogram(name="vllm:latency_seconds", documentation="x",
                                                   buckets=latency, labelnames=labelnames + ["phase"])
        if vllm_config.lora_config is not None:
            self.info = prometheus_client.Gauge(name="vllm:lora_requests_info", documentation="x", labelnames=["max_lora"])
        if vllm_config.{condition}:
            self.odd = prometheus_client.Gauge(name="vllm:odd", documentation="x", labelnames=labelnames)
'''
BUCKETS = '''
REQUEST_LATENCY_BUCKETS: tuple[float, ...] = (0.5, 1.0, 2.0)
_STATIC_FAMILY_DEFAULTS: dict[str, tuple[float, ...]] = {"request_latency": REQUEST_LATENCY_BUCKETS}
'''


def release_tree(root: Path, condition: str) -> Path:
    files = {
        "vllm/_version.py": "__version__ = version = '9.9.9'\n__commit_id__ = commit_id = 'gabc1234'\n",
        "vllm/v1/metrics/loggers.py": LOGGER.replace("{condition}", condition),
        "vllm/v1/metrics/buckets.py": BUCKETS,
        "vllm/config/cache.py": "class CacheConfig:\n    block_size: int = 16\n",
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_the_extractor_reads_names_types_labels_buckets_and_features(tmp_path: Path) -> None:
    document = extract_vllm_metrics.inventory(release_tree(tmp_path, "show_hidden_metrics"))
    assert (document["release"], document["commit"]) == ("v9.9.9", "abc1234")
    families = {f["name"]: f for f in document["families"]}
    assert families["vllm:requests_total"] == {"name": "vllm:requests_total", "type": "counter",
                                               "labels": ["engine", "model_name"], "feature": ""}
    assert families["vllm:latency_seconds"]["buckets"] == [0.5, 1.0, 2.0]
    assert families["vllm:latency_seconds"]["labels"] == ["engine", "model_name", "phase"]
    assert families["vllm:lora_requests_info"]["feature"] == "lora"
    assert families["vllm:odd"]["feature"] == "hidden_deprecated"


def test_the_extractor_stops_on_a_condition_it_does_not_know(tmp_path: Path) -> None:
    """A family upstream gates behind a new option is not silently taken as served by default."""
    with pytest.raises(SystemExit, match="unclassified condition"):
        extract_vllm_metrics.inventory(release_tree(tmp_path, "brand_new_option"))
