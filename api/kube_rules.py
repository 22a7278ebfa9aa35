"""The user rules on a cluster: one ConfigMap (`monitoring-user-rules`), one key a rule
(`user-<id>.yml`), written through the Kubernetes API with the pod's ServiceAccount.

Least privilege: the API's Role allows get, update and patch on that one ConfigMap (resourceNames),
nothing else - it cannot create, list or delete ConfigMaps; the program creates this one empty and
never overwrites its data afterwards. Both Prometheus replicas mount it read-only as their user
rules directory; kubelet refreshes a mounted ConfigMap within about a minute and Prometheus'
`auto-reload-config` reloads when a rule file's checksum changes, so a change is answered 202 with
how long until both replicas evaluate it (`propagation_seconds`, computed by the program).

Optimistic concurrency: every change reads the ConfigMap, applies itself to the rules it holds and
replaces the object with the resourceVersion it read; a 409 Conflict (another replica or writer got
there first) starts again from a fresh read, a few times. Plain httpx against the API server with the
ServiceAccount token (re-read each time: projected tokens rotate) and CA; no Kubernetes client library.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from pathlib import Path
from typing import Callable, TypeVar

import httpx

from api.errors import ApiError
from api.rules_store import file_name, rule_from_text, rule_id_of

T = TypeVar("T")
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
CONFIG_MAP = "monitoring-user-rules"
# Kubernetes refuses a ConfigMap over 1 MiB; leave room for the object's metadata.
MAX_DATA_BYTES = 1_000_000
CONFLICT_RETRIES = 5
UPSTREAM = "kubernetes"


def in_cluster_api() -> str:
    """The API server as a pod sees it (the variables kubelet sets in every container)."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise ValueError("KUBERNETES_SERVICE_HOST is not set: not in a pod (give --kubernetes-api URL)")
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


class ConfigMapRulesStore:
    def __init__(self, namespace: str, name: str = CONFIG_MAP, api_url: str | None = None,
                 token_file: Path = SERVICE_ACCOUNT / "token", ca_file: Path | None = SERVICE_ACCOUNT / "ca.crt",
                 propagation_seconds: int = 150, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.namespace, self.name = namespace, name
        self.api_url = (api_url or in_cluster_api()).rstrip("/")
        self.token_file = token_file
        self.propagation_seconds = propagation_seconds
        verify: ssl.SSLContext | bool = True
        if self.api_url.startswith("https://") and ca_file is not None:
            verify = ssl.create_default_context(cafile=str(ca_file))
        self.client = httpx.AsyncClient(transport=transport, verify=verify, timeout=timeout)

    @property
    def object_url(self) -> str:
        return f"{self.api_url}/api/v1/namespaces/{self.namespace}/configmaps/{self.name}"

    def _headers(self) -> dict[str, str]:
        try:
            token = self.token_file.read_text().strip()
        except OSError as error:
            raise ApiError(503, "rules_not_configured", f"no ServiceAccount token ({error.strerror})", UPSTREAM)
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    async def _send(self, method: str, **kwargs) -> httpx.Response:
        try:
            return await self.client.request(method, self.object_url, headers=self._headers(), **kwargs)
        except httpx.TimeoutException:
            raise ApiError(504, "upstream_timeout", "the Kubernetes API did not answer in time", UPSTREAM)
        except httpx.HTTPError as error:
            raise ApiError(502, "upstream_unreachable", f"the Kubernetes API is unreachable ({type(error).__name__})", UPSTREAM)

    def _failed(self, response: httpx.Response) -> ApiError:
        if response.status_code == 404:
            return ApiError(503, "rules_not_configured",
                            f"ConfigMap {self.namespace}/{self.name} is missing (`pulumi up` creates it)", UPSTREAM)
        if response.status_code in (401, 403):
            return ApiError(502, "upstream_error", f"the Kubernetes API refused the ServiceAccount (HTTP {response.status_code}): "
                            f"its Role allows get, update and patch on ConfigMap {self.name} only", UPSTREAM)
        return ApiError(502, "upstream_error", f"the Kubernetes API answered HTTP {response.status_code}", UPSTREAM)

    async def _read(self) -> dict:
        response = await self._send("GET")
        if response.status_code != 200:
            raise self._failed(response)
        return response.json()

    @staticmethod
    def _rules(config_map: dict) -> dict[str, str]:
        return {rule_id: text for key, text in (config_map.get("data") or {}).items() if (rule_id := rule_id_of(key))}

    async def snapshot(self) -> dict[str, str]:
        return self._rules(await self._read())

    async def change(self, mutate: Callable[[dict[str, str]], T]) -> T:
        """`mutate` applied to the ConfigMap's rules and the object replaced with the resourceVersion
        read; on 409 Conflict, again from a fresh read (`mutate` is a pure function of the rules)."""
        for _ in range(CONFLICT_RETRIES):
            config_map = await self._read()
            current = self._rules(config_map)
            wanted = dict(current)
            result = mutate(wanted)
            # Keys that are not user rules are kept as they are.
            data = {key: text for key, text in (config_map.get("data") or {}).items() if rule_id_of(key) is None}
            data.update({file_name(rule_id): text for rule_id, text in sorted(wanted.items())})
            if sum(len(key) + len(text.encode()) for key, text in data.items()) > MAX_DATA_BYTES:
                raise ApiError(409, "too_many_rules", f"the user rules would exceed ConfigMap {self.name}'s 1 MiB")
            metadata = config_map.get("metadata") or {}
            replacement = {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {**metadata, "resourceVersion": metadata.get("resourceVersion")},
                "data": data,
            }
            response = await self._send("PUT", json=replacement)
            if response.status_code == 200:
                return result
            if response.status_code != 409:
                raise self._failed(response)
            await asyncio.sleep(0.05)
        raise ApiError(503, "conflict", f"ConfigMap {self.name} kept changing under this write ({CONFLICT_RETRIES} tries); "
                       "try again", UPSTREAM)

    async def read(self, rule_id: str):
        rules = await self.snapshot()
        if rule_id not in rules:
            raise ApiError(404, "not_found", f"no user rule {rule_id}")
        return rule_from_text(rules[rule_id])

    async def close(self) -> None:
        await self.client.aclose()
