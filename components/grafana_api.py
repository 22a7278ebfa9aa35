"""The one HTTP client of the dynamic providers that talk to Grafana's API during `pulumi up`.

Dynamic providers run in Pulumi's dynamic-provider host, which does not have this project on its
path: each provider class is pickled *by value* (`pickled_by_value`) and imports only the stdlib,
inside its methods.
"""

from __future__ import annotations

from typing import Any

import pulumi.dynamic


def pickled_by_value(cls: type) -> type:
    """Mark a provider class and its own functions as `__main__`, so dill embeds them instead of
    recording an import of a module the provider host cannot find."""
    cls.__module__ = "__main__"
    for value in vars(cls).values():
        if callable(value) and hasattr(value, "__module__"):
            value.__module__ = "__main__"
    return cls


@pickled_by_value
class GrafanaApiProvider(pulumi.dynamic.ResourceProvider):
    """Base of the providers that call Grafana's HTTP API with basic authentication."""

    def grafana_call(
        self, base_url: str, path: str, auth: str, method: str = "GET", body: Any = None, ca: str | None = None
    ) -> tuple[int, str]:
        """(HTTP status, body) of one request; 0 and the error when Grafana does not answer. `ca` (PEM)
        is the stack's CA when Grafana serves the stack's own certificate (security.tls)."""
        import base64
        import json
        import ssl
        import urllib.error
        import urllib.request

        token = base64.b64encode(auth.encode()).decode()
        headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(base_url.rstrip("/") + path, data=data, headers=headers, method=method)
        try:
            context = ssl.create_default_context(cadata=ca) if ca else None
            with urllib.request.urlopen(request, timeout=10, context=context) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")
        except OSError as error:
            return 0, str(error)
