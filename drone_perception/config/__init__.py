"""One validated configuration for the whole stack, loaded from YAML at the edge.

Errors name the field, the value and the allowed range::

    >>> load_config_text("safety: {min_standoff_m: 3}")  # doctest: +SKIP
    ConfigError: safety.min_standoff_m = 3: Input should be greater than or equal to 5
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drone_perception.config.follow import FollowConfig
from drone_perception.config.link import LinkConfig
from drone_perception.config.perception import CameraConfig, DetectorConfig, TrackerConfig
from drone_perception.config.safety import FenceConfig, SafetyConfig
from drone_perception.errors import ConfigError


class StackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    control_rate_hz: float = Field(20.0, ge=5.0, le=100.0)
    safety: SafetyConfig = SafetyConfig()
    fence: FenceConfig = FenceConfig()
    follow: FollowConfig = FollowConfig()
    camera: CameraConfig = CameraConfig()
    detector: DetectorConfig = DetectorConfig()
    tracker: TrackerConfig = TrackerConfig()
    link: LinkConfig = LinkConfig()


def _describe(err: ValidationError, data: Any) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "<root>"
        value = e.get("input")
        lines.append(f"{loc} = {value!r}: {e['msg']}")
    return "; ".join(lines)


def config_from_dict(data: dict[str, Any] | None) -> StackConfig:
    try:
        return StackConfig.model_validate(data or {})
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {_describe(exc, data)}") from None


def load_config_text(text: str) -> StackConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"configuration must be a mapping at the top level, got {type(data).__name__}")
    return config_from_dict(data)


def load_config(path: str | Path | None) -> StackConfig:
    """Load and validate a YAML config; ``None`` gives the conservative defaults."""
    if path is None:
        return StackConfig()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from None
    return load_config_text(text)


__all__ = [
    "CameraConfig",
    "DetectorConfig",
    "FenceConfig",
    "FollowConfig",
    "LinkConfig",
    "SafetyConfig",
    "StackConfig",
    "TrackerConfig",
    "config_from_dict",
    "load_config",
    "load_config_text",
]
