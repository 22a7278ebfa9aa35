"""SLA settings: named services with availability and latency objectives over a calendar month (UTC),
their maintenance windows, and the public status page.

An SLA objective is `good/total` like an SLO, but both queries must count events over `$window`
(`sum_over_time`, `count_over_time`, `increase`): counts add up over adjacent windows, which is how
the report computes a calendar month exactly and leaves maintenance windows out.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterator

from pydantic import AwareDatetime, Field, field_validator, model_validator

from settings.alerting import WINDOW_PLACEHOLDER, _promql_problem
from settings.errors import FieldProblem, cross_field
from settings.types import Duration, Name, Strict, duration_seconds

# Functions whose result is a count over the window: they add up across adjacent windows.
COUNTING_FUNCTIONS = ("sum_over_time", "count_over_time", "increase")


class SlaObjective(Strict):
    """The share of `good` among `total` events the SLA promises over the month."""

    objective: float = Field(gt=0.5, lt=1)
    good: str = Field(min_length=1)
    total: str = Field(min_length=1)

    @model_validator(mode="after")
    @cross_field
    def _counting_queries(self) -> Iterator[FieldProblem]:
        for field in ("good", "total"):
            query = getattr(self, field)
            if WINDOW_PLACEHOLDER not in query:
                yield FieldProblem(field, query, f"has no {WINDOW_PLACEHOLDER} where its range goes, e.g. increase(x[$window])")
            elif not any(f"{function}(" in query for function in COUNTING_FUNCTIONS):
                yield FieldProblem(field, query, f"does not count events over the window: use one of {', '.join(COUNTING_FUNCTIONS)}")
            elif problem := _promql_problem(query.replace(WINDOW_PLACEHOLDER, "5m")):
                yield FieldProblem(field, query, f"is not valid PromQL: {problem}")


class MaintenanceWindow(Strict):
    """Announced maintenance: left out of the month's availability and budget."""

    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(min_length=1, max_length=200)

    @field_validator("start", "end")
    @classmethod
    def _whole_seconds_utc(cls, value: datetime) -> datetime:
        if value.microsecond:
            raise ValueError("has a fraction of a second; give whole seconds")
        return value.astimezone(timezone.utc)

    @model_validator(mode="after")
    @cross_field
    def _ordered(self) -> Iterator[FieldProblem]:
        if self.end <= self.start:
            yield FieldProblem("end", self.end.isoformat(), f"is not after start {self.start.isoformat()}")


class SlaService(Strict):
    name: Name
    description: str = Field(min_length=1, max_length=300)
    # Shown on the public status page; internal SLAs are only reported.
    public: bool = True
    availability: SlaObjective
    latency: SlaObjective | None = None
    maintenance: tuple[MaintenanceWindow, ...] = ()

    @model_validator(mode="after")
    @cross_field
    def _windows_apart(self) -> Iterator[FieldProblem]:
        ordered = sorted(self.maintenance, key=lambda window: window.start)
        for before, after in zip(ordered, ordered[1:]):
            if after.start < before.end:
                yield FieldProblem("maintenance", after.start.isoformat(), f"overlaps the window that ends {before.end.isoformat()}")

    def objectives(self) -> dict[str, SlaObjective]:
        found = {"availability": self.availability}
        if self.latency is not None:
            found["latency"] = self.latency
        return found


class StatusPageSettings(Strict):
    # A Grafana public dashboard: no login, read-only, only its own panels' queries.
    enabled: bool = True
    # How far back the status page's availability reaches.
    history: Duration = "90d"


# The LLM API served by vLLM: up (scraped) 99.9 % of the month, 99 % of requests with a first token
# within 1 s (the llm-ttft SLO's bound). `le` is matched as 1 or 1.0 (Prometheus 3 normalises it).
DEFAULT_SLAS: tuple[SlaService, ...] = (
    SlaService(
        name="llm-api",
        description="The LLM API (vLLM) answers and gives a first token within 1 second.",
        availability=SlaObjective(
            objective=0.999,
            good='sum(sum_over_time(up{exporter="vllm"}[$window]))',
            total='sum(count_over_time(up{exporter="vllm"}[$window]))',
        ),
        latency=SlaObjective(
            objective=0.99,
            good='sum(increase(vllm:time_to_first_token_seconds_bucket{exporter="vllm",le=~"1|1.0"}[$window]))',
            total='sum(increase(vllm:time_to_first_token_seconds_count{exporter="vllm"}[$window]))',
        ),
    ),
)


class SlaSettings(Strict):
    services: tuple[SlaService, ...] = DEFAULT_SLAS
    # The status page's state: outage when availability over `state_window` is below
    # `outage_below`; degraded when any objective is missed over that window.
    state_window: Duration = "5m"
    outage_below: float = Field(default=0.5, gt=0, lt=1)
    # The burn that warns before the month's budget is gone: this window's error ratio, assumed
    # to last to the end of the month.
    burn_window: Duration = "6h"
    status_page: StatusPageSettings = StatusPageSettings()

    @model_validator(mode="after")
    @cross_field
    def _names_unique(self) -> Iterator[FieldProblem]:
        names = [service.name for service in self.services]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            yield FieldProblem("services", duplicates, "repeats an SLA name; names must be unique")
        if duration_seconds(self.state_window) >= duration_seconds(self.burn_window):
            yield FieldProblem("state_window", self.state_window, f"is not shorter than burn_window {self.burn_window}")
        for index, service in enumerate(self.services):
            if self.outage_below >= service.availability.objective:
                yield FieldProblem("outage_below", self.outage_below, f"is not below services[{index}].availability.objective {service.availability.objective:g}")
                break  # one line for the key: the first service it is not below

    def public_services(self) -> tuple[SlaService, ...]:
        return tuple(service for service in self.services if service.public)
