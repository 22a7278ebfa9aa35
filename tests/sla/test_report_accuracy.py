"""The report command against a real Prometheus (Debian's 2.42) holding generated history with
known outages, slow periods, a maintenance window and an outage across the month's start: its
achievement matches the truth counted here from the same samples to within 0.01 percentage points
(seed 002: 99.9 % accuracy), and its incidents are the outages, to the second."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from dashboards import status_page
from sla.__main__ import stack_settings
from sla.prometheus import Prometheus
from tests.e2e.procs import PROMETHEUS_BINARY, ROOT, Processes, free_port, http_ok, wait_until

pytestmark = pytest.mark.e2e

UTC = timezone.utc
PERIOD = "2026-10"
MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
MONTH_END = datetime(2026, 11, 1, tzinfo=UTC)
# History from two days before the month to two hours after it: what lies outside must not count.
HISTORY = (MONTH_START - timedelta(days=2), MONTH_END + timedelta(hours=2))
# Scrapes every minute at :15, so no sample sits on a span boundary (whole minutes).
SCRAPE_OFFSET = 15
EVALUATION_SECONDS = 30
REQUESTS_PER_MINUTE = 120
TOLERANCE_PP = 0.01


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


# The truth: when the service was down (no answer), and when its first tokens were slow.
OUTAGES = (
    Window(at("2026-09-30T23:00:00"), at("2026-10-01T00:40:00")),  # across the month's start
    Window(at("2026-10-07T13:05:00"), at("2026-10-07T13:52:00")),
    Window(at("2026-10-12T03:10:00"), at("2026-10-12T03:50:00")),  # inside the maintenance window
    Window(at("2026-10-21T22:30:00"), at("2026-10-21T23:03:00")),
    Window(at("2026-10-31T23:50:00"), at("2026-11-01T01:00:00")),  # across the month's end
)
SLOW = (
    Window(at("2026-10-03T09:00:00"), at("2026-10-03T15:00:00")),
    Window(at("2026-10-18T00:00:00"), at("2026-10-18T10:30:00")),
)
SLOW_GOOD_SHARE = 0.4  # of the requests while slow, the share still under a second
MAINTENANCE = Window(at("2026-10-12T03:00:00"), at("2026-10-12T05:00:00"))
LABELS = 'env="test",exporter="vllm",source="real",job="vllm",instance="llm-1:8000",model_name="m"'


def minutes() -> list[datetime]:
    first = HISTORY[0] + timedelta(seconds=SCRAPE_OFFSET)
    count = int((HISTORY[1] - HISTORY[0]).total_seconds() // 60)
    return [first + timedelta(minutes=i) for i in range(count)]


def down(moment: datetime) -> bool:
    return any(w.holds(moment) for w in OUTAGES)


def slow(moment: datetime) -> bool:
    return any(w.holds(moment) for w in SLOW)


def openmetrics() -> str:
    """The history as Prometheus would have stored it: `up` every scrape, the TTFT counters only
    while the server answered, and the ALERTS series of the outage alert every evaluation."""
    lines = ["# TYPE up gauge"]
    lines += [f"up{{{LABELS}}} {0 if down(t) else 1} {t.timestamp():.0f}" for t in minutes()]
    good = total = 0.0
    buckets, counts = [], []
    for t in minutes():
        if down(t):
            continue
        total += REQUESTS_PER_MINUTE
        good += REQUESTS_PER_MINUTE * (SLOW_GOOD_SHARE if slow(t) else 1.0)
        buckets.append(f'vllm:time_to_first_token_seconds_bucket{{{LABELS},le="1.0"}} {good} {t.timestamp():.0f}')
        counts.append(f"vllm:time_to_first_token_seconds_count{{{LABELS}}} {total} {t.timestamp():.0f}")
    lines += ["# TYPE vllm:time_to_first_token_seconds histogram", *buckets, *counts]
    lines.append("# TYPE ALERTS gauge")
    for state in ("pending", "firing"):
        alert = f'ALERTS{{alertname="SlaServiceOutage",alertstate="{state}",component="sla",severity="critical",sla="llm-api"}}'
        for outage in OUTAGES:
            if outage is OUTAGES[2]:
                continue  # in maintenance the outage alert is silenced by its own expression
            moment = outage.start
            while moment < outage.end:
                # Pending for the alert's first minute (its `for`), firing after.
                if (state == "pending") == (moment - outage.start < timedelta(minutes=1)):
                    lines.append(f"{alert} 1 {moment.timestamp():.0f}")
                moment += timedelta(seconds=EVALUATION_SECONDS)
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def counted(moment: datetime) -> bool:
    return MONTH_START <= moment < MONTH_END and not MAINTENANCE.holds(moment)


def true_availability() -> float:
    samples = [t for t in minutes() if counted(t)]
    return sum(0 if down(t) else 1 for t in samples) / len(samples)


def true_latency() -> float:
    served = [t for t in minutes() if counted(t) and not down(t)]
    return sum(SLOW_GOOD_SHARE if slow(t) else 1.0 for t in served) / len(served)


def stack_config(path: Path, prometheus_port: int) -> Path:
    maintenance = {"start": MAINTENANCE.start.isoformat(), "end": MAINTENANCE.end.isoformat(), "reason": "database upgrade"}
    document = {
        "config": {
            "monitoring:prometheus": {"port": prometheus_port, "evaluation_interval": f"{EVALUATION_SECONDS}s"},
            "monitoring:sla": {"services": [{
                "name": "llm-api",
                "description": "The LLM API.",
                "availability": {"objective": 0.999, "good": 'sum(sum_over_time(up{exporter="vllm"}[$window]))',
                                 "total": 'sum(count_over_time(up{exporter="vllm"}[$window]))'},
                "latency": {"objective": 0.99,
                            "good": 'sum(increase(vllm:time_to_first_token_seconds_bucket{exporter="vllm",le=~"1|1.0"}[$window]))',
                            "total": 'sum(increase(vllm:time_to_first_token_seconds_count{exporter="vllm"}[$window]))'},
                "maintenance": [maintenance],
            }]},
        }
    }
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A real Prometheus over the generated history; yields its port."""
    workdir = tmp_path_factory.mktemp("sla-history")
    source = workdir / "history.om"
    source.write_text(openmetrics())
    data = workdir / "data"
    # A few large blocks instead of one per 2 hours (~400, over a minute to write); the flag is
    # hidden from 2.42's help but supported.
    created = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", "--max-block-duration=1000h",
                              str(source), str(data)],
                             capture_output=True, text=True, timeout=300)
    assert created.returncode == 0, created.stderr
    config = workdir / "prometheus.yml"
    config.write_text("global: {}\n")
    port = free_port()
    with Processes() as processes:
        processes.start(
            [PROMETHEUS_BINARY, f"--config.file={config}", f"--storage.tsdb.path={data}", "--storage.tsdb.retention.time=3650d",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            workdir / "prometheus.log",
        )
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/-/ready"), 120, "Prometheus ready over the history")
        yield port, workdir


def run_report(port: int, workdir: Path, form: str, *extra: str) -> subprocess.CompletedProcess:
    config = stack_config(workdir / "Pulumi.test.yaml", port)
    return subprocess.run(
        [sys.executable, "-m", "sla", "report", "--stack", "test", "--period", PERIOD, "--format", form,
         "--config-file", str(config), "--now", "2026-11-26T12:00:00Z", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def test_achievement_matches_the_truth_within_a_hundredth_of_a_point(history):
    port, workdir = history
    result = run_report(port, workdir, "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["complete"] and report["from"] == "2026-10-01T00:00:00Z" and report["to"] == "2026-11-01T00:00:00Z"
    (service,) = report["services"]
    assert service["excluded_seconds"] == 2 * 3600
    achieved = {o["objective"]: o for o in service["objectives"]}
    truth = {"availability": true_availability(), "latency": true_latency()}
    # The history is chosen so both objectives are missed: a report that ignored the outages fails.
    assert truth["availability"] < 0.999 and truth["latency"] < 0.99
    for name, value in truth.items():
        got = achieved[name]["achieved"]
        assert abs(100 * got - 100 * value) < TOLERANCE_PP, (name, got, value)
        target = achieved[name]["target"]
        assert abs(achieved[name]["budget_used"] - (1 - value) / (1 - target)) < 0.01, name
        assert achieved[name]["met"] is False


def test_incidents_are_the_outages_of_the_month(history):
    port, workdir = history
    report = json.loads(run_report(port, workdir, "json").stdout)
    got = [(i["kind"], i["start"], i["end"], i["duration_seconds"]) for i in report["services"][0]["incidents"]]
    # The first outage began in September: the month's part of it starts at its first evaluation in
    # October. The last ends after the month: cut at the month's end. The one in maintenance never fired.
    first_in_month = MONTH_START
    expected = [
        ("outage", first_in_month, OUTAGES[0].end),
        ("outage", OUTAGES[1].start, OUTAGES[1].end),
        ("outage", OUTAGES[3].start, OUTAGES[3].end),
        ("outage", OUTAGES[4].start, MONTH_END),
    ]
    def stamp(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert got == [(kind, stamp(start), stamp(end), int((end - start).total_seconds())) for kind, start, end in expected]


def test_markdown_and_csv_carry_the_same_figures(history):
    port, workdir = history
    report = json.loads(run_report(port, workdir, "json").stdout)
    availability = next(o for o in report["services"][0]["objectives"] if o["objective"] == "availability")
    markdown = run_report(port, workdir, "md").stdout
    assert f"{100 * availability['achieved']:.4f} %" in markdown and "| outage | 2026-10-07T13:05:00Z |" in markdown
    csv_text = run_report(port, workdir, "csv").stdout
    assert f"objective,llm-api,availability,0.999,{availability['achieved']:.8f}," in csv_text
    assert csv_text.count("\nincident,llm-api,,,,,,outage,") == 4
    output = workdir / "report.md"
    assert run_report(port, workdir, "md", "--output", str(output)).returncode == 0 and output.read_text() == markdown


# --- The status page's history panels over the same history -------------------------------------


def day_truth(day_end: datetime) -> float:
    samples = [t for t in minutes() if day_end - timedelta(days=1) < t <= day_end]
    return sum(0 if down(t) else 1 for t in samples) / len(samples)


def test_status_page_history_panels_read_the_truth(history):
    """The page's per-day and 90-day availability queries, as Grafana runs them (the per-day one
    at its 1-day step), give each day's and the 90 days' true availability (maintenance included:
    the page shows what customers saw)."""
    port, workdir = history
    settings = stack_settings("test", stack_config(workdir / "Pulumi.test.yaml", port))
    panels = {panel["title"]: panel for panel in status_page.build(settings)["panels"]}
    (daily,) = panels["Availability per day"]["targets"]
    assert daily["interval"] == "1d"
    prometheus = Prometheus(f"http://127.0.0.1:{port}")
    for offset in range(1, 32):
        day_end = MONTH_START + timedelta(days=offset)
        assert abs(prometheus.scalar(daily["expr"], day_end) - day_truth(day_end)) < 1e-9, day_end
    (overall,) = panels["Availability, last 90d"]["targets"]
    # 90 days back from the month's end reach before the history: the whole history up to then.
    expected = [0 if down(t) else 1 for t in minutes() if t <= MONTH_END]
    assert abs(prometheus.scalar(overall["expr"], MONTH_END) - sum(expected) / len(expected)) < 1e-9
