"""The pipeline fails closed: any stage failure (an expected error or a plain bug) becomes a hold (charter 3)."""

from __future__ import annotations

import numpy as np
import pytest

from drone_perception.config import StackConfig
from drone_perception.pipeline import Pipeline
from drone_perception.types import (
    CameraIntrinsics,
    CameraModel,
    Detections,
    OperatorInput,
    Tracks,
    VehicleState,
    Verdict,
)


class BrokenTracker:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def update(self, detections, camera, dt_s) -> Tracks:
        raise self.exc

    def reset(self) -> None:
        return None


@pytest.mark.parametrize("exc", [ValueError("bad value"), IndexError("a bug"), RuntimeError("a bug"),
                                 ZeroDivisionError("a bug")])
def test_a_failing_stage_ends_in_a_hold(exc):
    pipe = Pipeline(StackConfig(), tracker=BrokenTracker(exc))
    now = 10.0
    vehicle = VehicleState([0, 0, -10], [1.0, 0, 0], [0, 0, 0], True, "GUIDED", True, now)
    camera = CameraModel.from_gimbal(CameraIntrinsics.from_hfov(1.2, (640, 480)), [0, 0, -10], 0.0, -0.35)
    dets = Detections(np.array([[300, 200, 320, 260]]), [0.9], [0], now)
    out = pipe.step(now_s=now, vehicle=vehicle, operator=OperatorInput(True, True, 1, now), camera=camera,
                    detections=dets)
    assert out.send  # engaged: the hold is sent
    assert out.safe.verdict is Verdict.HOLD
    assert out.safe.command.velocity_ned_mps.tolist() == [0.0, 0.0, 0.0]
    assert not out.estimate.valid
