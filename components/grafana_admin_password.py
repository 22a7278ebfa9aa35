"""Grafana's admin password, kept equal to `monitoring:grafana_admin_password` across changes.

Grafana applies the configured admin password only when it creates its database (first start on an
empty volume); later starts keep whatever the database holds. Changing the secret therefore changes
what the Pulumi grafana provider and the datasource health checks send, but not what Grafana
accepts. This resource closes that gap: on a change it signs in with the previous password (kept in
its state, as a secret) and sets the new one through Grafana's API, before anything else uses it.

Grafana API (v11.6 docs, "User HTTP API" > "Change password"): `PUT /api/user/password` with
`{"oldPassword", "newPassword"}` changes the signed-in user's password; `GET /api/user` is the
signed-in user (401 when the credentials are wrong).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi.dynamic

from components.grafana_api import GrafanaApiProvider, pickled_by_value

# Grafana may still be migrating its database when its container first reports healthy.
DEADLINE_SECONDS = 120


@pickled_by_value
class GrafanaAdminPasswordProvider(GrafanaApiProvider):
    """Create: prove the password works. Update: rotate from the previous password to the new one."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        self.wait_signed_in(props, props["password"])
        return pulumi.dynamic.CreateResult(id_=f"{props['user']}-password", outs=dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = [key for key in ("grafana_url", "user", "password") if olds.get(key) != news.get(key)]
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        old, new = olds.get("password"), news["password"]
        if old != new and self.wait_signed_in(news, old, accept_rejection=True):
            status, body = self.grafana_call(
                news["grafana_url"],
                "/api/user/password",
                f"{news['user']}:{old}",
                method="PUT",
                body={"oldPassword": old, "newPassword": new},
                ca=news.get("ca") or None,
            )
            if status != 200:
                raise RuntimeError(f"Grafana refused to change the {news['user']} password: HTTP {status}: {body[:300]}")
        # Also when the old password was rejected: Grafana may already hold the new one (a fresh
        # volume, or a rotation done by hand); otherwise this fails with the way out.
        self.wait_signed_in(news, new)
        return pulumi.dynamic.UpdateResult(outs=dict(news))

    def wait_signed_in(self, props: dict[str, Any], password: str, accept_rejection: bool = False) -> bool:
        """True once Grafana accepts `password`; False (with accept_rejection) or an error if it answers 401."""
        import time

        deadline = time.monotonic() + float(props["deadline_seconds"])
        while True:
            status, body = self.grafana_call(
                props["grafana_url"], "/api/user", f"{props['user']}:{password}", ca=props.get("ca") or None
            )
            if status == 200:
                return True
            if status == 401:
                if accept_rejection:
                    return False
                raise RuntimeError(
                    f"Grafana at {props['grafana_url']} rejects the {props['user']} password from "
                    "monitoring:grafana_admin_password. Grafana applies that setting only when it creates its "
                    "database, so this volume holds another password: set the secret back to it, or reset it "
                    f"with `grafana cli admin reset-admin-password <new>` in the Grafana container."
                )
            if time.monotonic() >= deadline:
                raise RuntimeError(f"Grafana at {props['grafana_url']} did not answer /api/user: HTTP {status}: {body[:300]}")
            time.sleep(min(3.0, float(props["deadline_seconds"]) / 4))


class GrafanaAdminPassword(pulumi.dynamic.Resource, module="grafana", name="AdminPassword"):
    """The admin password Grafana accepts, rotated through its API when the secret changes."""

    def __init__(
        self,
        name: str,
        grafana_url: str,
        user: str,
        password: pulumi.Input[str],
        opts: pulumi.ResourceOptions,
        deadline_seconds: float = DEADLINE_SECONDS,
        ca: pulumi.Input[str] | None = None,
    ):
        super().__init__(
            GrafanaAdminPasswordProvider(),
            name,
            {
                "grafana_url": grafana_url,
                "user": user,
                # The previous value is read back from the state to sign in for a rotation.
                "password": pulumi.Output.secret(password),
                "deadline_seconds": deadline_seconds,
                # The stack's CA (PEM) when Grafana serves the stack's certificate; "" otherwise.
                "ca": ca or "",
            },
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["password"])),
        )
