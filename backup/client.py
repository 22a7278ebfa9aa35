"""The job's one HTTP client: timeouts, optional TLS verification against a CA file, optional
basic auth whose password is read from a file (so a rotated secret is picked up at the next run)."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from backup.plan import BackupError, Endpoint

TIMEOUT_S = 60


def request(endpoint: Endpoint, path: str, method: str = "GET", body: Any = None, raw: bytes | None = None,
            content_type: str = "application/json") -> Any:
    url = endpoint.url.rstrip("/") + path
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"Content-Type": content_type} if data is not None else {}
    if endpoint.username:
        password = Path(endpoint.password_file).read_text().strip() if endpoint.password_file else ""
        token = base64.b64encode(f"{endpoint.username}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    context = ssl.create_default_context(cafile=endpoint.ca_file) if url.startswith("https://") else None
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, method=method, headers=headers), timeout=TIMEOUT_S, context=context
        ) as response:
            payload = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace").strip()[:300]
        raise BackupError(f"{method} {url} answered {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise BackupError(f"{method} {url} failed: {getattr(exc, 'reason', exc)}") from None
    if content_type != "application/json" or not payload:
        return payload
    return json.loads(payload)
