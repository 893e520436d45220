"""The operator's choice of subject from a ground-station click or drag box: one rule for every path.

The ground station's camera-tracking commands (a click: ``MAV_CMD_CAMERA_TRACK_POINT``; a drag box:
``MAV_CMD_CAMERA_TRACK_RECTANGLE``; QGroundControl sends these) and the simulator's scripted crew both end in
:meth:`SubjectLock.lock_at_pixel` / :meth:`SubjectLock.lock_in_box` through :class:`PipelineTrackingHandler`:
a click inside two or more confirmed boxes, or a box that overlaps two tracks about equally, is **refused**
(never "the nearest one"), and the reason goes back to the operator (the bridge sends it as STATUSTEXT).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from drone_perception.pipeline import Pipeline
from drone_perception.types import CameraIntrinsics


def _short(reason: str) -> str:
    """The lock's reason without its "refused: " prefix (the ground station's text says "track refused")."""
    return reason.removeprefix("refused: ")


class PipelineTrackingHandler:
    """``firmware_bridge.camera_tracking.TrackingHandler`` over a :class:`Pipeline`: the operator's click
    (normalised image point, x right, y down, 0..1) or box locks the one confirmed track it designates.
    ``on_change(track_id | None)`` is told about every accepted lock and release (the loop uses it to engage /
    disengage, and to keep the bridge's operator input in step)."""

    def __init__(self, pipeline: Pipeline, intrinsics: CameraIntrinsics,
                 on_change: Callable[[int | None], None] | None = None) -> None:
        self.pipeline = pipeline
        self.size_wh_px = intrinsics.size_wh_px
        self.on_change = on_change

    def _done(self, track_id: int | None, reason: str) -> tuple[bool, str]:
        if track_id is None:
            return False, _short(reason)
        if self.on_change is not None:
            self.on_change(track_id)
        return True, reason

    def on_track_point(self, u_norm: float, v_norm: float) -> tuple[bool, str]:
        w, h = self.size_wh_px
        return self._done(*self.pipeline.select_at_pixel(u_norm * w, v_norm * h))

    def on_track_rectangle(self, x1_norm: float, y1_norm: float, x2_norm: float,
                           y2_norm: float) -> tuple[bool, str]:
        w, h = self.size_wh_px
        box = np.array([x1_norm * w, y1_norm * h, x2_norm * w, y2_norm * h])
        return self._done(*self.pipeline.select_in_box(box))

    def on_stop_tracking(self) -> tuple[bool, str]:
        self.pipeline.release_subject()
        if self.on_change is not None:
            self.on_change(None)
        return True, "released"


__all__ = ["PipelineTrackingHandler"]
