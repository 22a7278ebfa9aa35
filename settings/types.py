"""Value types shared by every settings section: each carries the one-line message a user sees."""

from __future__ import annotations

import re
import typing
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

# Prometheus' duration grammar (also accepted by Alertmanager, Loki and Grafana for the units we use).
_DURATION = re.compile(r"^(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?$")
_DURATION_UNITS_S = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_BYTE_SIZE = re.compile(r"^\d+(B|KB|MB|GB|TB|PB|EB)$")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/-]*(:[0-9A-Za-z._-]{1,128})?(@sha256:[0-9a-f]{64})?$")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class Strict(BaseModel):
    """Every settings model: unknown keys are errors, values are immutable once validated."""

    # No NaN or infinity (JSON config decodes `NaN`/`Infinity`): they would reach rules as text.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic reads true as 1: `port: true` would silently become port 1.
        if isinstance(value, bool) and info.field_name in cls.model_fields:
            annotation = cls.model_fields[info.field_name].annotation
            kinds = set(typing.get_args(annotation)) or {annotation}
            if kinds & {int, float} and bool not in kinds:
                raise ValueError("is a boolean, not a number")
        return value


def duration_seconds(value: str) -> float:
    """Seconds in a validated duration string such as `1h30m`."""
    return sum(
        int(amount) * _DURATION_UNITS_S[unit] for amount, unit in re.findall(r"(\d+)(ms|y|w|d|h|m|s)", value)
    )


def _duration(value: str) -> str:
    if not isinstance(value, str) or not value or not _DURATION.match(value) or duration_seconds(value) <= 0:
        raise ValueError("is not a duration like 30d, 12h, 30s or 1h30m")
    return value


_BYTE_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15, "EB": 10**18}


def byte_size_bytes(value: str) -> int:
    """Bytes in a validated size string such as `50GB` (decimal units, as Prometheus reads them)."""
    number, unit = re.fullmatch(r"(\d+)([A-Z]+)", value).groups()
    return int(number) * _BYTE_UNITS[unit]


def _byte_size(value: str) -> str:
    if not isinstance(value, str) or not _BYTE_SIZE.match(value) or int(re.match(r"\d+", value).group()) == 0:
        raise ValueError("is not a size like 512MB, 50GB or 1TB")
    return value


def _image(value: str) -> str:
    if not isinstance(value, str) or not _IMAGE.match(value):
        raise ValueError("is not an image reference like repo/name:1.2.3")
    tag = value.split("@")[0].rsplit("/", 1)[-1].partition(":")[2]
    if "@sha256:" not in value and not tag:
        raise ValueError("is not pinned: give a version tag (repo/name:1.2.3) or a digest (@sha256:...)")
    if tag in ("latest", "main", "master", "nightly", "edge"):
        raise ValueError(f"uses the moving tag '{tag}': pin a released version (repo/name:1.2.3)")
    return value


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("is not a name of lowercase letters, digits and '-' starting with a letter (max 31)")
    return value


def _label_name(value: str) -> str:
    if not _LABEL_NAME.match(value):
        raise ValueError("is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
    return value


Duration = Annotated[str, AfterValidator(_duration)]
ByteSize = Annotated[str, AfterValidator(_byte_size)]
ImageRef = Annotated[str, AfterValidator(_image)]
Name = Annotated[str, AfterValidator(_name)]
LabelName = Annotated[str, AfterValidator(_label_name)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Resources(Strict):
    """Container limits. `cpus` is a fraction of cores (0.5 = half a core)."""

    cpus: float = Field(gt=0, le=64)
    memory_mb: int = Field(ge=32, le=262144)
