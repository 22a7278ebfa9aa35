"""The public status page as the program declares it: a Grafana public dashboard that shows each
public SLA service's state and availability and nothing else, shared without time picker or
annotations, on a Grafana that still requires a login for everything else."""

from __future__ import annotations

import json

import pytest

from dashboards import status_page
from render.grafana import render_grafana_ini
from rules.sla import STATE, fill
from settings import parse_settings
from settings.sla import DEFAULT_SLAS
from tests.conftest import STACKS, stack_settings
from tests.dashboards.queries import metric_names

PUBLIC = "grafana:oss/dashboardPublic:DashboardPublic"
DASHBOARD = "grafana:oss/dashboard:Dashboard"
INTERNAL = {
    "name": "batch-exports", "description": "Internal batch exports.", "public": False,
    "availability": {"objective": 0.99, "good": 'sum(sum_over_time(up{job="exports-secret"}[$window]))',
                     "total": 'sum(count_over_time(up{job="exports-secret"}[$window]))'},
}


def with_internal_service():
    default = DEFAULT_SLAS[0].model_dump(mode="json", exclude_defaults=True)
    return parse_settings({"sla": {"services": [{**default, "name": "llm-api"}, INTERNAL]}}, "test")


def test_the_page_shows_state_and_availability_of_public_services_only():
    settings = with_internal_service()
    model = status_page.build(settings)
    text = json.dumps(model)
    # Nothing of the internal service, whose very name is not public.
    assert "batch-exports" not in text and "exports-secret" not in text
    panels = {panel["title"]: panel for panel in model["panels"]}
    assert set(panels) == {"Current state", "Availability, last 90d", "Availability per day"}
    availability = DEFAULT_SLAS[0].availability
    public_reads = metric_names(fill(availability.good, "5m")) | metric_names(fill(availability.total, "5m"))
    for panel in model["panels"]:
        for target in panel["targets"]:
            assert target["legendFormat"] == "llm-api"
            assert metric_names(target["expr"]) <= {STATE} | public_reads, (panel["title"], target["expr"])
    (state,) = panels["Current state"]["targets"]
    assert state["expr"] == f'max({STATE}{{sla="llm-api"}})' and state["instant"]
    mapped = panels["Current state"]["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert {value: m["text"] for value, m in mapped.items()} == {"0": "Operational", "1": "Degraded", "2": "Outage"}


def test_the_page_offers_no_way_into_the_stack():
    model = status_page.build(stack_settings("staging"))
    # Public dashboards run only the panels' stored queries: no variables to inject into, no links
    # to the stack's dashboards, no annotations (not even Grafana's built-in ones), read-only.
    assert not model["templating"].get("list")
    assert not model.get("links")
    assert model["annotations"] == {"list": []}
    assert model["editable"] is False
    assert model["time"] == {"from": "now-90d", "to": "now"}
    for panel in model["panels"]:
        assert not panel.get("links") and "$" not in json.dumps(panel["targets"]), panel["title"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_page_is_shared_publicly_and_nothing_else(previews, stack):
    preview = previews[stack]
    (public,) = preview.of_type(PUBLIC)
    (dashboard,) = [d for d in preview.of_type(DASHBOARD) if d["name"] == status_page.UID]
    assert preview.by_urn(public["parent"])["type"] == "monitoring:grafana:StatusPage"
    assert json.loads(dashboard["inputs"]["configJson"]) == status_page.build(stack_settings(stack))
    assert public["inputs"]["dashboardUid"] == status_page.UID
    inputs = public["inputs"]
    assert inputs["isEnabled"] is True and inputs["share"] == "public"
    assert inputs["timeSelectionEnabled"] is False and inputs["annotationsEnabled"] is False
    assert dashboard["urn"] in public["dependencies"]
    # Only this dashboard is public: every other Grafana page and API still needs a login.
    ini = render_grafana_ini(stack_settings(stack), 3000)
    assert ini["auth.anonymous"] == {"enabled": False} and ini["public_dashboards"] == {"enabled": True}


def test_a_stack_without_a_status_page_shares_nothing():
    settings = parse_settings({"sla": {"status_page": {"enabled": False}}}, "test")
    assert render_grafana_ini(settings, 3000)["public_dashboards"] == {"enabled": False}
