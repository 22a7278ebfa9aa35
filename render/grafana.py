"""grafana.ini: login required, no anonymous access or sign-up, bounded sessions, no phoning home.

The admin password is never written here: Grafana expands `$__file{...}` from the secret file the
platform mounts, so the rendered document carries only the path.
"""

from __future__ import annotations

from typing import Any

from profiles.alloy import GRAFANA_PPROF_PORT
from render.grafana_auth import render_grafana_security
from settings.model import StackSettings

SECRETS_DIR = "/run/secrets"


def render_grafana_ini(settings: StackSettings, port: int) -> dict[str, dict[str, Any]]:
    grafana = settings.grafana
    root_url = settings.grafana_url + "/"
    document: dict[str, dict[str, Any]] = {
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
        # The status page is a public dashboard (settings sla.status_page); off, Grafana serves none.
        "public_dashboards": {"enabled": settings.sla.status_page.enabled},
        "metrics": {"enabled": True},
        "log": {"mode": "console", "level": "info"},
        "paths": {"data": "/var/lib/grafana", "provisioning": "/etc/grafana/provisioning"},
    }
    # HTTPS, /metrics behind the client user, and single sign-on (security.*; render/grafana_auth.py).
    for section, keys in render_grafana_security(settings).items():
        document[section] = {**document.get(section, {}), **keys}
    return document


def grafana_profiling_env(settings: StackSettings) -> dict[str, str]:
    """Grafana's pprof endpoints, for the collector to profile it like the stack's other Go services.

    Environment, not grafana.ini: Grafana 11.6 reads profiling only from GF_DIAGNOSTICS_PROFILING_*
    (pkg/cmd/grafana-server/commands/diagnostics.go, os.Getenv) or its -profile flags; its
    defaults.ini has no [diagnostics.profiling] section, and an ini section of that name is ignored.
    """
    if not (settings.runs_profiles and settings.profiles.stack):
        return {}
    return {
        "GF_DIAGNOSTICS_PROFILING_ENABLED": "true",
        "GF_DIAGNOSTICS_PROFILING_ADDR": "0.0.0.0",
        "GF_DIAGNOSTICS_PROFILING_PORT": str(GRAFANA_PPROF_PORT),
    }
