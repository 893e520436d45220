"""Operator engagement: follow runs only while the operator wants it (charter item 2). Pure, no I/O.

Follow is engaged only when all of these hold, and is dropped the instant any one fails:

* the vehicle is **armed** (by the operator; the stack never arms),
* the vehicle is in the companion mode (GUIDED / OFFBOARD) **selected by the pilot**,
* the **dead-man** is live: the RC switch on ``rc_channel`` reads >= ``rc_threshold_us`` in an
  RC_CHANNELS message at most ``rc_timeout_s`` old, and/or the ground station's HEARTBEAT is at most
  ``gcs_timeout_s`` old (when both are configured, both are required),
* the telemetry link is up,
* the operator **engaged** follow (:meth:`Engagement.request_engage`) after the last disengage.

A disengage is latched: the operator must engage again even when the conditions come back.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

from drone_perception.config.link import LinkConfig
from drone_perception.errors import ConfigError
from drone_perception.types import OperatorInput

RC_UNUSED_US = (0, 65535)


@dataclass(frozen=True)
class DeadmanConfig:
    """``rc_channel``: 1-based RC channel of the dead-man switch, None = not used. ``rc_threshold_us``:
    the switch is "held" at or above this PWM (us). ``gcs_heartbeat``: the ground-station heartbeat is a
    dead-man. Timeouts in seconds: a signal older than this counts as lost."""

    rc_channel: int | None = None
    rc_threshold_us: int = 1700
    rc_timeout_s: float = 0.5
    gcs_heartbeat: bool = True
    gcs_timeout_s: float = 1.5

    def __post_init__(self) -> None:
        if self.rc_channel is None and not self.gcs_heartbeat:
            raise ConfigError("dead-man: neither an RC channel nor the GCS heartbeat is configured; "
                              "follow could never engage (set link.deadman_rc_channel or deadman_gcs_heartbeat)")
        if self.rc_channel is not None and not 1 <= self.rc_channel <= 18:
            raise ConfigError(f"deadman rc_channel = {self.rc_channel}: must be in [1, 18]")
        for name in ("rc_timeout_s", "gcs_timeout_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0.0 < v <= 10.0):
                raise ConfigError(f"deadman {name} = {v}: must be in (0, 10]")

    @classmethod
    def from_link_config(cls, cfg: LinkConfig) -> DeadmanConfig:
        return cls(rc_channel=cfg.deadman_rc_channel, rc_threshold_us=cfg.deadman_rc_threshold_us,
                   gcs_heartbeat=cfg.deadman_gcs_heartbeat)


class EngagementState(enum.Enum):
    IDLE = "idle"  # not following
    FOLLOWING = "following"


class Engagement:
    """The state machine. Feed it observations with their stamps; ask :meth:`update` every loop."""

    def __init__(self, config: DeadmanConfig, companion_mode: str) -> None:
        self._cfg = config
        self._companion_mode = companion_mode.upper()
        self.state = EngagementState.IDLE
        self.armed = False
        self.mode = "UNKNOWN"
        self.link_ok = False
        self.subject_track_id: int | None = None
        self._rc_us: int | None = None
        self._rc_stamp_s = -math.inf
        self._gcs_stamp_s = -math.inf
        self.last_disengage_reason: str | None = None

    # ------------------------------------------------------------------ observations
    def on_vehicle(self, armed: bool, mode: str, link_ok: bool) -> None:
        self.armed, self.mode, self.link_ok = bool(armed), mode.upper(), bool(link_ok)

    def on_rc_channels(self, channels_us: Sequence[int], stamp_s: float) -> None:
        """``channels_us``: RC_CHANNELS chan1_raw.. chan18_raw (us; 0 or 65535 = unused)."""
        ch = self._cfg.rc_channel
        if ch is None or ch > len(channels_us):
            return
        value = int(channels_us[ch - 1])
        self._rc_us = None if value in RC_UNUSED_US else value
        self._rc_stamp_s = stamp_s

    def on_gcs_heartbeat(self, stamp_s: float) -> None:
        self._gcs_stamp_s = stamp_s

    def select_subject(self, track_id: int | None) -> None:
        self.subject_track_id = track_id

    # ------------------------------------------------------------------ decisions
    def deadman_problem(self, now_s: float) -> str | None:
        """Why the dead-man is not live, or None when it is."""
        if self._cfg.rc_channel is not None:
            if now_s - self._rc_stamp_s > self._cfg.rc_timeout_s:
                return f"dead-man lost: no RC_CHANNELS for more than {self._cfg.rc_timeout_s:.2f} s"
            if self._rc_us is None or self._rc_us < self._cfg.rc_threshold_us:
                return (f"dead-man released: RC channel {self._cfg.rc_channel} = {self._rc_us} us "
                        f"< {self._cfg.rc_threshold_us} us")
        if self._cfg.gcs_heartbeat and now_s - self._gcs_stamp_s > self._cfg.gcs_timeout_s:
            return f"dead-man lost: no ground-station heartbeat for more than {self._cfg.gcs_timeout_s:.2f} s"
        return None

    def deadman_ok(self, now_s: float) -> bool:
        return self.deadman_problem(now_s) is None

    def problem(self, now_s: float) -> str | None:
        """The first reason follow may not run now, or None."""
        if not self.link_ok:
            return "telemetry link lost"
        if not self.armed:
            return "vehicle disarmed"
        if self.mode != self._companion_mode:
            return (f"mode is {self.mode}, not {self._companion_mode} (changed by the pilot or by the autopilot: "
                    "a failsafe or its fence)")
        return self.deadman_problem(now_s)

    def request_engage(self, now_s: float) -> tuple[bool, str]:
        """The operator asks to follow. Returns (engaged, reason)."""
        why = self.problem(now_s)
        if why is not None:
            return False, f"cannot engage: {why}"
        self.state = EngagementState.FOLLOWING
        return True, "engaged"

    def disengage(self, reason: str) -> bool:
        """Drop follow now; True when it was engaged."""
        was = self.state is EngagementState.FOLLOWING
        self.state = EngagementState.IDLE
        if was:
            self.last_disengage_reason = reason
        return was

    def update(self, now_s: float) -> str | None:
        """Check the conditions; when following and one fails, disengage and return the reason."""
        if self.state is not EngagementState.FOLLOWING:
            return None
        why = self.problem(now_s)
        if why is not None:
            self.disengage(why)
        return why

    @property
    def following(self) -> bool:
        return self.state is EngagementState.FOLLOWING

    def operator_input(self, now_s: float) -> OperatorInput:
        return OperatorInput(engaged=self.following, deadman_ok=self.deadman_ok(now_s),
                             subject_track_id=self.subject_track_id, stamp_s=now_s)


__all__ = ["DeadmanConfig", "Engagement", "EngagementState"]
