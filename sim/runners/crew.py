"""The scripted crew: one stand-in for the operator in every simulated mode (never part of the stack).

:class:`ScriptedCrew` decides what a crew does, when (from an :class:`OperatorScript`, in world seconds): engage
follow after ``engage_at_s``, disengage at ``disengage_at_s``, release the dead-man during ``deadman_lost_s``,
click the subject in the video while nothing is locked, and click again ``redesignate_after_s`` after the stack
reports the lock LOST. *How* it acts depends on the mode, through its hands:

* :class:`ConsoleHands` (direct and camera-in-the-loop runs): the operator input is built here, and the click goes
  to :class:`~drone_perception.selection.PipelineTrackingHandler`, as a ground-station click would;
* :class:`GroundStationHands` (MAVLink lock-step and external SITL): engage/disengage at the companion's console
  (the bridge), the dead-man is the ground station's heartbeat (or an RC switch), the click is a
  ``MAV_CMD_CAMERA_TRACK_POINT`` from the ground station that the vehicle routes to the companion's camera
  component, as QGroundControl does.

Either way the click lands in the same rule (``SubjectLock.lock_at_pixel``): ambiguous clicks are refused. The
crew "sees" the video: it clicks where the subject's body centre truly is in the image (simulator truth).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
from pymavlink.dialects.v20 import ardupilotmega as mav2

from drone_perception.geometry import project_points
from drone_perception.pipeline import Pipeline
from drone_perception.selection import PipelineTrackingHandler
from drone_perception.track.lock import LockState
from drone_perception.types import CameraModel, OperatorInput
from sim.mavlink.autopilot import CopterMode
from sim.world.world import World

if TYPE_CHECKING:
    from firmware_bridge.bridge import MavlinkBridge
    from sim.mavlink.ground_station import ScriptedGroundStation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OperatorScript:
    """When the scripted crew acts (seconds of world time, from the hand-over)."""

    engage_at_s: float = 1.0
    #: Disengage (follow off, operator flies) at this time; None = stay engaged to the end.
    disengage_at_s: float | None = None
    #: Dead-man released during [start, end) (e.g. to test that a lost dead-man holds).
    deadman_lost_s: tuple[float, float] | None = None
    #: When the stack reports the subject LOST, the crew notices and clicks the subject again after this long
    #: (None: never; the stack then holds until the end). Real crews do this from the ground station.
    redesignate_after_s: float | None = 2.0
    #: The pilot switches the flight mode at the ground station at this time (e.g. ``(12.0, "LOITER")``): the
    #: stack must disengage at once. None = never. ArduCopter mode names; MAVLink modes only.
    pilot_mode_at_s: tuple[float, str] | None = None


def subject_image_point(camera: CameraModel, foot_ned_m: np.ndarray, height_m: float) -> tuple[float, float] | None:
    """Where the crew clicks: the subject's body centre in normalised image coordinates (x right, y down, 0..1),
    or None when it is behind the camera (closer than 0.1 m along the axis) or outside the image."""
    centre = np.asarray(foot_ned_m, dtype=float) + np.array([0.0, 0.0, -height_m / 2.0])
    uv, depth = project_points(camera, centre[None, :])
    if not depth[0] > 0.1:
        return None
    w, h = camera.intrinsics.size_wh_px
    u, v = float(uv[0, 0]) / w, float(uv[0, 1]) / h
    return (u, v) if 0.0 <= u <= 1.0 and 0.0 <= v <= 1.0 else None


class CrewHands(Protocol):
    """How the crew acts in one mode. ``click_period_s``: the fastest it clicks again while nothing is locked."""

    click_period_s: float

    def engage(self, now_s: float) -> bool: ...

    def disengage(self, now_s: float, reason: str) -> None: ...

    def following(self) -> bool: ...

    def set_deadman(self, held: bool) -> None: ...

    def pilot_set_mode(self, mode: str) -> None: ...

    def click(self, now_s: float, u_norm: float, v_norm: float) -> None: ...

    def stop_tracking(self, now_s: float) -> None: ...

    def operator_input(self, now_s: float) -> OperatorInput: ...


class ScriptedCrew:
    """``OperatorSource`` for the control loop (see the module docstring). ``world``: the simulator (its clock
    ``t_s`` drives the script; its subject and true camera are what the crew sees in the video)."""

    def __init__(self, world: World, hands: CrewHands, script: OperatorScript | None = None) -> None:
        self.world = world
        self.hands = hands
        self.script = script or OperatorScript()
        self._engaged_once = False
        self._deadman_held = True
        self._lost_since_s: float | None = None
        self._next_click_s = -math.inf
        self._mode_switched = False
        #: Times the crew had to click the subject again after the stack lost it.
        self.redesignations = 0

    def act(self, now_s: float, pipeline: Pipeline, camera: CameraModel | None) -> OperatorInput:
        s, t = self.script, self.world.t_s
        engage = t >= s.engage_at_s and (s.disengage_at_s is None or t < s.disengage_at_s)
        if engage and not self._engaged_once:
            self._engaged_once = self.hands.engage(now_s)
        if s.disengage_at_s is not None and t >= s.disengage_at_s and self.hands.following():
            self.hands.disengage(now_s, "operator disengaged (script)")
        if s.pilot_mode_at_s is not None and t >= s.pilot_mode_at_s[0] and not self._mode_switched:
            self._mode_switched = True
            self.hands.pilot_set_mode(s.pilot_mode_at_s[1])
        held = not (s.deadman_lost_s is not None and s.deadman_lost_s[0] <= t < s.deadman_lost_s[1])
        if held != self._deadman_held:
            self._deadman_held = held
            self.hands.set_deadman(held)
        lock = pipeline.lock
        if lock.state not in (LockState.LOST, LockState.NONE):
            self._lost_since_s = None
        elif lock.track_id is not None and s.redesignate_after_s is not None:
            self._lost_since_s = now_s if self._lost_since_s is None else self._lost_since_s
            if now_s - self._lost_since_s >= s.redesignate_after_s:  # the crew notices and clicks again
                self.hands.stop_tracking(now_s)
                self.redesignations += 1
                self._lost_since_s = None
        if self._engaged_once and self.hands.following() and lock.track_id is None and now_s >= self._next_click_s:
            self._next_click_s = now_s + self.hands.click_period_s
            subject = self.world.subject
            point = subject_image_point(self.world.camera_model(), subject.position_ned_m, subject.height_m)
            if point is not None:
                self.hands.click(now_s, *point)
        return self.hands.operator_input(now_s)


class ConsoleHands:
    """The crew at the stack's own console (direct and camera-in-the-loop runs: no autopilot link). Its click
    goes through ``handler`` at once (one click per period at most, ``click_period_s`` 0)."""

    click_period_s = 0.0

    def __init__(self, handler: PipelineTrackingHandler) -> None:
        self.handler = handler
        handler.on_change = self._on_change
        self._engaged = False
        self._deadman = True
        self._subject: int | None = None

    def _on_change(self, track_id: int | None) -> None:
        self._subject = track_id

    def engage(self, now_s: float) -> bool:
        self._engaged = True
        return True

    def disengage(self, now_s: float, reason: str) -> None:
        self._engaged = False
        self._subject = None

    def following(self) -> bool:
        return self._engaged

    def set_deadman(self, held: bool) -> None:
        self._deadman = held

    def pilot_set_mode(self, mode: str) -> None:
        raise ValueError(f"pilot_mode_at_s ({mode}): the in-process autopilot has no flight modes to switch; "
                         "use a MAVLink runner")

    def click(self, now_s: float, u_norm: float, v_norm: float) -> None:
        ok, reason = self.handler.on_track_point(u_norm, v_norm)
        if not ok:
            log.debug("crew click at (%.3f, %.3f) refused: %s", u_norm, v_norm, reason)

    def stop_tracking(self, now_s: float) -> None:
        self.handler.on_stop_tracking()

    def operator_input(self, now_s: float) -> OperatorInput:
        return OperatorInput(engaged=self._engaged, deadman_ok=self._deadman,
                             subject_track_id=self._subject if self._engaged else None, stamp_s=now_s)


class GroundStationHands:
    """The crew with a ground station on the vehicle's MAVLink network and the companion's console.

    ``bridge``: the stack's bridge (engage/disengage are console actions on the companion). ``gcs``: the crew's
    ground station (its heartbeat is the dead-man; clicks go to ``target_system``'s camera component).
    ``set_rc(channel, pwm_us)``: the pilot's RC dead-man switch, when ``deadman_rc_channel`` is configured.
    ``click_period_s``: the crew clicks again at most this often while nothing is locked."""

    def __init__(self, bridge: MavlinkBridge, gcs: ScriptedGroundStation, pipeline: Pipeline, *,
                 target_system: int, deadman_rc_channel: int | None = None,
                 set_rc: Callable[[int, int], None] | None = None, click_period_s: float = 0.5) -> None:
        self.click_period_s = click_period_s
        self._last_refusal: str | None = None
        self.bridge = bridge
        self.gcs = gcs
        self.pipeline = pipeline
        self.target_system = target_system
        self.deadman_rc_channel = deadman_rc_channel
        self.set_rc = set_rc

    def engage(self, now_s: float) -> bool:
        ok, why = self.bridge.engage(now_s)
        if not ok and why != self._last_refusal:  # said once per reason, not every period
            log.info("operator engage refused at %.2f s: %s", now_s, why)
        self._last_refusal = None if ok else why
        return ok

    def disengage(self, now_s: float, reason: str) -> None:
        self.bridge.disengage(now_s, reason)

    def following(self) -> bool:
        return self.bridge.engagement.following

    def set_deadman(self, held: bool) -> None:
        self.gcs.heartbeats_enabled = held
        if self.deadman_rc_channel is not None and self.set_rc is not None:
            self.set_rc(self.deadman_rc_channel, 2000 if held else 1000)

    def pilot_set_mode(self, mode: str) -> None:
        """DO_SET_MODE from the ground station (the pilot's action; the crew does not wait for the ACK)."""
        self.gcs.send(self.gcs.link.mav.command_long_encode(
            self.target_system, mav2.MAV_COMP_ID_AUTOPILOT1, mav2.MAV_CMD_DO_SET_MODE, 0,
            mav2.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, int(CopterMode[mode]), 0, 0, 0, 0, 0))

    def click(self, now_s: float, u_norm: float, v_norm: float) -> None:
        self.gcs.send(self.gcs.link.mav.command_long_encode(
            self.target_system, mav2.MAV_COMP_ID_CAMERA, mav2.MAV_CMD_CAMERA_TRACK_POINT, 0,
            u_norm, v_norm, 0.0, 0, 0, 0, 0))

    def stop_tracking(self, now_s: float) -> None:
        # The crew's "stop tracking" reaches the lock directly: the next click designates afresh.
        self.pipeline.release_subject()

    def operator_input(self, now_s: float) -> OperatorInput:
        return self.bridge.operator_input(now_s)


__all__ = ["ConsoleHands", "CrewHands", "GroundStationHands", "OperatorScript", "ScriptedCrew",
           "subject_image_point"]
