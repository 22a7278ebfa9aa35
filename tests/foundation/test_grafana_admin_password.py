"""Changing `grafana_admin_password` rotates Grafana's admin password instead of locking Pulumi out.

Grafana applies its configured admin password only when it creates its database. The rotation
resource is exercised against a fake Grafana on 127.0.0.1 that behaves as Grafana's User API does
(v11.6: `GET /api/user` answers 401 to wrong credentials; `PUT /api/user/password` checks
`oldPassword` and replaces the password), and whose database keeps its password across "restarts".
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from http.server import BaseHTTPRequestHandler

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.grafana_admin_password import GrafanaAdminPasswordProvider
from tests.conftest import STACKS
from tests.fake_http import send_json, serving

ADMIN_PASSWORD = "pulumi-python:dynamic/grafana:AdminPassword"
DATASOURCE = "grafana:oss/dataSource:DataSource"
CONTAINER = "docker:index/container:Container"


class FakeGrafana(BaseHTTPRequestHandler):
    """The admin user's password as Grafana's database holds it, and the two endpoints that use it."""

    password = "first-password"
    changes: list[str] = []

    def signed_in(self) -> bool:
        expected = base64.b64encode(f"admin:{self.password}".encode()).decode()
        return self.headers.get("Authorization") == f"Basic {expected}"

    def answer(self, code: int, body: dict) -> None:
        send_json(self, code, body)

    def do_GET(self):  # noqa: N802
        if self.path != "/api/user":
            return self.answer(404, {"message": "Not found"})
        if not self.signed_in():
            return self.answer(401, {"message": "Invalid username or password"})
        self.answer(200, {"id": 1, "login": "admin", "isGrafanaAdmin": True})

    def do_PUT(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/api/user/password":
            return self.answer(404, {"message": "Not found"})
        if not self.signed_in():
            return self.answer(401, {"message": "Invalid username or password"})
        if body.get("oldPassword") != type(self).password:
            return self.answer(401, {"message": "Invalid old password"})
        if len(body.get("newPassword", "")) < 4:
            return self.answer(400, {"message": "New password is too short"})
        type(self).password = body["newPassword"]
        type(self).changes.append(body["newPassword"])
        self.answer(200, {"message": "User password changed"})

    def log_message(self, *args):
        pass


@pytest.fixture
def grafana():
    FakeGrafana.password, FakeGrafana.changes = "first-password", []
    with serving(FakeGrafana) as url:
        yield url


def props(url: str, password: str) -> dict:
    return {"grafana_url": url, "user": "admin", "password": password, "deadline_seconds": 0.5}


def test_create_proves_the_password_and_names_the_way_out_when_grafana_holds_another(grafana):
    """Mutation caught: create accepting a password Grafana rejects (the provider would fail later)."""
    provider = GrafanaAdminPasswordProvider()
    assert provider.create(props(grafana, "first-password")).id == "admin-password"
    with pytest.raises(RuntimeError, match="reset-admin-password"):
        provider.create(props(grafana, "not-the-password"))


def test_a_changed_secret_is_rotated_in_grafana_with_the_previous_one(grafana):
    """Mutation caught: update only re-checking the new password (the bug: Grafana keeps the old one)."""
    provider = GrafanaAdminPasswordProvider()
    provider.update("admin-password", props(grafana, "first-password"), props(grafana, "second-password"))
    assert FakeGrafana.password == "second-password" and FakeGrafana.changes == ["second-password"]
    # Unchanged afterwards: nothing to rotate.
    provider.update("admin-password", props(grafana, "second-password"), props(grafana, "second-password"))
    assert FakeGrafana.changes == ["second-password"]


def test_a_grafana_that_already_holds_the_new_password_is_left_alone(grafana):
    """A fresh volume (or a rotation done by hand) already has the new password: no error, no change."""
    FakeGrafana.password = "second-password"
    provider = GrafanaAdminPasswordProvider()
    provider.update("admin-password", props(grafana, "first-password"), props(grafana, "second-password"))
    assert FakeGrafana.changes == []


def test_a_grafana_holding_neither_password_fails_with_the_way_out(grafana):
    FakeGrafana.password = "set-by-hand"
    with pytest.raises(RuntimeError, match="rejects the admin password.*reset-admin-password"):
        GrafanaAdminPasswordProvider().update(
            "admin-password", props(grafana, "first-password"), props(grafana, "second-password")
        )


def test_a_password_change_is_an_update_not_a_replacement():
    """Mutations caught: the password left out of the diff (no rotation would run), or a replacement
    (a create checks only the new password, which Grafana does not have yet)."""
    diff = GrafanaAdminPasswordProvider().diff("admin-password", props("u", "first"), props("u", "second"))
    assert diff.changes is True and not diff.replaces
    assert GrafanaAdminPasswordProvider().diff("admin-password", props("u", "same"), props("u", "same")).changes is False


def test_rotation_runs_where_the_project_is_not_importable(grafana, tmp_path):
    """Pulumi's dynamic-provider host has no project path: the provider must unpickle and run without it."""
    script = (
        "import base64, json, sys, dill\n"
        "provider = dill.loads(base64.b64decode(sys.argv[1]))\n"
        "provider.update('admin-password', json.loads(sys.argv[2]), json.loads(sys.argv[3]))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-I", "-c", script, serialize_provider(GrafanaAdminPasswordProvider()),
         json.dumps(props(grafana, "first-password")), json.dumps(props(grafana, "second-password"))],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert FakeGrafana.password == "second-password"


@pytest.mark.parametrize("stack", STACKS)
def test_the_rotation_runs_after_grafana_and_before_anything_authenticates(previews, stack):
    """Mutations caught: the rotation no longer waiting for Grafana, or the datasources (and so their
    health checks and the dashboards) no longer waiting for the rotation; the password not secret."""
    preview = previews[stack]
    rotation = preview.named(ADMIN_PASSWORD, "admin-password")
    assert rotation["inputs"]["password"] == "[secret]"
    grafana = preview.named(CONTAINER, "grafana") if preview.of_type(CONTAINER) else None
    if grafana is not None:
        assert grafana["urn"] in rotation["dependencies"]
    else:
        assert rotation["dependencies"], "the rotation waits for the Grafana workload"
    for datasource in preview.of_type(DATASOURCE):
        assert rotation["urn"] in datasource["dependencies"], datasource["name"]
