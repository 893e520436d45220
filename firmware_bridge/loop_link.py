"""The MAVLink bridge as the control loop's vehicle link, and the one bridge set-up every mode uses.

:class:`BridgeVehicleLink` is :class:`drone_perception.loop.VehicleLink` over a :class:`MavlinkBridge`:
``poll`` reads telemetry (and, with ``link_dead_s``, ends the run with ``LinkTimeout`` after a long dead link),
``camera`` gives the camera pose from the reported pose and gimbal pitch, ``send`` sends each SafeCommand once,
``after_period`` publishes the tracked box to the ground station and runs the stall check while following.

:func:`open_bridge` + :func:`prepare_autopilot` are the set-up: open and connect with errors that say what is
missing, write the setpoint timeout and read it back (it must not exceed what the governor budgets), upload
the stack's fence and verify it (the autopilot's own fence is the second layer).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from drone_perception.camera_pose import camera_from_vehicle
from drone_perception.config import StackConfig
from drone_perception.config.safety import FenceConfig
from drone_perception.control import limits as L
from drone_perception.interfaces import Recorder
from drone_perception.pipeline import PipelineOutput
from drone_perception.types import CameraIntrinsics, CameraModel, SafeCommand, VehicleState, Verdict
from firmware_bridge import crew_notices
from firmware_bridge.bridge import MavlinkBridge
from firmware_bridge.camera_tracking import TrackingHandler
from firmware_bridge.errors import BridgeError, LinkTimeout
from firmware_bridge.params import read_param

log = logging.getLogger(__name__)

#: Slack (s) when comparing the read-back setpoint timeout with the governor's budget (a float32 parameter).
TIMEOUT_READBACK_EPS_S = 1e-3


def publish_tracking_status(bridge: MavlinkBridge, out: PipelineOutput, intrinsics: CameraIntrinsics,
                            now_s: float) -> None:
    """CAMERA_TRACKING_IMAGE_STATUS for the ground station: the locked subject's box (normalised), or idle."""
    cam = bridge.camera
    if cam is None:
        return
    box = None
    if out.lock.track_id is not None and len(out.tracks):
        rows = np.flatnonzero(out.tracks.track_id == out.lock.track_id)
        if rows.size:
            x1, y1, x2, y2 = (float(c) for c in out.tracks.xyxy_px[rows[0]])
            w, h = intrinsics.size_wh_px
            box = (x1 / w, y1 / h, x2 / w, y2 / h)
    cam.publish_image_status(now_s, box)


class BridgeVehicleLink:
    """``VehicleLink`` over a connected bridge.

    ``control``: setpoints may be sent (False: perception only, ``send`` refuses everything).
    ``gimbal_pitch_rad``: the camera's pitch (rad, negative down) while the autopilot streams no gimbal attitude.
    ``offset_ned_m``: added to the reported position (an external SITL whose frame differs from the scenario's).
    ``on_state(state)``: told every polled state (the simulator's pose follows an external SITL).
    ``link_dead_s``: a link down this long raises ``LinkTimeout`` (after disengaging); None: never.
    ``status_period_s``: how often the tracked box goes to the ground station.
    """

    def __init__(self, bridge: MavlinkBridge, intrinsics: CameraIntrinsics, *, control: bool,
                 gimbal_pitch_rad: float, offset_ned_m: np.ndarray | None = None,
                 on_state: Callable[[VehicleState], Any] | None = None, link_dead_s: float | None = None,
                 status_period_s: float = 0.2) -> None:
        self.bridge = bridge
        self.intrinsics = intrinsics
        self.control = control
        self.gimbal_pitch_rad = float(gimbal_pitch_rad)
        self.offset_ned_m = None if offset_ned_m is None else np.asarray(offset_ned_m, dtype=float)
        self.on_state = on_state
        self.link_dead_s = link_dead_s
        self.status_period_s = status_period_s
        self._next_status_s = -math.inf
        self._link_down_since: float | None = None
        self._locked: int | None = None
        self._hold_reason: str | None = None

    def poll(self, now_s: float) -> VehicleState:
        state = self.bridge.poll(now_s)
        if self.link_dead_s is not None:
            self._check_link(state, now_s)
        if self.offset_ned_m is not None:
            state = replace(state, position_ned_m=np.asarray(state.position_ned_m) + self.offset_ned_m)
        if self.on_state is not None:
            self.on_state(state)
        return state

    def _check_link(self, state: VehicleState, now_s: float) -> None:
        assert self.link_dead_s is not None
        if state.link_ok:
            self._link_down_since = None
        elif self._link_down_since is None:
            self._link_down_since = now_s
        elif now_s - self._link_down_since > self.link_dead_s:
            if self.bridge.engagement.following:
                self.bridge.disengage(now_s, "autopilot link dead")
            raise LinkTimeout(f"autopilot link on {self.bridge.link.connection} dead for more than "
                              f"{self.link_dead_s:.1f} s (no heartbeat/telemetry): stopped")

    def _tell_the_crew(self, output: PipelineOutput, now_s: float) -> None:
        """STATUSTEXT on changes only: the lock acquired / lost, a hold while following and its reason, a
        standoff or fence limit binding (see :mod:`firmware_bridge.crew_notices`)."""
        notices = self.bridge.notices
        locked = output.lock.track_id if output.lock.state.name == "LOCKED" else None
        if locked != self._locked:
            if locked is not None:
                notices.forget("lock")
                notices.say("lock", crew_notices.INFO, f"subject locked (track {locked})", now_s)
            elif self._locked is not None:
                notices.say("lock", crew_notices.WARNING, f"lock lost: {output.lock.reason}", now_s)
            self._locked = locked
        if not output.send:
            return
        safe = output.safe
        if safe.verdict is Verdict.HOLD:
            why = ", ".join(sorted(safe.limits_applied)) or "hold"
            if why != self._hold_reason:
                notices.say("hold", crew_notices.NOTICE, f"hold: {why}", now_s)
                self._hold_reason = why
        elif self._hold_reason is not None:
            notices.forget("hold")
            self._hold_reason = None
        binding = sorted(safe.limits_applied & _CREW_LIMITS)
        if binding:
            notices.say("limit", crew_notices.NOTICE, "limit: " + ", ".join(binding), now_s)

    def camera(self, state: VehicleState) -> CameraModel | None:
        gimbal = getattr(self.bridge.telemetry, "gimbal", None)
        pitch = getattr(gimbal, "pitch_rad", None)
        pitch = float(pitch) if pitch is not None and math.isfinite(pitch) else self.gimbal_pitch_rad
        return camera_from_vehicle(self.intrinsics, state, pitch)

    def send(self, safe: SafeCommand, now_s: float) -> bool:
        return self.control and self.bridge.send(safe, now_s)

    def after_period(self, now_s: float, output: PipelineOutput | None) -> None:
        if output is not None and now_s >= self._next_status_s:
            self._next_status_s = now_s + self.status_period_s
            publish_tracking_status(self.bridge, output, self.intrinsics, now_s)
        if output is not None:
            self._tell_the_crew(output, now_s)
        if self.control and self.bridge.engagement.following:  # after a disengage silence is expected
            self.bridge.check_stall(now_s)



#: Limits the crew is told about when they bind (people and the fence).
_CREW_LIMITS = frozenset({L.STANDOFF, L.CLOSING_SPEED, L.FENCE, L.ALTITUDE_FLOOR, L.ALTITUDE_CEILING, L.TETHER})

def open_bridge(config: StackConfig, connect: str, *, recorder: Recorder | None,
                tracking_handler: TrackingHandler | None, clock: Callable[[], float] | None = None,
                wait_s: float = 0.0, progress: Callable[[str], None] | None = None) -> MavlinkBridge:
    """A bridge on ``connect`` (e.g. ``tcp:127.0.0.1:5760``) with ``config.link``'s settings; ``BridgeError``
    "cannot connect to ..." when the endpoint cannot be opened. ``wait_s``: keep trying that long (wall
    seconds), for a TCP autopilot (SITL) that is started after the stack."""
    link_cfg = config.link.model_copy(update={"connection": connect})
    kwargs: dict[str, Any] = {"control_rate_hz": config.control_rate_hz, "recorder": recorder,
                              "tracking_handler": tracking_handler}
    if clock is not None:
        kwargs["clock"] = clock
    deadline = time.monotonic() + wait_s
    next_report = time.monotonic() + 5.0
    while True:
        try:
            return MavlinkBridge.open(link_cfg, **kwargs)
        except BridgeError as exc:
            if time.monotonic() >= deadline:
                raise BridgeError(f"cannot connect to {connect}: {exc}") from None
            if progress is not None and time.monotonic() >= next_report:
                next_report += 5.0
                progress(f"waiting for {connect} to accept a connection: {exc}")
            time.sleep(0.5)


def connect_bridge(bridge: MavlinkBridge, connect: str, *, timeout_s: float, hint: str = "",
                   progress: Callable[[str], None] | None = None) -> None:
    """Wait for the autopilot's heartbeat and first position estimate (``progress`` is told what is being
    waited for every 5 s); ``LinkTimeout`` "cannot connect to ..." otherwise."""
    try:
        bridge.connect(timeout_s=timeout_s, progress=progress)
    except LinkTimeout as exc:
        raise LinkTimeout(f"cannot connect to {connect}: no autopilot within {timeout_s:.0f} s{hint}: {exc}") from None


def prepare_autopilot(bridge: MavlinkBridge, config: StackConfig, *, timeout_s: float,
                      fence: FenceConfig | None, write_command_timeout: bool = True) -> None:
    """The autopilot's own safety layer before the stack may command it: the setpoint timeout
    (``config.link.guided_timeout_s``, GUID_TIMEOUT / COM_OF_LOSS_T) written and read back, its braking
    (ArduCopter: :func:`check_braking`), and ``fence`` (None: not uploaded) uploaded and verified by download.
    Raises ``BridgeError`` when the autopilot keeps a timeout longer than the governor's stopping budget
    (``safety.autopilot_command_timeout_s``) or brakes more gently than it assumes: the vehicle would coast
    further after a dead companion than the governor assumed."""
    if write_command_timeout:
        got = bridge.configure_command_timeout(config.link.guided_timeout_s, timeout_s=timeout_s)
        budget = config.safety.autopilot_command_timeout_s
        if not (math.isfinite(got) and got <= budget + TIMEOUT_READBACK_EPS_S):
            raise BridgeError(
                f"the autopilot keeps a setpoint timeout of {got:.3f} s ({bridge.dialect.command_timeout_param}), "
                f"longer than the governor's budget safety.autopilot_command_timeout_s = {budget:.3f} s: "
                "refusing to command it")
    if bridge.dialect.name == "ardupilot":
        check_braking(bridge, config, timeout_s=timeout_s)
    if fence is not None:
        bridge.upload_fence(fence, timeout_s=timeout_s, altitude_floor=config.link.fence_altitude_floor)


#: ArduCopter parameters that set how GUIDED brakes after GUID_TIMEOUT, with the SafetyConfig field that the
#: governor budgets for each, and the factor to SI units.
ARDUCOPTER_BRAKING: tuple[tuple[str, float, str], ...] = (
    ("WPNAV_ACCEL", 0.01, "braking_decel_mps2"),  # cm/s/s
    ("PSC_JERK_XY", 1.0, "braking_jerk_mps3"),  # m/s/s/s
)


def check_braking(bridge: MavlinkBridge, config: StackConfig, *, timeout_s: float) -> dict[str, float]:
    """Read how the autopilot brakes (ArduCopter: WPNAV_ACCEL, PSC_JERK_XY) and refuse (``BridgeError``) when it
    brakes more gently than the governor's stopping budget assumes. Returns the values read (SI units)."""
    got: dict[str, float] = {}
    for name, to_si, field in ARDUCOPTER_BRAKING:
        try:
            value = read_param(bridge.link, name, timeout_s=timeout_s, now_s=bridge.link.now()) * to_si
        except LinkTimeout as exc:
            raise BridgeError(f"cannot read {name} from the autopilot, so the governor's safety.{field} cannot be "
                              f"checked against how it brakes (fail closed): {exc}") from None
        assumed = float(getattr(config.safety, field))
        if not (math.isfinite(value) and value >= assumed - 1e-6):
            raise BridgeError(
                f"the autopilot brakes at {name} = {value:g} (SI) but the governor budgets safety.{field} = "
                f"{assumed:g}: its stopping distances would be too short; lower safety.{field} to at most "
                f"{value:g} or raise {name}")
        got[name] = value
    return got


__all__ = ["ARDUCOPTER_BRAKING", "BridgeVehicleLink", "check_braking", "connect_bridge", "open_bridge",
           "prepare_autopilot", "publish_tracking_status"]
