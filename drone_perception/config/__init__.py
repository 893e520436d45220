"""One validated configuration for the whole stack, loaded from YAML at the edge.

Errors name the field, the value and the allowed range::

    >>> load_config_text("safety: {min_standoff_m: 3}")  # doctest: +SKIP
    ConfigError: safety.min_standoff_m = 3: Input should be greater than or equal to 5
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from drone_perception.config.bounds import field_bounds
from drone_perception.config.envelope import envelope_problems
from drone_perception.config.follow import FollowConfig
from drone_perception.config.link import LinkConfig
from drone_perception.config.perception import CameraConfig, DetectorConfig, TrackerConfig
from drone_perception.config.safety import FenceConfig, SafetyConfig
from drone_perception.errors import ConfigError


class StackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    control_rate_hz: float = Field(
        20.0, ge=5.0, le=100.0,
        description="Rate (Hz) of the control loop: one perception -> follow -> governor -> command cycle per "
        "period; the bridge the stack opens streams commands at this rate (it overrides "
        "link.setpoint_rate_hz). Raising it reacts sooner and costs more CPU and link traffic; lowering it "
        "reacts later. Keep the period below safety.command_ttl_s so a command arrives before the last expires.")
    safety: SafetyConfig = Field(
        SafetyConfig(),
        description="The safety envelope the governor enforces: standoff, speed and acceleration caps, stopping "
        "budget, timeouts (charter items 1, 3, 4, 5).")
    fence: FenceConfig = Field(
        FenceConfig(),
        description="Geofence on the predicted stopping point: polygon, altitude floor and ceiling, tether "
        "(charter items 5, 7).")
    follow: FollowConfig = Field(
        FollowConfig(),
        description="Follow controller: the offset kept from the subject and how briskly it is kept; only a "
        "proposal, the governor decides what is sent.")
    camera: CameraConfig = Field(CameraConfig(), description="Camera image size, lens and mounting.")
    detector: DetectorConfig = Field(DetectorConfig(), description="Person detector model, runtime and thresholds.")
    tracker: TrackerConfig = Field(TrackerConfig(), description="Multi-person tracker and the operator's subject lock.")
    link: LinkConfig = Field(
        LinkConfig(),
        description="MAVLink link to the autopilot, the operator's dead-man and what the bridge writes to "
        "the autopilot at connect (GUID_TIMEOUT / COM_OF_LOSS_T, fence).")

    @model_validator(mode="after")
    def _feasible_envelope(self) -> StackConfig:
        problems = envelope_problems(self.safety, self.follow, self.fence)
        if problems:
            raise ValueError("the envelope cannot keep the standoff and the fence: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _autopilot_timeout_within_budget(self) -> StackConfig:
        # The governor budgets safety.autopilot_command_timeout_s for the coast after the last command; the
        # autopilot really coasts link.guided_timeout_s (the bridge writes it). A longer coast than budgeted
        # lets the vehicle fly past the point the governor planned to stop at after the companion dies.
        timeout, budget = self.link.guided_timeout_s, self.safety.autopilot_command_timeout_s
        if timeout > budget:
            b_budget = field_bounds(SafetyConfig, "autopilot_command_timeout_s")
            b_timeout = field_bounds(LinkConfig, "guided_timeout_s")
            fix = f"raise safety.autopilot_command_timeout_s to at least {timeout} (allowed {b_budget})"
            if b_timeout.contains(budget):
                fix += f" or lower link.guided_timeout_s to at most {budget} (allowed {b_timeout})"
            raise ValueError(
                f"link.guided_timeout_s={timeout} exceeds safety.autopilot_command_timeout_s={budget}: the "
                f"autopilot would keep flying the last command {timeout} s (GUID_TIMEOUT / COM_OF_LOSS_T) but the "
                f"governor's stopping budget assumes only {budget} s; {fix}")
        return self


def _describe(err: ValidationError, data: Any) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        if not loc:  # a check across sections: its message names every field and value itself
            lines.append(e["msg"])
            continue
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
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {p} is not UTF-8 text (byte {exc.start}): is it a YAML file?") from None
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
