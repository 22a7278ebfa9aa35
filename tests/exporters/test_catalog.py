"""The exporter catalog, its agreement with the contracts, and the generated differences table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporters.catalog import EXPORTERS, ROLLOUT_ORDER, ExporterSpec, scrape_interval
from exporters.contracts import CONTRACTS
from exporters.differences import KNOWN_DIFFERENCES, differences_table
from mock_exporter.registry import SIMULATORS

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_rollout_goes_node_cadvisor_dcgm_vllm() -> None:
    assert ROLLOUT_ORDER == ("node", "cadvisor", "dcgm", "vllm")
    assert [EXPORTERS[name].rollout_phase for name in ROLLOUT_ORDER] == [1, 2, 3, 4]
    assert {name for name, spec in EXPORTERS.items() if spec.has_mock} == set(SIMULATORS)


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_image_is_pinned_and_matches_the_contract_version(name: str) -> None:
    spec = EXPORTERS[name]
    assert spec.name == name and name in CONTRACTS
    if spec.image is None:
        assert name == "vllm"
        return
    repository, tag = spec.image.rsplit(":", 1)
    assert tag != "latest" and re.search(r"\d+\.\d+\.\d+", tag)
    version = re.search(r"\d+\.\d+\.\d+(-\d+\.\d+\.\d+)?", tag).group(0)  # type: ignore[union-attr]
    assert version in CONTRACTS[name].upstream_version, f"{spec.image} vs {CONTRACTS[name].upstream_version}"


def test_ports_paths_and_scrape_classes() -> None:
    assert {name: spec.port for name, spec in EXPORTERS.items()} == {
        "node": 9100, "cadvisor": 8080, "dcgm": 9400, "vllm": 8000,
        "postgres": 9187, "redis": 9121, "blackbox": 9115, "pushgateway": 9091,
    }
    assert all(spec.metrics_path == "/metrics" for spec in EXPORTERS.values())
    assert scrape_interval("vllm") == "60s" and scrape_interval("node") == "30s" and scrape_interval("pushgateway") == "5m"


def test_catalog_rejects_unpinned_images_and_unknown_classes() -> None:
    with pytest.raises(ValueError, match="pinned"):
        ExporterSpec("x", "X", "prom/x:latest", 1, "/metrics", "infrastructure", False, None)
    with pytest.raises(ValueError, match="scrape class"):
        ExporterSpec("x", "X", "prom/x:v1.0.0", 1, "/metrics", "fast", False, None)


def test_differences_table_covers_every_mock_and_declared_difference() -> None:
    table = differences_table()
    lines = table.strip().splitlines()
    assert lines[0].startswith("| Phase | Exporter |")
    assert all(line.count("|") - line.count("\\|") == 6 for line in lines)
    for name in ROLLOUT_ORDER:
        assert EXPORTERS[name].title in table
    for difference in KNOWN_DIFFERENCES:
        assert difference.mock.replace("|", "\\|") in table
    assert "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL" in table


def test_mock_image_copies_only_the_mock_and_runs_unprivileged() -> None:
    dockerfile = (REPO_ROOT / "images/mock-exporter/Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11\.\d+-slim", dockerfile, re.M)
    assert re.search(r"^USER 65534", dockerfile, re.M)
    assert re.findall(r"^COPY (\S+)", dockerfile, re.M) == ["mock_exporter/"]
    assert 'ENTRYPOINT ["python", "-m", "mock_exporter"]' in dockerfile
    # The mock must run without the contracts at run time, and without PyYAML but for its web
    # configuration file (mock_exporter/webconfig.py, which the image installs PyYAML for).
    sources = {path.name: path.read_text() for path in (REPO_ROOT / "mock_exporter").glob("*.py")}
    assert not any("from exporters" in text for text in sources.values())
    assert [name for name, text in sources.items() if "import yaml" in text] == ["webconfig.py"]
    assert re.search(r"\bPyYAML==", dockerfile)
