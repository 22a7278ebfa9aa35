"""grafana.ini: login required, no anonymous access or sign-up, bounded sessions, no phoning home.

The admin password is never written here: Grafana expands `$__file{...}` from the secret file the
platform mounts, so the rendered document carries only the path.
"""

from __future__ import annotations

from typing import Any

from settings.model import StackSettings

SECRETS_DIR = "/run/secrets"


def render_grafana_ini(settings: StackSettings, port: int) -> dict[str, dict[str, Any]]:
    grafana = settings.grafana
    root_url = settings.grafana_url + "/"
    return {
        "server": {"http_port": port, "root_url": root_url, "enable_gzip": True},
        "security": {
            "admin_user": grafana.admin_user,
            "admin_password": f"$__file{{{SECRETS_DIR}/grafana_admin_password}}",
            "disable_gravatar": True,
            "cookie_secure": root_url.startswith("https://"),
            "cookie_samesite": "lax",
            "allow_embedding": False,
            "content_security_policy": True,
        },
        "users": {"allow_sign_up": False, "allow_org_create": False, "auto_assign_org_role": "Viewer"},
        "auth": {
            "disable_login_form": False,
            "login_maximum_inactive_lifetime_duration": grafana.session_inactive,
            "login_maximum_lifetime_duration": grafana.session_max_lifetime,
        },
        "auth.anonymous": {"enabled": False},
        "auth.basic": {"enabled": True},
        "analytics": {
            "reporting_enabled": False,
            "check_for_updates": False,
            "check_for_plugin_updates": False,
            "feedback_links_enabled": False,
        },
        "snapshots": {"external_enabled": False},
        "metrics": {"enabled": True},
        "log": {"mode": "console", "level": "info"},
        "paths": {"data": "/var/lib/grafana", "provisioning": "/etc/grafana/provisioning"},
    }
