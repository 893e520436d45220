"""Value types: shapes are validated with errors that name the field, arrays are copied and read-only."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from drone_perception.errors import InvalidValueError
from drone_perception.types import (
    CameraIntrinsics,
    CameraModel,
    Detections,
    Frame,
    SafeCommand,
    Tracks,
    VehicleState,
    VelocityCommand,
    Verdict,
    rotation_ned_from_cam,
    to_jsonable,
)


@pytest.mark.parametrize(
    ("xyxy", "conf", "cls", "error"),
    [
        (np.zeros((2, 4)), np.zeros(2), np.zeros(2), None),
        (np.zeros((0, 4)), np.zeros(0), np.zeros(0), None),
        (np.zeros((2, 3)), np.zeros(2), np.zeros(2), "xyxy_px: expected shape (N, 4), got (2, 3)"),
        (np.zeros((2, 4)), np.zeros(3), np.zeros(2), "confidence: expected shape (2), got (3,)"),
        (np.zeros((1, 4)), np.zeros(1), np.zeros(2), "class_id: expected shape (1), got (2,)"),
        ([[0, 0, math.nan, 1]], [0.5], [0], "xyxy_px: contains NaN"),
        ([[10, 0, 5, 1]], [0.5], [0], "x2 >= x1"),
    ],
)
def test_detections_validation(xyxy, conf, cls, error):
    if error is None:
        d = Detections(xyxy, conf, cls, stamp_s=1.0)
        assert len(d) == len(np.asarray(xyxy))
        assert d.xyxy_px.dtype == np.float32
    else:
        with pytest.raises(InvalidValueError, match=error.replace("(", r"\(").replace(")", r"\)")):
            Detections(xyxy, conf, cls, stamp_s=1.0)


def test_detections_do_not_alias_caller_arrays():
    boxes = np.array([[1.0, 2.0, 3.0, 4.0]])
    d = Detections(boxes, [0.9], [0], 0.0)
    boxes[0, 0] = 99.0
    assert d.xyxy_px[0, 0] == 1.0
    with pytest.raises(ValueError):
        d.xyxy_px[0, 0] = 5.0  # read-only


def test_detections_empty_and_select():
    e = Detections.empty(3.0)
    assert len(e) == 0 and e.stamp_s == 3.0
    d = Detections([[0, 0, 1, 1], [2, 2, 3, 3]], [0.2, 0.9], [0, 0], 1.0)
    assert len(d.select(d.confidence > 0.5)) == 1


def test_tracks_reject_duplicate_ids():
    with pytest.raises(InvalidValueError, match="unique"):
        Tracks([1, 1], np.zeros((2, 4)), [1, 1], [0, 0], np.zeros((2, 3)), [1, 1], 0.0)


@pytest.mark.parametrize(
    ("image", "error"),
    [
        (np.zeros((4, 4, 3), np.uint8), None),
        (np.zeros((4, 4), np.uint8), "expected uint8 array of shape"),
        (np.zeros((4, 4, 3), np.float32), "expected uint8"),
        (np.zeros((0, 4, 3), np.uint8), "empty image"),
        ("not an image", "expected uint8"),
    ],
)
def test_frame_validation(image, error):
    cam = CameraModel.from_gimbal(CameraIntrinsics.from_hfov(1.0, (4, 4)), [0, 0, -5], 0.0, -0.3)
    if error is None:
        assert Frame(image, 0.0, 0, cam).seq == 0
    else:
        with pytest.raises(InvalidValueError, match=error):
            Frame(image, 0.0, 0, cam)


@given(st.floats(-math.pi, math.pi), st.floats(-1.5, 1.5))
def test_gimbal_rotation_is_proper(yaw, pitch):
    R = rotation_ned_from_cam(yaw, pitch)
    assert np.allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(R), 1.0)
    # optical axis elevation: negative pitch looks down (positive NED z)
    assert np.isclose(R[2, 2], -math.sin(pitch))
    # image x axis (right) stays horizontal with a roll-free gimbal
    assert abs(R[2, 0]) < 1e-12


def test_safe_command_rejects_nan_and_bad_expiry():
    bad = VelocityCommand([math.nan, 0, 0], 0.0, 1.0)
    assert not bad.is_finite
    with pytest.raises(InvalidValueError, match="finite"):
        SafeCommand(bad, Verdict.HOLD, frozenset(), 2.0)
    with pytest.raises(InvalidValueError, match="expires_at_s"):
        SafeCommand(VelocityCommand.hold(1.0), Verdict.HOLD, frozenset(), 1.0)
    ok = SafeCommand(VelocityCommand.hold(1.0), Verdict.HOLD, frozenset({"x"}), 1.2)
    assert ok.expired(1.2) and not ok.expired(1.19)


def test_vehicle_state_keeps_nan_visible_for_the_governor():
    v = VehicleState([0, 0, math.nan], [0, 0, 0], [0, 0, 0], True, "guided", True, 0.0)
    assert not v.is_finite
    assert v.mode == "GUIDED"


def test_to_jsonable_turns_nan_into_none():
    t = Tracks([3], [[0, 0, 1, 1]], [1], [0.5], [[math.nan, 1.0, 0.0]], [math.nan], 2.0)
    j = to_jsonable(t)
    assert j["position_ned_m"] == [[None, 1.0, 0.0]]
    assert j["track_id"] == [3]
    s = SafeCommand(VelocityCommand.hold(1.0), Verdict.LIMITED, frozenset({"b", "a"}), 1.2)
    assert to_jsonable(s)["limits_applied"] == ["a", "b"]
    assert to_jsonable(s)["verdict"] == "limited"
