"""A scripted operator for closed-loop simulation.

It does what a crew does: with the vehicle already armed, airborne and in GUIDED (the scenario starts there; the
stack never arms), it engages follow after ``engage_at_s``, keeps the dead-man live, and picks the subject by
"clicking" the confirmed track whose box contains the subject's true image position (like a QGroundControl
tracking click). It lives in the simulator only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drone_perception.types import CameraModel, OperatorInput, Tracks, TrackState


@dataclass(frozen=True)
class OperatorScript:
    """When the scripted operator acts (seconds of simulated time)."""

    engage_at_s: float = 1.0
    #: Disengage (follow off, operator flies) at this time; None = stay engaged to the end.
    disengage_at_s: float | None = None
    #: Dead-man released during [start, end) (e.g. to test that a lost dead-man holds).
    deadman_lost_s: tuple[float, float] | None = None
    #: When the stack reports the subject LOST, the operator notices and clicks the subject again after this
    #: long (None: never; the stack then holds until the end). Real crews do this from the ground station.
    redesignate_after_s: float | None = 2.0


class ScriptedOperator:
    def __init__(self, script: OperatorScript | None = None) -> None:
        self.script = script or OperatorScript()
        self._subject_track_id: int | None = None
        self._lost_since_s: float | None = None
        #: How many times the operator had to pick the subject again after the stack lost it.
        self.redesignations = 0

    @property
    def subject_track_id(self) -> int | None:
        return self._subject_track_id

    def step(
        self, now_s: float, tracks: Tracks | None, camera: CameraModel, subject_foot_ned_m: np.ndarray,
        subject_height_m: float, *, lock_lost: bool = False,
    ) -> OperatorInput:
        """``lock_lost``: the ground station shows the stack's lock as lost (or never taken)."""
        s = self.script
        if lock_lost and self._subject_track_id is not None and s.redesignate_after_s is not None:
            if self._lost_since_s is None:
                self._lost_since_s = now_s
            elif now_s - self._lost_since_s >= s.redesignate_after_s:
                self._subject_track_id = None  # click again below
                self._lost_since_s = None
                self.redesignations += 1
        elif not lock_lost:
            self._lost_since_s = None
        engaged = now_s >= s.engage_at_s and (s.disengage_at_s is None or now_s < s.disengage_at_s)
        deadman = not (s.deadman_lost_s is not None and s.deadman_lost_s[0] <= now_s < s.deadman_lost_s[1])
        if engaged and self._subject_track_id is None and tracks is not None and len(tracks):
            self._subject_track_id = self._click_subject(tracks, camera, subject_foot_ned_m, subject_height_m)
        return OperatorInput(
            engaged=engaged,
            deadman_ok=deadman,
            subject_track_id=self._subject_track_id if engaged else None,
            stamp_s=now_s,
        )

    @staticmethod
    def _click_subject(
        tracks: Tracks, camera: CameraModel, foot_ned_m: np.ndarray, height_m: float
    ) -> int | None:
        centre = np.asarray(foot_ned_m, dtype=np.float64) + np.array([0.0, 0.0, -height_m / 2.0])
        p_cam = camera.R_ned_from_cam.T @ (centre - camera.position_ned_m)
        if p_cam[2] <= 0.1:
            return None
        k = camera.intrinsics
        u = k.fx_px * p_cam[0] / p_cam[2] + k.cx_px
        v = k.fy_px * p_cam[1] / p_cam[2] + k.cy_px
        best: tuple[float, int] | None = None
        for i in range(len(tracks)):
            if tracks.state[i] != TrackState.CONFIRMED:
                continue
            x1, y1, x2, y2 = (float(c) for c in tracks.xyxy_px[i])
            if x1 <= u <= x2 and y1 <= v <= y2:
                d = (u - (x1 + x2) / 2) ** 2 + (v - (y1 + y2) / 2) ** 2
                if best is None or d < best[0]:
                    best = (d, int(tracks.track_id[i]))
        return None if best is None else best[1]
