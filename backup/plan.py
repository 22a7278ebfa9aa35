"""What one backup job backs up and where: a JSON document rendered from the stack's settings
(`services.backup.render_plan`) and read here without the settings model, so the job's image needs
nothing but Python and restic."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVICES = ("prometheus", "alertmanager", "grafana", "loki", "tempo", "pyroscope", "pushgateway", "config")


class BackupError(Exception):
    """A failure the operator can act on; the CLI prints its message as one line and exits 1."""


@dataclass(frozen=True)
class Endpoint:
    """How the job reaches a service's HTTP API. TLS and credentials are optional and pluggable: a CA
    file to verify the server, and basic auth whose password is read from a file at each request."""

    url: str
    ca_file: str | None = None
    username: str | None = None
    password_file: str | None = None

    @classmethod
    def of(cls, data: dict[str, Any] | str | None) -> "Endpoint | None":
        if data is None:
            return None
        if isinstance(data, str):
            return cls(data)
        return cls(**data)


@dataclass(frozen=True)
class Source:
    """One service's state: its API (`endpoint`) and/or its files as the job sees them (`path`).

    `object_storage` says the state lives elsewhere (Loki's chunks or Tempo's blocks in S3): nothing is
    backed up and the run says so."""

    service: str
    endpoint: Endpoint | None = None
    path: str | None = None
    object_storage: str | None = None


@dataclass(frozen=True)
class Plan:
    stack: str
    repository: str
    password_file: str
    sources: dict[str, Source]
    retention: dict[str, int] = field(default_factory=dict)
    # restic's S3 credentials: the key id, and the secret key's file (never the key itself).
    s3_access_key_id: str | None = None
    s3_secret_access_key_file: str | None = None
    pushgateway: Endpoint | None = None
    schedule: str | None = None
    # Where the job stages what it does not read in place (the Grafana database copy, silences).
    scratch_dir: str = "/tmp/backup"
    # restic's local cache: off where the job's scratch space is small (a pod's emptyDir).
    cache: bool = True
    # How long restic waits for another job's lock (restic 0.16+; several jobs share an S3 repository).
    retry_lock: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Plan":
        data = dict(data)
        sources = {
            name: Source(name, Endpoint.of(value.get("endpoint")), value.get("path"), value.get("object_storage"))
            for name, value in data.pop("sources").items()
        }
        unknown = set(sources) - set(SERVICES)
        if unknown:
            raise BackupError(f"the plan names unknown services {sorted(unknown)}; known: {', '.join(SERVICES)}")
        pushgateway = Endpoint.of(data.pop("pushgateway", None))
        return cls(sources=sources, pushgateway=pushgateway, **data)

    @classmethod
    def load(cls, path: str | Path) -> "Plan":
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except FileNotFoundError:
            raise BackupError(f"no backup plan at {path} (give --plan, or run inside the backup job)") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise BackupError(f"the backup plan {path} is invalid: {exc}") from None
