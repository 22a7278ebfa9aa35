"""The contracts of the stack's own services. Prometheus and Alertmanager are proven against the
real Debian 12 builds (2.42 and 0.25): Prometheus scrapes itself and the Alertmanager, evaluates one
rule file (a recording rule, a firing and a pending alert) and sends its alerts to the Alertmanager,
so the rule, notification and TSDB families all have samples. Only the differences each contract
declares for the Debian build are tolerated, and each declared difference must really be there.
The series Prometheus synthesises are proven through its query API.

Loki, Promtail, Alloy and Grafana have no binary here: their contracts come from the upstream source
(provenance in each file) and are checked for form and agreement with the image catalog only."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Callable
from urllib.parse import quote

import pytest
import yaml

from exporters.contracts import (
    CONTRACTS,
    GENERATED,
    SERVICE_CONTRACTS,
    SYNTHESISED,
    Contract,
    check_exposition,
    known_metric_names,
    load_contract,
    sample_names,
)
from exporters.exposition import LABEL_NAME, METRIC_NAME, STRUCTURAL_LABELS
from settings.images import IMAGES
from tests.exporters.conftest import LOOPBACK, ServiceProcess, free_port, http, require_binary

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
# Long enough for two scrapes, a rule evaluation and a notification at 1 s intervals on a busy CI host.
SETTLE_SECONDS = 30.0
FIRING_ALERT = "ContractCheckFiring"
PENDING_ALERT = "ContractCheckPending"


def eventually(check: Callable[[], list[str]], timeout: float = SETTLE_SECONDS) -> list[str]:
    """Run `check` until it reports no problem or time runs out; the last problems found."""
    deadline = time.monotonic() + timeout
    while True:
        problems = check()
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(0.5)


def declared_differences(contract: Contract) -> set[str]:
    """The lines `check_exposition` must report when the full contract meets the Debian build."""
    lines = set()
    for family in contract.families:
        where = f"{contract.exporter}: {family.name}"
        if family.debian_absent:
            lines.add(f"{where}: missing family")
        elif family.debian_labels is not None:
            if missing := family.labels - family.debian_labels:
                lines.add(f"{where}: missing labels {', '.join(sorted(missing))}")
            if extra := family.debian_labels - family.labels:
                lines.add(f"{where}: unexpected labels {', '.join(sorted(extra))}")
    return lines


@pytest.fixture(scope="module")
def alertmanager(service_factory: Callable[..., ServiceProcess], tmp_path_factory: pytest.TempPathFactory) -> ServiceProcess:
    binary = require_binary(ALERTMANAGER)
    directory = tmp_path_factory.mktemp("alertmanager")
    config = directory / "alertmanager.yml"
    config.write_text(yaml.safe_dump({"route": {"receiver": "nowhere"}, "receivers": [{"name": "nowhere"}]}))
    port = free_port()
    return service_factory(
        [binary, f"--config.file={config}", f"--storage.path={directory / 'data'}",
         f"--web.listen-address={LOOPBACK}:{port}", "--cluster.listen-address="],
        f"http://{LOOPBACK}:{port}/-/ready",
    )


def _address(service: ServiceProcess) -> str:
    return service.url.split("//", 1)[1].split("/", 1)[0]


@pytest.fixture(scope="module")
def prometheus(
    service_factory: Callable[..., ServiceProcess], alertmanager: ServiceProcess, tmp_path_factory: pytest.TempPathFactory
) -> ServiceProcess:
    binary = require_binary(PROMETHEUS)
    directory = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    rules = directory / "contract.yml"
    rules.write_text(yaml.safe_dump({"groups": [{
        "name": "contract",
        "rules": [
            {"record": "contract:up:sum", "expr": "sum(up)"},
            {"alert": FIRING_ALERT, "expr": "vector(1)"},
            {"alert": PENDING_ALERT, "expr": "vector(1)", "for": "1h"},
        ],
    }]}))
    config = directory / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [_address(alertmanager)]}]}]},
        "scrape_configs": [
            {"job_name": "prometheus", "static_configs": [{"targets": [f"{LOOPBACK}:{port}"]}]},
            {"job_name": "alertmanager", "static_configs": [{"targets": [_address(alertmanager)]}]},
        ],
    }))
    return service_factory(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
         f"--web.listen-address={LOOPBACK}:{port}",
         # The first send can precede the notifier's Alertmanager discovery; with the default 1m resend
         # delay the notification families would stay empty for a minute.
         "--rules.alert.resend-delay=1s"],
        f"http://{LOOPBACK}:{port}/-/ready",
    )


def metrics_url(service: ServiceProcess) -> str:
    return f"http://{_address(service)}/metrics"


@pytest.mark.real_exporters
@pytest.mark.parametrize("service", ["prometheus", "alertmanager"])
def test_real_service_satisfies_its_contract(service: str, request: pytest.FixtureRequest) -> None:
    process: ServiceProcess = request.getfixturevalue(service)
    contract = SERVICE_CONTRACTS[service].as_served_by_debian()
    url = metrics_url(process)
    assert eventually(lambda: check_exposition(contract, http(url).text)) == []


@pytest.mark.real_exporters
@pytest.mark.parametrize("service", ["prometheus", "alertmanager"])
def test_declared_debian_differences_are_real(service: str, request: pytest.FixtureRequest) -> None:
    """The full contract against the Debian build fails exactly where the contract says Debian differs."""
    process: ServiceProcess = request.getfixturevalue(service)
    contract = SERVICE_CONTRACTS[service]
    expected = declared_differences(contract)
    assert expected, f"{service}: the Debian build is expected to differ at least in build_info's tags label"
    url = metrics_url(process)
    served = eventually(lambda: sorted(set(check_exposition(contract, http(url).text)) ^ expected))
    assert served == [], "symmetric difference between found and declared differences"


def synthesised_series_problems(prometheus: ServiceProcess) -> list[str]:
    problems = []
    base = f"http://{_address(prometheus)}"
    for family in SYNTHESISED.families:
        reply = http(f"{base}/api/v1/series?match[]={quote(family.name)}")
        series = json.loads(reply.text)["data"] if reply.status == 200 else []
        if not series:
            problems.append(f"{family.name}: no series")
            continue
        # No target labels and no alert labels are configured: exactly the contract's labels remain.
        for labels in series:
            names = set(labels) - {"__name__"}
            if names != family.labels:
                problems.append(f"{family.name}: labels {sorted(names)}, contract says {sorted(family.labels)}")
        if family.name == "ALERTS":
            states = {(s["alertname"], s["alertstate"]) for s in series}
            if not {(FIRING_ALERT, "firing"), (PENDING_ALERT, "pending")} <= states:
                problems.append(f"ALERTS: expected a firing and a pending alert, found {sorted(states)}")
    return problems


@pytest.mark.real_exporters
def test_real_prometheus_synthesises_the_series_of_the_synthetic_contract(prometheus: ServiceProcess) -> None:
    assert eventually(lambda: synthesised_series_problems(prometheus)) == []


# The contracts themselves: well-formed, named after their service, and at the catalog's version.

def test_service_contracts_are_the_stack_services_and_stay_apart_from_exporters() -> None:
    assert set(SERVICE_CONTRACTS) == {"prometheus", "alertmanager", "loki", "promtail", "alloy", "grafana", "tempo", "pyroscope"}
    assert not set(SERVICE_CONTRACTS) & set(CONTRACTS)
    assert {c.kind for c in CONTRACTS.values()} == {"exporter"}
    assert {c.kind for c in SERVICE_CONTRACTS.values()} == {"service"} and SYNTHESISED.kind == "synthesised"


@pytest.mark.parametrize("service", sorted(SERVICE_CONTRACTS))
def test_service_contract_version_matches_the_image_catalog(service: str) -> None:
    contract = SERVICE_CONTRACTS[service]
    tag = IMAGES[service].image.rsplit(":", 1)[1].lstrip("v")
    assert re.search(rf"\bv?{re.escape(tag)}\b", contract.upstream_version), f"{IMAGES[service].image} vs {contract.upstream_version}"
    assert contract.provenance


@pytest.mark.parametrize("contract", [*SERVICE_CONTRACTS.values(), SYNTHESISED], ids=lambda c: c.exporter)
def test_service_contract_is_well_formed(contract: Contract) -> None:
    for family in contract.families:
        assert METRIC_NAME.fullmatch(family.name), family.name
        assert all(LABEL_NAME.fullmatch(label) and not label.startswith("__") for label in family.labels), family.name
        assert not family.labels & STRUCTURAL_LABELS, family.name
        assert family.help.strip(), family.name
        if contract.kind == "service":
            assert family.name.startswith(contract.name_prefixes()), family.name
            # Counters end in _total; upstream also names a few gauges so (promtail_files_active_total).
            assert family.type != "counter" or family.name.endswith("_total"), family.name
        if family.type in ("histogram", "summary"):
            assert not family.name.endswith(("_bucket", "_sum", "_count")), family.name


def test_synthetic_contract_lists_what_prometheus_writes_itself() -> None:
    assert {f.name: f.labels for f in SYNTHESISED.families} == {
        "up": {"instance", "job"},
        "scrape_duration_seconds": {"instance", "job"},
        "scrape_samples_scraped": {"instance", "job"},
        "scrape_samples_post_metric_relabeling": {"instance", "job"},
        "scrape_series_added": {"instance", "job"},
        "ALERTS": {"alertname", "alertstate"},
        "ALERTS_FOR_STATE": {"alertname"},
    }


def test_known_names_join_every_kind_of_contract_without_overlap() -> None:
    groups = [
        {n for c in CONTRACTS.values() for f in c.every_family() for n in sample_names(f)},
        *({n for f in c.every_family() for n in sample_names(f)} for c in SERVICE_CONTRACTS.values()),
        {n for f in SYNTHESISED.families for n in sample_names(f)},
        {n for f in GENERATED.families for n in sample_names(f)},
    ]
    assert set().union(*groups) == known_metric_names()
    assert sum(len(g) for g in groups) == len(known_metric_names()), "a sample name is claimed by two contracts"
    assert "loki_request_duration_seconds_count" in known_metric_names()
    assert "grafana_http_request_duration_seconds_bucket" in known_metric_names()


def test_contract_files_name_exactly_one_kind(tmp_path: Path) -> None:
    both = tmp_path / "x.yaml"
    both.write_text(yaml.safe_dump({"exporter": "x", "service": "x", "upstream_version": "1", "provenance": "p", "families": []}))
    with pytest.raises(ValueError, match="exactly one of exporter, service, synthesised"):
        load_contract(both)
    service = tmp_path / "y.yaml"
    service.write_text(yaml.safe_dump({"service": "z", "upstream_version": "1", "provenance": "p", "families": []}))
    with pytest.raises(ValueError, match="declares service 'z'"):
        load_contract(service)
