"""A mock engine that records every registration the way the CLI's engine would receive it.

`MockResourceArgs` carries neither the parent nor the resource options, so the recording happens in
the monitor, from the register request itself: type, name, parent URN, protect, retain_on_delete,
dependencies, provider and the inputs (secrets masked as `[secret]`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime.mocks import MockMonitor

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
SIG_KEY = "4dabf18193072939515e22adb298388d"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
MASK = "[secret]"


def clean(value: Any, reveal: bool = False) -> Any:
    """Wire values to plain JSON: secrets masked (or unwrapped with `reveal`), references by URN."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return clean(value.get("value"), reveal) if reveal else MASK
        if sig == RESOURCE_SIG:
            return value.get("urn")
        return {key: clean(item, reveal) for key, item in value.items()}
    if isinstance(value, list):
        return [clean(item, reveal) for item in value]
    if value == UNKNOWN:
        return "[unknown]"
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire carries every number as a double
    return value


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    protect: bool
    retain_on_delete: bool
    dependencies: list[str]
    provider: str
    inputs: dict[str, Any]
    # Properties `pulumi up` leaves as they are once created (content a service keeps itself).
    ignore_changes: list[str] = field(default_factory=list)
    # Inputs with secrets unwrapped: used only to check that no secret leaks into plain values.
    revealed_inputs: dict[str, Any] = field(repr=False, default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "custom": self.custom,
            "protect": self.protect,
            "retain_on_delete": self.retain_on_delete,
            "dependencies": self.dependencies,
            "provider": self.provider,
            "inputs": self.inputs,
            **({"ignore_changes": self.ignore_changes} if self.ignore_changes else {}),
        }


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self.stack_outputs: dict[str, Any] = {}
        self._lock = threading.Lock()

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        raw = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
        registration = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            custom=bool(request.custom),
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            dependencies=sorted(set(request.dependencies)),
            provider=request.provider,
            inputs=clean(raw),
            revealed_inputs=clean(raw, reveal=True),
            ignore_changes=list(request.ignoreChanges),
        )
        with self._lock:
            self.registrations.append(registration)
        return response


# The pulumi-tls resources (components/certificates.py) and the PEM outputs each computes.
PEM_OUTPUTS = {
    "tls:index/privateKey:PrivateKey": (("privateKeyPem", "PRIVATE KEY"), ("publicKeyPem", "PUBLIC KEY")),
    "tls:index/selfSignedCert:SelfSignedCert": (("certPem", "CERTIFICATE"),),
    "tls:index/certRequest:CertRequest": (("certRequestPem", "CERTIFICATE REQUEST"),),
    "tls:index/locallySignedCert:LocallySignedCert": (("certPem", "CERTIFICATE"),),
}


class StackMocks(pulumi.runtime.Mocks):
    """Outputs a real provider would compute, so dependent inputs resolve to meaningful values."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        if args.typ == "docker:index/remoteImage:RemoteImage":
            # The pinned reference stands in for the image digest the daemon would return.
            outputs["imageId"] = args.inputs["name"]
            outputs["repoDigest"] = f"{args.inputs['name']}@sha256:{'0' * 64}"
        if args.typ in PEM_OUTPUTS:
            # The Pulumi TLS provider's computed PEM: a recognisable stand-in (no key is generated offline).
            for output, kind in PEM_OUTPUTS[args.typ]:
                outputs[output] = f"-----BEGIN {kind}-----\npreview {args.name}\n-----END {kind}-----\n"
        if args.typ == "docker:index/container:Container" and args.inputs.get("attach"):
            # An attached one-shot container as the provider reads it back after a successful run.
            outputs.update(exitCode=0, containerLogs="")
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}
