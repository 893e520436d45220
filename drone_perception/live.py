"""The live loop: frames -> detector -> Pipeline -> MAVLink bridge, with the camera pose from telemetry.

Perception-only by default: tracking, the camera-tracking protocol (the operator clicks the subject in
QGroundControl), status back to the ground station and the flight record; not one setpoint is sent. Closed loop
(``control=True``) is allowed only when the configuration declares the vehicle tethered or the autopilot is a
simulator (charter item 7): :func:`check_control_allowed` raises :class:`CharterViolation` otherwise.

In closed loop, the operator's camera-tracking lock (a click or box in the ground station) is the engage action and
``STOP_TRACKING`` the disengage; the bridge's own rules still apply (armed, GUIDED/OFFBOARD chosen by the pilot,
live dead-man, link up), and its stall check sends one hold and a BRAKE request when the loop stops producing.

Camera pose: the optical centre at the reported vehicle position (NED m), camera yaw = vehicle yaw (rad, 0 = north,
positive east), pitch = the configured gimbal pitch (rad, negative = down), or the gimbal's reported pitch when the
autopilot streams it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from drone_perception.config import StackConfig
from drone_perception.errors import CharterViolation, SourceExhausted
from drone_perception.pipeline import Pipeline, PipelineOutput
from drone_perception.realtime import release_heap, settle_heap
from drone_perception.sources import RawFrame
from drone_perception.types import CameraIntrinsics, CameraModel, Frame, Tracks, TrackState, VehicleState

log = logging.getLogger(__name__)


def check_control_allowed(config: StackConfig, *, control: bool, sitl: bool) -> None:
    """Charter item 7: closed-loop follow on real hardware only when tethered (or against a simulator).

    Raises :class:`CharterViolation` naming ``fence.tethered`` when ``control`` is asked for untethered, off SITL.
    """
    if control and not (config.fence.tethered or sitl):
        raise CharterViolation(
            "closed-loop control refused (charter item 7): fence.tethered = false and the link is not a "
            "simulator; set fence.tethered: true with fence.tether_length_m for a tethered vehicle, pass --sitl "
            "for an autopilot SITL, or drop --control for perception-only tracking")


def intrinsics_from_config(config: StackConfig) -> CameraIntrinsics:
    cam = config.camera
    return CameraIntrinsics.from_hfov(cam.hfov_rad, (cam.width_px, cam.height_px))


def camera_from_vehicle(intrinsics: CameraIntrinsics, state: VehicleState,
                        gimbal_pitch_rad: float) -> CameraModel | None:
    """The camera at ``state``'s position looking along its yaw, pitched ``gimbal_pitch_rad`` (rad, negative =
    down). None when the telemetry holds no finite position or yaw yet (perception then runs without geometry)."""
    pos = np.asarray(state.position_ned_m, dtype=float)
    yaw = float(np.asarray(state.attitude_rpy_rad, dtype=float)[2])
    if not (np.all(np.isfinite(pos)) and math.isfinite(yaw) and math.isfinite(gimbal_pitch_rad)):
        return None
    return CameraModel.from_gimbal(intrinsics, pos, yaw, gimbal_pitch_rad)


class PipelineTrackingHandler:
    """``firmware_bridge.camera_tracking.TrackingHandler`` over a :class:`Pipeline`: the operator's click
    (normalised image point) or box locks the confirmed track under it. ``on_change(track_id | None)`` is told
    about every accepted lock and release (the loop uses it to engage/disengage, and to keep the bridge's
    operator input in step)."""

    def __init__(self, pipeline: Pipeline, intrinsics: CameraIntrinsics,
                 on_change: Callable[[int | None], None] | None = None) -> None:
        self.pipeline = pipeline
        self.size_wh_px = intrinsics.size_wh_px
        self.on_change = on_change

    def _confirmed(self) -> Tracks | None:
        tracks = self.pipeline.tracks
        return tracks if tracks is not None and len(tracks) else None

    def _lock(self, track_id: int | None, what: str) -> tuple[bool, str]:
        if track_id is None:
            return False, f"no confirmed person under the {what}"
        ok, reason = self.pipeline.select_subject(track_id)
        if ok and self.on_change is not None:
            self.on_change(track_id)
        return ok, reason

    def on_track_point(self, u_norm: float, v_norm: float) -> tuple[bool, str]:
        tracks = self._confirmed()
        if tracks is None:
            return False, "no tracks yet"
        u, v = u_norm * self.size_wh_px[0], v_norm * self.size_wh_px[1]
        best: tuple[float, int] | None = None
        for i in range(len(tracks)):
            x1, y1, x2, y2 = (float(c) for c in tracks.xyxy_px[i])
            if tracks.state[i] == TrackState.CONFIRMED and x1 <= u <= x2 and y1 <= v <= y2:
                d = (u - (x1 + x2) / 2) ** 2 + (v - (y1 + y2) / 2) ** 2
                if best is None or d < best[0]:
                    best = (d, int(tracks.track_id[i]))
        return self._lock(None if best is None else best[1], "point")

    def on_track_rectangle(self, x1_norm: float, y1_norm: float, x2_norm: float,
                           y2_norm: float) -> tuple[bool, str]:
        tracks = self._confirmed()
        if tracks is None:
            return False, "no tracks yet"
        w, h = self.size_wh_px
        box = np.array([x1_norm * w, y1_norm * h, x2_norm * w, y2_norm * h])
        best: tuple[float, int] | None = None
        for i in range(len(tracks)):
            if tracks.state[i] != TrackState.CONFIRMED:
                continue
            t = tracks.xyxy_px[i].astype(float)
            iw = max(0.0, min(box[2], t[2]) - max(box[0], t[0]))
            ih = max(0.0, min(box[3], t[3]) - max(box[1], t[1]))
            inter = iw * ih
            union = (box[2] - box[0]) * (box[3] - box[1]) + (t[2] - t[0]) * (t[3] - t[1]) - inter
            iou = inter / union if union > 0 else 0.0
            if iou >= 0.3 and (best is None or iou > best[0]):
                best = (iou, int(tracks.track_id[i]))
        return self._lock(None if best is None else best[1], "box")

    def on_stop_tracking(self) -> tuple[bool, str]:
        self.pipeline.release_subject()
        if self.on_change is not None:
            self.on_change(None)
        return True, "released"


def publish_tracking_status(bridge: Any, out: PipelineOutput, intrinsics: CameraIntrinsics, now_s: float) -> None:
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


class FrameSource(Protocol):
    def read(self, timeout_s: float = ...) -> RawFrame: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class LiveStats:
    """What one live run did. ``stop_reason``: why it ended (end of video, max frames)."""

    frames: int
    setpoints_sent: int
    locked_frames: int
    stop_reason: str


class LiveLoop:
    """One frame per iteration: poll telemetry, detect, run the pipeline, (closed loop only) send.

    ``bridge``: a connected ``firmware_bridge.MavlinkBridge``. ``clock``: the same clock the bridge uses.
    ``link_dead_s``: the link down this long ends the run with ``LinkTimeout`` (after a hold when following).
    Call :func:`check_control_allowed` before building one with ``control=True``.
    """

    def __init__(self, config: StackConfig, pipeline: Pipeline, bridge: Any, source: FrameSource, *,
                 control: bool, clock: Callable[[], float] = time.monotonic, link_dead_s: float = 3.0,
                 status_period_s: float = 0.2, read_timeout_s: float = 2.0) -> None:
        self.config = config
        self.pipeline = pipeline
        self.bridge = bridge
        self.source = source
        self.control = control
        self.clock = clock
        self.link_dead_s = link_dead_s
        self.status_period_s = status_period_s
        self.read_timeout_s = read_timeout_s
        self.intrinsics = intrinsics_from_config(config)
        self._placeholder = CameraModel.from_gimbal(self.intrinsics, np.zeros(3), 0.0, config.camera.gimbal_pitch_rad)
        self._next_status_s = -math.inf
        self._link_down_since: float | None = None
        self.frames = self.setpoints_sent = self.locked_frames = 0

    def on_operator_selection(self, track_id: int | None) -> None:
        """The operator locked (engage) or released (disengage) a subject in the ground station."""
        now = self.clock()
        self.bridge.engagement.select_subject(track_id)
        if not self.control:
            return
        if track_id is None:
            self.bridge.disengage(now, "operator stopped tracking")
        else:
            ok, why = self.bridge.engage(now)
            log.info("operator engage on track %d: %s", track_id, why if not ok else "engaged")

    def _pitch_rad(self) -> float:
        gimbal = getattr(self.bridge.telemetry, "gimbal", None)
        pitch = getattr(gimbal, "pitch_rad", None)
        return float(pitch) if pitch is not None and math.isfinite(pitch) else self.config.camera.gimbal_pitch_rad

    def step(self) -> PipelineOutput:
        """One frame. Raises ``SourceExhausted`` at the end of a finite source, ``LinkTimeout`` on a dead link."""
        from firmware_bridge.errors import LinkTimeout

        raw = self.source.read(timeout_s=self.read_timeout_s)
        now = self.clock()
        state = self.bridge.poll(now)
        if state.link_ok:
            self._link_down_since = None
        elif self._link_down_since is None:
            self._link_down_since = now
        elif now - self._link_down_since > self.link_dead_s:
            if self.bridge.engagement.following:
                self.bridge.disengage(now, "autopilot link dead")
            raise LinkTimeout(f"autopilot link on {self.bridge.link.connection} dead for more than "
                              f"{self.link_dead_s:.1f} s (no heartbeat/telemetry): stopped")
        camera = camera_from_vehicle(self.intrinsics, state, self._pitch_rad())
        frame = Frame(raw.image, now, raw.seq, camera if camera is not None else self._placeholder)
        out = self.pipeline.step(now_s=now, vehicle=state, operator=self.bridge.operator_input(now),
                                 camera=camera, frame=frame)
        if self.control:
            if out.send and self.bridge.send(out.safe, now):
                self.setpoints_sent += 1
            if self.bridge.engagement.following:  # after a disengage silence is expected, not a stall
                self.bridge.check_stall(now)
        self.frames += 1
        self.locked_frames += int(out.lock.track_id is not None)
        self._publish_status(out, now)
        return out

    def _publish_status(self, out: PipelineOutput, now: float) -> None:
        if now >= self._next_status_s:
            self._next_status_s = now + self.status_period_s
            publish_tracking_status(self.bridge, out, self.intrinsics, now)

    def run(self, max_frames: int | None = None) -> LiveStats:
        """Until the source ends (clean stop) or ``max_frames``. A dead link raises ``LinkTimeout``."""
        reason = "max frames"
        settle_heap()  # no full collection of the start-up heap inside a control period
        try:
            while max_frames is None or self.frames < max_frames:
                try:
                    self.step()
                except SourceExhausted as exc:
                    reason = f"source ended: {exc}"
                    break
        finally:
            release_heap()
            if self.control and self.bridge.engagement.following:
                self.bridge.disengage(self.clock(), "live loop stopped")
            self.source.close()
        return LiveStats(self.frames, self.setpoints_sent, self.locked_frames, reason)


__all__ = ["LiveLoop", "LiveStats", "PipelineTrackingHandler", "camera_from_vehicle", "check_control_allowed",
           "intrinsics_from_config", "publish_tracking_status"]
