"""The live loop: frames -> detector -> Pipeline -> MAVLink bridge, with the camera pose from telemetry.

Perception-only by default: tracking, the camera-tracking protocol (the operator clicks the subject in
QGroundControl), status back to the ground station and the flight record; not one setpoint is sent. Closed loop
(``control=True``) is allowed only when the configuration declares the vehicle tethered or the autopilot is a
simulator (charter item 7): :func:`check_control_allowed` raises :class:`CharterViolation` otherwise.

In closed loop, the operator's camera-tracking lock (a click or box in the ground station) is the engage action and
``STOP_TRACKING`` the disengage; the bridge's own rules still apply (armed, GUIDED/OFFBOARD chosen by the pilot,
live dead-man, link up), and its stall check sends one hold and a BRAKE request when the loop stops producing.
The frame source paces the loop (:class:`FramePacedClock`): one period per frame.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from drone_perception.camera_pose import intrinsics_from_config
from drone_perception.config import StackConfig
from drone_perception.errors import CharterViolation
from drone_perception.loop import ControlLoop, Period, Sensed
from drone_perception.pipeline import Pipeline
from drone_perception.record.header import record_run_header
from drone_perception.selection import PipelineTrackingHandler
from drone_perception.sources import RawFrame
from drone_perception.types import CameraModel, OperatorInput
from firmware_bridge.bridge import MavlinkBridge
from firmware_bridge.loop_link import BridgeVehicleLink, connect_bridge, open_bridge, prepare_autopilot

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


class FrameSource(Protocol):
    def read(self, timeout_s: float = ...) -> RawFrame: ...

    def close(self) -> None: ...


class FramePacedClock:
    """``PeriodClock`` and ``PerceptionSource`` in one: the camera paces the live loop. ``next_period`` blocks
    for the next frame (``SourceExhausted`` at the end of a finite source), then reads ``clock``; ``sense``
    hands that frame's image to the pipeline's detector."""

    def __init__(self, source: FrameSource, clock: Callable[[], float], read_timeout_s: float) -> None:
        self.source = source
        self.clock = clock
        self.read_timeout_s = read_timeout_s
        self._raw: RawFrame | None = None

    def next_period(self) -> float:
        self._raw = self.source.read(timeout_s=self.read_timeout_s)
        return self.clock()

    def sense(self, now_s: float) -> Sensed:
        raw, self._raw = self._raw, None
        return Sensed() if raw is None else Sensed(image=raw.image, seq=raw.seq)


class GroundStationOperator:
    """``OperatorSource`` of a live run: the operator acts at the ground station (clicks, dead-man) and the bridge
    turns that into operator input. ``on_selection`` is the tracking handler's ``on_change``: in closed loop a
    lock engages and a release disengages."""

    def __init__(self, bridge: MavlinkBridge, *, control: bool, clock: Callable[[], float]) -> None:
        self.bridge = bridge
        self.control = control
        self.clock = clock

    def act(self, now_s: float, pipeline: Pipeline, camera: CameraModel | None) -> OperatorInput:
        return self.bridge.operator_input(now_s)

    def on_selection(self, track_id: int | None) -> None:
        now = self.clock()
        self.bridge.engagement.select_subject(track_id)
        if not self.control:
            return
        if track_id is None:
            self.bridge.disengage(now, "operator stopped tracking")
        else:
            ok, why = self.bridge.engage(now)
            log.info("operator engage on track %d: %s", track_id, why if not ok else "engaged")


@dataclass(frozen=True)
class LiveStats:
    """What one live run did. ``stop_reason``: why it ended (end of video, max frames)."""

    frames: int
    setpoints_sent: int
    locked_frames: int
    stop_reason: str


class _LockedFrames:
    """Observer: periods in which a subject was locked."""

    def __init__(self) -> None:
        self.count = 0

    def on_period(self, period: Period) -> None:
        self.count += int(period.output is not None and period.output.lock.track_id is not None)


class LiveLoop:
    """The live run assembled on the control loop: one frame per period.

    ``bridge``: a connected ``firmware_bridge.MavlinkBridge``. ``clock``: the same clock the bridge uses.
    ``link_dead_s``: the link down this long ends the run with ``LinkTimeout`` (after a hold when following).
    Call :func:`check_control_allowed` before building one with ``control=True``.
    """

    def __init__(self, config: StackConfig, pipeline: Pipeline, bridge: MavlinkBridge, source: FrameSource, *,
                 control: bool, clock: Callable[[], float] = time.monotonic, link_dead_s: float = 3.0,
                 status_period_s: float = 0.2, read_timeout_s: float = 2.0) -> None:
        self.bridge = bridge
        self.source = source
        self.control = control
        self.clock = clock
        intrinsics = intrinsics_from_config(config)
        self.operator = GroundStationOperator(bridge, control=control, clock=clock)
        self._locked = _LockedFrames()
        frames = FramePacedClock(source, clock, read_timeout_s)
        link = BridgeVehicleLink(bridge, intrinsics, control=control, gimbal_pitch_rad=config.camera.gimbal_pitch_rad,
                                 link_dead_s=link_dead_s, status_period_s=status_period_s)
        placeholder = CameraModel.from_gimbal(intrinsics, np.zeros(3), 0.0, config.camera.gimbal_pitch_rad)
        self.loop = ControlLoop(pipeline, clock=frames, vehicle=link, perception=frames, operator=self.operator,
                                observers=[self._locked], placeholder_camera=placeholder)

    def on_operator_selection(self, track_id: int | None) -> None:
        """The operator locked (engage) or released (disengage) a subject in the ground station."""
        self.operator.on_selection(track_id)

    def step(self) -> Period:
        """One frame. Raises ``SourceExhausted`` at the end of a finite source, ``LinkTimeout`` on a dead link."""
        return self.loop.step()

    def run(self, max_frames: int | None = None) -> LiveStats:
        """Until the source ends (clean stop) or ``max_frames``. A dead link raises ``LinkTimeout``."""
        try:
            stats = self.loop.run(max_frames, freeze_heap=True)
        finally:
            if self.control and self.bridge.engagement.following:
                self.bridge.disengage(self.clock(), "live loop stopped")
            self.source.close()
        reason = stats.stop_reason if stats.stop_reason.startswith("source ended") else "max frames"
        return LiveStats(stats.periods, stats.sent, self._locked.count, reason)


def run_live(config: StackConfig, *, connect: str, source: str, control: bool = False, sitl: bool = False,
             record: Path | None = None, connect_timeout_s: float = 10.0, max_frames: int | None = None,
             detector: Any = None) -> LiveStats:
    """Build and run the live loop. The charter check comes first, before any device or link is opened.
    ``detector``: inject one (tests); default ``load_detector(config.detector)``."""
    check_control_allowed(config, control=control, sitl=sitl)
    from drone_perception.detect import load_detector
    from drone_perception.record.mcap_recorder import FlightRecorder
    from drone_perception.sources import open_source
    from drone_perception.track.bytetrack import ByteTracker

    recorder = FlightRecorder(record) if record is not None else None
    src = open_source(source)
    bridge = None
    try:
        pipeline = Pipeline(config, tracker=ByteTracker(config.tracker),
                            detector=detector if detector is not None else load_detector(config.detector),
                            recorder=recorder)
        handler = PipelineTrackingHandler(pipeline, intrinsics_from_config(config))
        bridge = open_bridge(config, connect, recorder=recorder, tracking_handler=handler)
        connect_bridge(bridge, connect, timeout_s=connect_timeout_s)
        if recorder is not None:
            record_run_header(recorder, config, stamp_s=time.monotonic(), scenario=None,
                              link="sitl" if sitl else "mavlink", source=str(source), control=control)
        if control:  # the autopilot's own layer first: a short setpoint timeout and the fence, both read back
            prepare_autopilot(bridge, config, timeout_s=connect_timeout_s,
                              fence=config.fence if config.link.upload_fence else None)
        loop = LiveLoop(config, pipeline, bridge, src, control=control)
        handler.on_change = loop.on_operator_selection
        return loop.run(max_frames)
    finally:
        src.close()
        if bridge is not None:
            bridge.close()
        if recorder is not None:
            recorder.close()


__all__ = ["FramePacedClock", "GroundStationOperator", "LiveLoop", "LiveStats", "check_control_allowed", "run_live"]
