"""A small stand-in for the Kubernetes API server on 127.0.0.1: GET and PUT of ConfigMaps under
`/api/v1/namespaces/<ns>/configmaps/<name>`, shaped as the API defines them (a `v1` ConfigMap with
`metadata.resourceVersion`; a PUT whose resourceVersion is not the current one answers 409 with a
`Status` of reason `Conflict`; an unknown object 404 `NotFound`; a missing or wrong bearer token 401).
It also enforces what the API's Role grants - get, update and patch on the named ConfigMaps only -
answering 403 `Forbidden` otherwise, and can inject conflicts (another writer getting there first).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.fake_http import send_json, serving

PATH = re.compile(r"^/api/v1/namespaces/([a-z0-9-]+)/configmaps/([a-z0-9.-]+)$")


def status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


@dataclass
class FakeKubernetes:
    token: str
    # (namespace, name) -> the ConfigMap object.
    objects: dict[tuple[str, str], dict] = field(default_factory=dict)
    # What the Role grants: (namespace, name) the verbs apply to.
    granted: set[tuple[str, str]] = field(default_factory=set)
    # Conflicts to answer before letting a PUT through (as if another writer had just written).
    conflicts_to_inject: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)
    _version: int = 100
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, namespace: str, name: str, data: dict[str, str] | None = None) -> None:
        self._version += 1
        self.objects[(namespace, name)] = {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": str(self._version),
                         "uid": "3f1c2d4e-0000-4000-8000-000000000001", "labels": {"app.kubernetes.io/name": "monitoring-api"}},
            "data": dict(data or {}),
        }
        self.granted.add((namespace, name))

    def data(self, namespace: str, name: str) -> dict[str, str]:
        return dict(self.objects[(namespace, name)].get("data") or {})

    def handle(self, method: str, path: str, headers, body: bytes) -> tuple[int, dict]:
        with self._lock:
            self.requests.append((method, path))
            if headers.get("Authorization") != f"Bearer {self.token}":
                return 401, status(401, "Unauthorized", "Unauthorized")
            found = PATH.match(path)
            if not found or method not in ("GET", "PUT"):
                return 403, status(403, "Forbidden", f"{method} {path} is forbidden")
            key = (found.group(1), found.group(2))
            if key not in self.granted:
                return 403, status(403, "Forbidden", f'configmaps "{key[1]}" is forbidden: not in resourceNames')
            current = self.objects.get(key)
            if current is None:
                return 404, status(404, "NotFound", f'configmaps "{key[1]}" not found')
            if method == "GET":
                return 200, json.loads(json.dumps(current))
            sent = json.loads(body)
            if sent.get("kind") != "ConfigMap" or sent.get("apiVersion") != "v1":
                return 400, status(400, "BadRequest", "not a v1 ConfigMap")
            if sent["metadata"].get("name") != key[1] or sent["metadata"].get("namespace", key[0]) != key[0]:
                return 400, status(400, "BadRequest", "the name in the body does not match the URL")
            if self.conflicts_to_inject > 0:
                # Another writer's change lands first: the version moves on, this PUT is stale.
                self.conflicts_to_inject -= 1
                self._version += 1
                current["metadata"]["resourceVersion"] = str(self._version)
                current.setdefault("data", {})["user-OtherWriter.yml"] = "groups: []\n"
            if sent["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
                return 409, status(409, "Conflict", f'Operation cannot be fulfilled on configmaps "{key[1]}": '
                                   "the object has been modified; please apply your changes to the latest version and try again")
            self._version += 1
            stored = {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {**current["metadata"], "resourceVersion": str(self._version)},
                      "data": dict(sent.get("data") or {})}
            self.objects[key] = stored
            return 200, json.loads(json.dumps(stored))


class _Handler(BaseHTTPRequestHandler):
    fake: FakeKubernetes

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        send_json(self, *self.fake.handle(self.command, self.path, self.headers, body))

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, *args) -> None:
        pass


class FakeKubernetesServer:
    """The fake on a free port of 127.0.0.1 (`url` once entered), stopped on exit."""

    def __init__(self, fake: FakeKubernetes):
        self._serving = serving(type("Handler", (_Handler,), {"fake": fake}))
        self.url = ""

    def __enter__(self) -> "FakeKubernetesServer":
        self.url = self._serving.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._serving.__exit__(*exc)
