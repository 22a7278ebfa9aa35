"""Generated malformed request bodies for the API's write endpoints (user alert rules, dashboards,
log search), through its own app with fake upstreams: each is refused in the one error shape with a
4xx naming the field at fault (or, for a body that is not JSON, its line and column); never a 500,
and a refused rule writes no file.

Derandomized (fixed seed per test, `print_blob` on failure) so a failure replays as is.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.properties.support import replayable

api_fake = pytest.importorskip("tests.api.fake")

GOOD_RULE = {"name": "CheckoutErrorsHigh", "expr": "sum(rate(http_requests_total[5m])) > 1", "for": "10m",
             "labels": {"severity": "warning"}, "annotations": {"summary": "{{ $value }} errors"}}
GOOD_DASHBOARD = {"title": "Checkout", "panels": [{"type": "timeseries"}], "tags": ["team"]}
ENDPOINTS = {"/monitoring/alerts/rules": GOOD_RULE, "/monitoring/dashboards": GOOD_DASHBOARD}
# Values of a type no field of these bodies takes everywhere, so the field must be named.
WRONG = st.sampled_from([None, 7, 1.5, True, [1, "x"], {"nested": []}])


@st.composite
def malformed(draw):
    """(endpoint, body, the field the error must name)."""
    endpoint = draw(st.sampled_from(sorted(ENDPOINTS)))
    good = ENDPOINTS[endpoint]
    kind = draw(st.sampled_from(["wrong type", "unknown field", "missing"]))
    if kind == "unknown field":
        field = draw(st.from_regex(r"[a-z_]{1,10}", fullmatch=True).filter(lambda name: name not in good))
        return endpoint, {**good, field: draw(WRONG)}, field
    field = draw(st.sampled_from(sorted(good)))
    if kind == "missing":
        if field not in ("name", "expr", "title"):
            field = "expr" if endpoint.endswith("rules") else "title"
        return endpoint, {key: value for key, value in good.items() if key != field}, field
    value = draw(WRONG.filter(lambda v: not (isinstance(v, (list, dict)) and field in ("labels", "annotations", "panels", "tags") and not v)))
    if field in ("labels", "annotations") and isinstance(value, dict):
        value = {"key": [1]}  # a mapping, but of a value that is not text
    if field in ("panels", "tags") and isinstance(value, list):
        value = [{"x": 1}, None] if field == "tags" else [1]
    return endpoint, {**good, field: value}, field


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    return api_fake.api_client(api_fake.FakeUpstreams(), tmp_path_factory.mktemp("rules"))


@replayable(300)
@given(case=malformed())
def test_a_malformed_body_is_refused_naming_its_field(client, case):
    endpoint, body, field = case
    response = client.post(endpoint, headers=api_fake.AUTH_WRITE, json=body)
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert error["status"] == response.status_code and error["code"]
    assert re.search(rf"(^|[ .]){re.escape(field)}[.:]", error["message"]), (body, error)


@replayable(200)
@given(endpoint=st.sampled_from(sorted(ENDPOINTS)), cut=st.integers(1, 10_000), junk=st.sampled_from(["", "}", "x", ",,", "'"]))
def test_a_body_that_is_not_json_names_its_line_and_column(client, endpoint, cut, junk):
    text = json.dumps(ENDPOINTS[endpoint], indent=1)
    broken = text[: cut % (len(text) - 1) + 1] + junk  # never empty: an empty body is a missing one
    try:
        json.loads(broken)
        return  # still JSON (e.g. cut after the whole object)
    except ValueError as exc:
        expected = f"line {exc.lineno} column {exc.colno}"
    response = client.post(endpoint, headers={**api_fake.AUTH_WRITE, "content-type": "application/json"}, content=broken)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith(f"body: {expected}: "), response.text


def test_a_refused_rule_writes_nothing(tmp_path):
    client = api_fake.api_client(api_fake.FakeUpstreams(), tmp_path)
    response = client.post("/monitoring/alerts/rules", headers=api_fake.AUTH_WRITE, json={**GOOD_RULE, "for": 5})
    assert response.status_code == 422 and list(tmp_path.iterdir()) == []
