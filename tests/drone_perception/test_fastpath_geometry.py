"""Oracle tests: the float-level fast paths of geometry give bit-identical results to the numpy code they
replaced (kept here as the reference), not merely close ones: the closed loop's trajectories depend on it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drone_perception import geometry as geo
from drone_perception import geometry_scalar as _scalar
from drone_perception.types import CameraIntrinsics, CameraModel


def _camera(rng: np.random.Generator) -> CameraModel:
    intr = CameraIntrinsics.from_hfov(float(rng.uniform(0.6, 1.8)), (int(rng.integers(320, 1920)),
                                                                      int(rng.integers(240, 1080))))
    pos = [float(rng.uniform(-50, 50)), float(rng.uniform(-50, 50)), float(rng.uniform(-40, -0.5))]
    return CameraModel.from_gimbal(intr, pos, float(rng.uniform(-np.pi, np.pi)), float(rng.uniform(-1.5, 0.3)))


def _reference_right(camera: CameraModel) -> np.ndarray:
    right = camera.R_ned_from_cam[:, 0].copy()
    right[2] = 0.0
    norm = np.linalg.norm(right)
    return right / norm if norm > 1e-9 else np.array([0.0, 1.0, 0.0])


def _reference_locate_scalar(camera: CameraModel, boxes: np.ndarray, *args: float) -> geo.PersonFix:
    """The row loop as it was: arrays filled row by row, the range by ``np.linalg.norm``."""
    n = boxes.shape[0]
    cam = _scalar.Cam(camera)
    position = np.full((n, 3), np.nan)
    cov = np.full((n, 3, 3), np.nan)
    valid = np.zeros(n, dtype=bool)
    ground_down_m, ground_sigma_m = args[3], args[4]
    for i, box in enumerate(boxes.tolist()):
        ok, pn, pe, (cnn, cne, cee) = _scalar.locate_row(cam, box, *args)
        if ok:
            valid[i] = True
            position[i] = (pn, pe, ground_down_m)
            cov[i] = ((cnn, cne, 0.0), (cne, cee, 0.0), (0.0, 0.0, ground_sigma_m**2))
    rng = np.linalg.norm(position - camera.position_ned_m, axis=1)
    return geo.PersonFix(position_ned_m=position, cov_ned_m2=cov, range_m=rng, valid=valid)


@pytest.mark.parametrize("seed", range(40))
def test_horizontal_right_is_bit_identical(seed: int) -> None:
    camera = _camera(np.random.default_rng(seed))
    assert np.array_equal(np.array(geo._horizontal_right(camera)), _reference_right(camera))


@pytest.mark.parametrize("seed", range(40))
def test_locate_people_scalar_is_bit_identical(seed: int) -> None:
    rng = np.random.default_rng(500 + seed)
    camera = _camera(rng)
    w, h = camera.intrinsics.size_wh_px
    n = int(rng.integers(0, 7))
    x = np.sort(rng.uniform(-0.05 * w, 1.05 * w, (n, 2)), axis=1)
    y = np.sort(rng.uniform(-0.05 * h, 1.05 * h, (n, 2)), axis=1)
    boxes = np.clip(np.column_stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]]), 0.0, [w, h, w, h])
    args = (1.75, 2.0, 0.15, float(rng.uniform(-1.0, 1.0)), 0.1)
    want = _reference_locate_scalar(camera, boxes, *args)
    for fix in (geo._locate_people_scalar(camera, boxes, *args),
                geo.locate_people(camera, boxes, person_height_m=args[0], pixel_sigma_px=args[1],
                                  height_sigma_m=args[2], ground_down_m=args[3], ground_sigma_m=args[4])):
        for name in ("position_ned_m", "cov_ned_m2", "range_m", "valid"):
            a, b = getattr(fix, name), getattr(want, name)
            assert a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)  # NaN where NaN, every other value bit-identical


def test_locate_people_rejects_bad_boxes_on_the_fast_path() -> None:
    camera = _camera(np.random.default_rng(0))
    with pytest.raises(ValueError, match="NaN or infinite"):
        geo.locate_people(camera, [[0.0, 0.0, math.nan, 10.0]])
    with pytest.raises(ValueError, match="x2 >= x1"):
        geo.locate_people(camera, [[10.0, 0.0, 5.0, 10.0]])


@pytest.mark.parametrize("seed", range(40))
def test_person_box_scalar_is_bit_identical(seed: int) -> None:
    rng = np.random.default_rng(2000 + seed)
    camera = _camera(rng)
    n = int(rng.integers(0, 6))
    ahead = camera.position_ned_m + camera.R_ned_from_cam[:, 2] * float(rng.uniform(5, 80))
    foot = np.column_stack([ahead[:2] + rng.normal(0.0, 30.0, (n, 2)), rng.uniform(-1.0, 1.0, n)])
    hgt, wid = rng.uniform(0.5, 2.5, n), rng.uniform(0.0, 1.0, n)
    right = _reference_right(camera)
    want_box, want_vis = np.empty((n, 4)), np.zeros(n, dtype=bool)
    for i, (f, h_i, w_i) in enumerate(zip(foot.tolist(), hgt.tolist(), wid.tolist())):
        want_box[i], want_vis[i] = _scalar.person_box_row(camera, tuple(right.tolist()), f, h_i, w_i)
    box, vis = geo.person_box(camera, foot, hgt, wid)
    np.testing.assert_array_equal(vis, want_vis)
    np.testing.assert_array_equal(box, want_box)


@pytest.mark.parametrize("seed", range(40))
def test_two_and_three_vector_norms_match_numpy(seed: int) -> None:
    """The float forms used above (``sqrt`` of the squares summed left to right) are numpy's norms."""
    rng = np.random.default_rng(3000 + seed)
    for v in rng.normal(size=(200, 3)) * rng.uniform(0.01, 100.0, (200, 1)):
        x, y, z = v.tolist()
        assert math.sqrt(x * x + y * y + z * z) == np.linalg.norm(v)
        assert math.sqrt(x * x + y * y) == np.linalg.norm(v[:2])
    rows = rng.normal(size=(50, 3)) * 40.0
    assert [math.sqrt(x * x + y * y + z * z) for x, y, z in rows.tolist()] == np.linalg.norm(rows, axis=1).tolist()
