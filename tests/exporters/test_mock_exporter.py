"""The mock exporters: live output against the contracts, value invariants, determinism, hosts and
faults. Fault effects are checked in-process with an explicit clock (minutes pass in no time) and
over HTTP for the control endpoint."""

from __future__ import annotations

import json
import math
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import pytest

from exporters.contracts import CONTRACTS, check_exposition
from exporters.exposition import Family, histogram_violations, parse
from mock_exporter.base import FaultError, Histogram, HostOptions, Simulator
from mock_exporter.registry import SIMULATORS
from mock_exporter.server import HostServer
from mock_exporter.signals import Counter, Wave, lognormal_cdf
from mock_exporter.text import CONTENT_TYPE
from tests.exporters.conftest import REPO_ROOT, MockProcess, http, start_mock, stop

MOCKED = ("node", "cadvisor", "dcgm", "vllm")
SCRAPE_GAP = 1.2
NODE_CPUS = 4


@dataclass
class TwoScrapes:
    mock: MockProcess
    first: dict[str, Family]
    second: dict[str, Family]
    elapsed: float
    content_type: str


def sample_values(family: Family) -> dict[tuple, float]:
    return {(s.name, s.labels): s.value for s in family.samples}


def value(families: dict[str, Family], name: str, /, **labels: str) -> float:
    family_name = name
    for suffix in ("_bucket", "_sum", "_count"):
        if name not in families and name.endswith(suffix) and name[: -len(suffix)] in families:
            family_name = name[: -len(suffix)]
    matches = [
        s.value for s in families[family_name].samples
        if s.name == name and all(s.label(k) == v for k, v in labels.items())
    ]
    assert len(matches) == 1, f"{name}{labels}: {len(matches)} samples"
    return matches[0]


@pytest.fixture(scope="module")
def live() -> Iterator[dict[str, TwoScrapes]]:
    mocks = {name: start_mock("--exporter", name, "--seed", "7", "--cpus", str(NODE_CPUS)) for name in MOCKED}
    try:
        first = {name: mock.scrape() for name, mock in mocks.items()}
        started = time.monotonic()
        time.sleep(SCRAPE_GAP)
        second = {name: mock.scrape() for name, mock in mocks.items()}
        elapsed = time.monotonic() - started
        yield {
            name: TwoScrapes(mocks[name], parse(first[name].text), parse(second[name].text), elapsed, first[name].content_type)
            for name in MOCKED
        }
    finally:
        for mock in mocks.values():
            stop(mock.process)


@pytest.mark.parametrize("exporter", MOCKED)
def test_live_output_satisfies_the_contract_exactly(live: dict[str, TwoScrapes], exporter: str) -> None:
    scrapes = live[exporter]
    assert scrapes.content_type == CONTENT_TYPE
    contract = CONTRACTS[exporter]
    for families in (scrapes.first, scrapes.second):
        unlisted = sorted(set(families) - contract.names())
        assert unlisted == [], "the mock serves families its contract does not list"
    text = live[exporter].mock.scrape().text
    assert check_exposition(contract, text) == []


@pytest.mark.parametrize("exporter", MOCKED)
def test_counters_never_decrease_and_histograms_are_cumulative(live: dict[str, TwoScrapes], exporter: str) -> None:
    scrapes = live[exporter]
    increased = 0
    for name, family in scrapes.first.items():
        if family.type == "histogram":
            assert histogram_violations(family) == []
            assert histogram_violations(scrapes.second[name]) == []
        if family.type in ("counter", "histogram") or name.startswith("node_vmstat_"):
            before, after = sample_values(family), sample_values(scrapes.second[name])
            assert before.keys() == after.keys(), f"{name}: series changed between scrapes"
            for key, old in before.items():
                assert after[key] >= old, f"{name} {key} went from {old} to {after[key]}"
                increased += after[key] > old
    assert increased > 0


def test_node_cpu_seconds_advance_at_most_cores_times_wall_time(live: dict[str, TwoScrapes]) -> None:
    scrapes = live["node"]
    before = sum(sample_values(scrapes.first["node_cpu_seconds_total"]).values())
    after = sum(sample_values(scrapes.second["node_cpu_seconds_total"]).values())
    cpus = {s.label("cpu") for s in scrapes.first["node_cpu_seconds_total"].samples}
    assert len(cpus) == NODE_CPUS
    # Scrapes happen inside the measured interval; rounding to 0.01 s per series adds a little.
    assert 0 < after - before <= NODE_CPUS * scrapes.elapsed + 0.01 * 9 * NODE_CPUS
    uptime = value(scrapes.first, "node_time_seconds") - value(scrapes.first, "node_boot_time_seconds")
    assert before <= NODE_CPUS * uptime


def test_node_memory_and_filesystem_invariants(live: dict[str, TwoScrapes]) -> None:
    for families in (live["node"].first, live["node"].second):
        total = value(families, "node_memory_MemTotal_bytes")
        available = value(families, "node_memory_MemAvailable_bytes")
        free = value(families, "node_memory_MemFree_bytes")
        cached = value(families, "node_memory_Cached_bytes")
        buffers = value(families, "node_memory_Buffers_bytes")
        assert 0 < free <= available <= total
        assert free + cached + buffers <= total
        sizes = sample_values(families["node_filesystem_size_bytes"])
        for (name, labels), size in sizes.items():
            key = dict(labels)
            avail = value(families, "node_filesystem_avail_bytes", **key)
            fs_free = value(families, "node_filesystem_free_bytes", **key)
            assert 0 <= avail <= fs_free <= size
            assert value(families, "node_filesystem_files_free", **key) <= value(families, "node_filesystem_files", **key)
        for load in ("node_load1", "node_load5", "node_load15"):
            assert 0 <= value(families, load) <= 2 * NODE_CPUS


def test_dcgm_values_are_plausible_for_an_a100(live: dict[str, TwoScrapes]) -> None:
    families = live["dcgm"].second
    gpus = {s.label("gpu") for s in families["DCGM_FI_DEV_GPU_UTIL"].samples}
    assert len(gpus) == 8
    for gpu in gpus:
        assert 0 <= value(families, "DCGM_FI_DEV_GPU_UTIL", gpu=gpu) <= 100
        assert 0 <= value(families, "DCGM_FI_DEV_MEM_COPY_UTIL", gpu=gpu) <= 100
        assert 0 < value(families, "DCGM_FI_DEV_POWER_USAGE", gpu=gpu) <= 400
        assert 20 <= value(families, "DCGM_FI_DEV_GPU_TEMP", gpu=gpu) <= 85
        for ratio in ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "DCGM_FI_PROF_DRAM_ACTIVE"):
            assert 0 <= value(families, ratio, gpu=gpu) <= 1
        framebuffer = sum(value(families, f"DCGM_FI_DEV_FB_{part}", gpu=gpu) for part in ("FREE", "USED", "RESERVED"))
        assert framebuffer == 81920
        assert value(families, "DCGM_FI_DEV_XID_ERRORS", gpu=gpu, err_code="0", err_msg="No Error") == 0
    sample = families["DCGM_FI_DEV_GPU_TEMP"].samples[0]
    assert sample.label("modelName") == "NVIDIA A100-SXM4-80GB"
    assert sample.label("device") == f"nvidia{sample.label('gpu')}"
    assert (sample.label("UUID") or "").startswith("GPU-")
    # Energy (mJ) accumulates at the power draw: between 8 idle and 8 busy GPUs.
    scrapes = live["dcgm"]
    energy = sum(sample_values(scrapes.second["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"]).values()) - sum(
        sample_values(scrapes.first["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"]).values())
    assert 8 * 50 * 1000 * 0.5 <= energy <= 8 * 400 * 1000 * (scrapes.elapsed + 0.5)


def test_vllm_and_cadvisor_ranges(live: dict[str, TwoScrapes]) -> None:
    vllm = live["vllm"].second
    assert 0 <= value(vllm, "vllm:kv_cache_usage_perc", engine="0") <= 1
    assert value(vllm, "vllm:num_requests_waiting", engine="0") >= 0
    count = value(vllm, "vllm:e2e_request_latency_seconds_count", engine="0")
    reasons = vllm["vllm:request_success_total"].samples
    succeeded = sum(s.value for s in reasons)
    # Every finished request is counted once; each reason's counter is floored on its own, so the
    # sum may trail the histogram's count by under one request per reason.
    assert count > 0 and abs(succeeded - count) <= len(reasons)
    cadvisor = live["cadvisor"].second
    for sample in cadvisor["container_spec_memory_limit_bytes"].samples:
        limit = sample.value
        if limit > 0:
            working = value(cadvisor, "container_memory_working_set_bytes", id=sample.label("id"))
            assert working <= limit
    assert all(s.timestamp_ms is not None for s in cadvisor["container_cpu_usage_seconds_total"].samples)


def render(simulator: Simulator, at: float) -> dict[str, Family]:
    return parse(simulator.render(at))


T0 = 1_790_000_000.0


def simulator(exporter: str, seed: int = 3, **options: int) -> Simulator:
    return SIMULATORS[exporter](HostOptions(seed=seed, started_at=T0, hostname=f"mock-host-{seed}", **options))


@pytest.mark.parametrize("exporter", MOCKED)
def test_output_is_a_function_of_seed_and_time(exporter: str) -> None:
    assert simulator(exporter).render(T0 + 500) == simulator(exporter).render(T0 + 500)
    assert simulator(exporter).render(T0 + 500) != simulator(exporter, seed=4).render(T0 + 500)
    assert simulator(exporter).render(T0 + 500) != simulator(exporter).render(T0 + 800)


def test_time_of_finds_when_a_counter_reached_a_value() -> None:
    counter = Counter(Wave(9, 0), 0.3, 4.0, T0, initial=100.0)
    times = [counter.time_of(target) for target in range(101, 20_000, 37)]
    assert times == sorted(times)
    for target, at in zip(range(101, 20_000, 37), times):
        assert abs(counter.value(at) - target) < 1e-5, target  # a few ulps of an epoch time, times the rate
    assert counter.time_of(50.0) == T0  # reached before the counter's start: its start


def test_histogram_tail_moves_only_with_tail_observations() -> None:
    """About a request a second with a p99.9 near 1 s: the count above 1 s only ever grows, by about
    the law's share of requests; a flickering tail would page on an idle night."""
    histogram = Histogram("x_seconds", (), (0.5, 1.0, 2.0), Wave(5, 0), (0.7, 0.9), (0.12, 0.7), T0)
    previous: list[int] | None = None
    tails = []
    for second in range(10_000):
        counts = histogram.counts(T0 + second)
        assert counts == sorted(counts), "buckets must be cumulative"
        if previous is not None:
            assert all(now >= before for now, before in zip(counts, previous)), "buckets must never decrease"
        tails.append(counts[-1] - counts[1])
        previous = counts
    assert tails == sorted(tails), "the tail above 1 s went down"
    requests = histogram.buckets[-1].value(T0 + 9_999) - histogram.buckets[-1].value(T0)
    expected = requests * (1 - lognormal_cdf(1.0, 0.12, 0.7))  # about 12 requests
    assert expected / 2 <= tails[-1] - tails[0] <= expected * 2


def test_clock_offset_serves_the_values_of_that_moment() -> None:
    """--clock-offset shifts the simulated clock: a scrape now serves what the simulator renders
    that many seconds later (here half a day, so the daily rhythm is at another phase)."""
    offset = 43_200.0
    now = time.time()
    options = HostOptions(seed=3, started_at=now + offset, hostname="h")
    server = HostServer(("127.0.0.1", 0), SIMULATORS["vllm"](options), clock_offset=offset)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        before = time.time()
        families = parse(http(f"http://127.0.0.1:{server.server_address[1]}/metrics").text)
        after = time.time()
    finally:
        server.shutdown()
        server.server_close()
    counter = server.simulator.counters["vllm:prompt_tokens_total"]
    served = value(families, "vllm:prompt_tokens_total")
    assert math.floor(counter.value(before + offset)) <= served <= math.floor(counter.value(after + offset))
    # Not the unshifted clock's value: half a day apart, the counter differs by far more than a scrape's worth.
    assert served > counter.value(after) + 1000


def test_two_processes_with_one_seed_serve_the_same_identities(live: dict[str, TwoScrapes], mock_factory) -> None:
    twin = mock_factory("--exporter", "dcgm", "--seed", "7")
    families = parse(twin.scrape().text)

    def identities(f: dict[str, Family]) -> set[tuple]:
        return {s.labels for s in f["DCGM_FI_DEV_GPU_TEMP"].samples}

    assert identities(families) == identities(live["dcgm"].second)


def test_hosts_serve_distinct_seeded_hosts_on_their_own_ports(mock_factory) -> None:
    mock = mock_factory("--exporter", "node", "--seed", "40", hosts=3)
    assert len(set(mock.addresses)) == 3
    nodenames = set()
    for host in range(3):
        families = parse(mock.scrape(host).text)
        nodenames.add(families["node_uname_info"].samples[0].label("nodename"))
    assert nodenames == {"mock-host-40", "mock-host-41", "mock-host-42"}


def test_consecutive_ports_from_the_listen_port(mock_factory) -> None:
    for _ in range(20):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base > 65000:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", base))
                b.bind(("127.0.0.1", base + 1))
        except OSError:
            continue
        break
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_exporter", "--exporter", "vllm", "--listen", f"127.0.0.1:{base}", "--hosts", "2"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(2)]  # type: ignore[union-attr]
        assert [line.split("address=")[1].strip() for line in lines] == [f"127.0.0.1:{base}", f"127.0.0.1:{base + 1}"]
        assert http(f"http://127.0.0.1:{base + 1}/metrics").status == 200
    finally:
        stop(process)


def test_a_node_scrape_renders_in_well_under_10_ms() -> None:
    node = simulator("node", cpus=8)
    timings = []
    for step in range(30):
        started = time.perf_counter()
        node.render(T0 + step)
        timings.append(time.perf_counter() - started)
    assert statistics.median(timings) < 0.010


# --- faults, in-process with an explicit clock ---------------------------------------------------

def rate(sim: Simulator, name: str, start: float, seconds: float, /, **labels: str) -> float:
    return (value(render(sim, start + seconds), name, **labels) - value(render(sim, start), name, **labels)) / seconds


def test_cpu_saturation_pins_every_cpu_busy_and_clears() -> None:
    node = simulator("node", cpus=4)
    t = T0 + 1000
    node.add_fault(t, "cpu_saturation", {})
    for cpu in "0123":
        assert rate(node, "node_cpu_seconds_total", t, 600, cpu=cpu, mode="idle") == pytest.approx(0.02, abs=0.001)
    assert value(render(node, t + 60), "node_load1") >= 4
    node.clear_faults(t + 600)
    assert rate(node, "node_cpu_seconds_total", t + 600, 600, cpu="0", mode="idle") > 0.1


def test_memory_pressure_exhausts_available_memory_and_kills() -> None:
    node = simulator("node")
    t = T0 + 1000
    oom_before = value(render(node, t), "node_vmstat_oom_kill")
    node.add_fault(t, "memory_pressure", {})
    families = render(node, t + 300)
    assert value(families, "node_memory_MemAvailable_bytes") < 0.05 * value(families, "node_memory_MemTotal_bytes")
    assert value(families, "node_vmstat_oom_kill") >= oom_before + 2
    node.clear_faults(t + 300)
    families = render(node, t + 310)
    assert value(families, "node_memory_MemAvailable_bytes") > 0.2 * value(families, "node_memory_MemTotal_bytes")
    assert value(families, "node_vmstat_oom_kill") >= oom_before + 2


def test_disk_fill_drains_the_mount_to_zero_then_clears() -> None:
    node = simulator("node")
    t = T0 + 1000
    before = value(render(node, t), "node_filesystem_avail_bytes", mountpoint="/")
    node.add_fault(t, "disk_fill", {"mountpoint": "/", "seconds_to_full": 600})
    halfway = value(render(node, t + 300), "node_filesystem_avail_bytes", mountpoint="/")
    assert halfway == pytest.approx(before / 2, rel=0.05)
    assert value(render(node, t + 700), "node_filesystem_avail_bytes", mountpoint="/") == 0
    assert value(render(node, t + 700), "node_filesystem_avail_bytes", mountpoint="/data") > 0
    node.clear_faults(t + 700)
    assert value(render(node, t + 700), "node_filesystem_avail_bytes", mountpoint="/") == pytest.approx(before, rel=0.05)
    with pytest.raises(FaultError):
        node.add_fault(t, "disk_fill", {"mountpoint": "/nowhere"})


def test_oom_puts_the_container_at_its_limit_and_counts_kills() -> None:
    cadvisor = simulator("cadvisor")
    t = T0 + 1000
    cadvisor.add_fault(t, "oom", {"container": "api"})
    families = render(cadvisor, t + 120)
    limit = value(families, "container_spec_memory_limit_bytes", name="api")
    assert value(families, "container_memory_working_set_bytes", name="api") > 0.99 * limit
    assert value(families, "container_oom_events_total", name="api") >= 3
    assert value(families, "container_oom_events_total", name="worker") == 0
    cadvisor.clear_faults(t + 120)
    families = render(cadvisor, t + 130)
    assert value(families, "container_memory_working_set_bytes", name="api") < 0.95 * limit
    assert value(families, "container_oom_events_total", name="api") >= 3


def test_restart_moves_start_time_and_resets_only_that_container() -> None:
    cadvisor = simulator("cadvisor")
    t = T0 + 5000
    before = render(cadvisor, t)
    cadvisor.add_fault(t, "restart", {"container": "redis"})
    after = render(cadvisor, t + 10)
    assert value(after, "container_start_time_seconds", name="redis") == t
    usage = "container_cpu_usage_seconds_total"
    assert value(after, usage, name="redis") < value(before, usage, name="redis")
    assert value(after, usage, name="postgres") >= value(before, usage, name="postgres")
    assert value(after, usage, id="/") >= value(before, usage, id="/")


def test_gpu_faults_change_their_gpu_only_and_clear() -> None:
    dcgm = simulator("dcgm")
    t = T0 + 1000
    dcgm.add_fault(t, "gpu_overheat", {"gpu": 1})
    families = render(dcgm, t + 30)
    assert value(families, "DCGM_FI_DEV_GPU_TEMP", gpu="1") == 93
    assert value(families, "DCGM_FI_DEV_GPU_TEMP", gpu="0") < 85
    assert value(families, "DCGM_FI_DEV_SM_CLOCK", gpu="1") < 0.7 * 1410
    assert value(families, "DCGM_FI_DEV_POWER_USAGE", gpu="1") <= 400
    healthy = render(dcgm, t)
    dcgm.add_fault(t, "xid_error", {"gpu": 2, "code": 48})
    families = render(dcgm, t + 30)
    assert value(families, "DCGM_FI_DEV_XID_ERRORS", gpu="2", err_code="48", err_msg="Double Bit ECC Error") == 48
    assert value(families, "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", gpu="2") > value(render(dcgm, t), "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", gpu="2")
    # An uncorrectable-ECC XID is one double-bit error, counted at once.
    assert value(families, "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", gpu="2") == value(healthy, "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", gpu="2") + 1
    dcgm.add_fault(t, "gpu_stuck", {"gpu": 3})
    families = render(dcgm, t + 30)
    assert value(families, "DCGM_FI_DEV_GPU_UTIL", gpu="3") == 100
    assert value(families, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", gpu="3") == 0
    assert value(families, "DCGM_FI_DEV_POWER_USAGE", gpu="3") < 0.25 * 400
    energy_rate = rate(dcgm, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", t + 30, 100, gpu="3") / 1000
    assert energy_rate == pytest.approx(value(families, "DCGM_FI_DEV_POWER_USAGE", gpu="3"), abs=2)
    dcgm.clear_faults(t + 60)
    families = render(dcgm, t + 90)
    assert value(families, "DCGM_FI_DEV_GPU_TEMP", gpu="1") < 85
    assert value(families, "DCGM_FI_DEV_XID_ERRORS", gpu="2", err_code="0", err_msg="No Error") == 0
    assert value(families, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", gpu="3") > 0


def test_vllm_faults_show_in_its_own_metrics_and_clear() -> None:
    vllm = simulator("vllm")
    t = T0 + 1000

    def abort_share(start: float, seconds: float) -> float:
        a, b = render(vllm, start), render(vllm, start + seconds)
        delta = {s.label("finished_reason"): value(b, s.name, finished_reason=s.label("finished_reason")) - s.value
                 for s in a["vllm:request_success_total"].samples}
        return delta["abort"] / sum(delta.values())

    vllm.add_fault(t, "error_rate", {"ratio": 0.4})
    assert abort_share(t, 3600) == pytest.approx(0.4, abs=0.02)
    vllm.clear_faults(t + 3600)
    assert abort_share(t + 3600, 3600) < 0.05

    def ttft_median(start: float) -> float:
        a, b = render(vllm, start), render(vllm, start + 3600)
        name = "vllm:time_to_first_token_seconds_bucket"
        buckets = sorted(
            (float(s.label("le")), value(b, name, le=s.label("le")) - s.value)  # type: ignore[arg-type]
            for s in a["vllm:time_to_first_token_seconds"].samples if s.name == name
        )
        total = buckets[-1][1]
        return next(bound for bound, count in buckets if count >= total / 2)

    normal = ttft_median(t + 7200)
    vllm.add_fault(t + 10800, "latency", {"factor": 10})
    assert ttft_median(t + 10800) >= 5 * normal
    vllm.clear_faults(t + 14400)
    vllm.add_fault(t + 14400, "queue_growth", {"per_second": 2})
    families = render(vllm, t + 14400 + 100)
    assert value(families, "vllm:num_requests_waiting", engine="0") >= 200
    assert value(families, "vllm:kv_cache_usage_perc", engine="0") > 0.95
    vllm.clear_faults(t + 14500)
    assert value(render(vllm, t + 14510), "vllm:num_requests_waiting", engine="0") < 5


def test_unknown_or_foreign_faults_are_refused() -> None:
    with pytest.raises(FaultError, match="no fault"):
        simulator("node").add_fault(T0, "gpu_overheat", {})
    with pytest.raises(FaultError, match="gpu"):
        simulator("dcgm").add_fault(T0, "xid_error", {"gpu": 99})
    with pytest.raises(FaultError, match="ratio"):
        simulator("vllm").add_fault(T0, "error_rate", {"ratio": 2})


# --- faults over HTTP ------------------------------------------------------------------------------

def post_fault(mock: MockProcess, payload: dict) -> tuple[int, dict]:
    reply = http(f"{mock.url}/-/fault", "POST", json.dumps(payload).encode())
    return reply.status, json.loads(reply.text)


def test_fault_endpoint_round_trip_and_live_effect(mock_factory) -> None:
    mock = mock_factory("--exporter", "node", "--seed", "9", "--cpus", "2")
    status, state = post_fault(mock, {"kind": "cpu_saturation", "busy": 1.0})
    assert status == 200 and set(state["active"]) == {"cpu_saturation"}
    assert "disk_fill" in state["available"] and "down" in state["available"]
    first = parse(mock.scrape().text)
    time.sleep(0.6)
    second = parse(mock.scrape().text)
    idle = [value(second, "node_cpu_seconds_total", cpu=c, mode="idle") - value(first, "node_cpu_seconds_total", cpu=c, mode="idle") for c in "01"]
    assert all(delta <= 0.011 for delta in idle)
    assert post_fault(mock, {"kind": "gpu_stuck"})[0] == 400
    assert post_fault(mock, {"kind": "disk_fill", "seconds_to_full": -1})[0] == 400
    assert http(f"{mock.url}/-/fault", "POST", b"not json").status == 400
    assert http(f"{mock.url}/-/fault?kind=memory_pressure", "DELETE").status == 404
    cleared = http(f"{mock.url}/-/fault", "DELETE")
    assert cleared.status == 200 and json.loads(cleared.text)["active"] == {}
    assert json.loads(http(f"{mock.url}/-/fault").text)["active"] == {}


@pytest.mark.parametrize("exporter", MOCKED)
def test_down_stops_serving_metrics_and_clearing_restores_it(mock_factory, exporter: str) -> None:
    mock = mock_factory("--exporter", exporter, "--fault", "down")
    assert mock.scrape().status == 503
    assert http(f"{mock.url}/-/healthy").status == 200
    assert http(f"{mock.url}/-/fault?kind=down", "DELETE").status == 200
    reply = mock.scrape()
    assert reply.status == 200 and check_exposition(CONTRACTS[exporter], reply.text) == []


def test_down_in_close_mode_drops_the_connection(mock_factory) -> None:
    mock = mock_factory("--exporter", "node")
    assert post_fault(mock, {"kind": "down", "mode": "close"})[0] == 200
    with pytest.raises(OSError):
        mock.scrape()
    http(f"{mock.url}/-/fault", "DELETE")
    assert mock.scrape().status == 200


def test_help_documents_every_fault() -> None:
    text = subprocess.run([sys.executable, "-m", "mock_exporter", "--help"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    kinds = set().union(*(cls.fault_kinds for cls in SIMULATORS.values())) | {"down"}
    missing = {kind for kind in kinds if kind not in text}
    assert len(kinds) == 12 and missing == set()


def test_cadvisor_stamps_the_wall_clock_whatever_its_clock_offset() -> None:
    """cAdvisor's samples carry explicit timestamps; under --clock-offset the values follow the
    shifted clock but the stamps stay the real time.

    Mutation caught: stamping the shifted clock — Prometheus drops every sample hours in the future,
    so the container panels and alerts of an offset run see nothing (and stay silently "healthy")."""
    offset = 6 * 3600.0
    options = HostOptions(seed=3, started_at=T0 + offset, hostname="mock-host-3", clock_offset=offset)
    text = SIMULATORS["cadvisor"](options).render(T0 + offset)
    stamps = {line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith("container_cpu_usage_seconds_total")}
    assert stamps == {str(int(T0 * 1000))}
