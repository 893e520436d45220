"""Oracle tests: the plain-Python fast paths of geometry agree with the vectorised numpy implementation."""

from __future__ import annotations

import numpy as np
import pytest

from drone_perception import geometry as geo
from drone_perception.types import CameraIntrinsics, CameraModel


def _camera(rng: np.random.Generator) -> CameraModel:
    intr = CameraIntrinsics.from_hfov(float(rng.uniform(0.6, 1.8)), (int(rng.integers(320, 1920)),
                                                                      int(rng.integers(240, 1080))))
    pos = [float(rng.uniform(-50, 50)), float(rng.uniform(-50, 50)), float(rng.uniform(-40, -0.5))]
    return CameraModel.from_gimbal(intr, pos, float(rng.uniform(-np.pi, np.pi)),
                                   float(rng.uniform(-1.5, 0.3)))


def _boxes(rng: np.random.Generator, camera: CameraModel, n: int) -> np.ndarray:
    w, h = camera.intrinsics.size_wh_px
    x = np.sort(rng.uniform(-0.05 * w, 1.05 * w, (n, 2)), axis=1)
    y = np.sort(rng.uniform(-0.05 * h, 1.05 * h, (n, 2)), axis=1)
    boxes = np.column_stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]])
    return np.clip(boxes, 0.0, [w, h, w, h])  # some touch the borders (cut cues)


def _assert_fix_close(a: geo.PersonFix, b: geo.PersonFix) -> None:
    np.testing.assert_array_equal(a.valid, b.valid)
    # The fused point depends on the finite-difference Jacobians, whose rounding noise differs between the
    # two summation orders: compare to a tiny share of the point's own 1-sigma uncertainty.
    sigma = np.sqrt(np.nan_to_num(b.cov_ned_m2[:, 0, 0] + b.cov_ned_m2[:, 1, 1]))
    err = np.abs(a.position_ned_m - b.position_ned_m)
    assert np.array_equal(np.isnan(a.position_ned_m), np.isnan(b.position_ned_m))
    assert np.all(np.nan_to_num(err) <= 1e-9 + 1e-4 * sigma[:, None])
    assert np.all(np.nan_to_num(np.abs(a.range_m - b.range_m)) <= 1e-9 + 1e-4 * sigma)
    scale = np.nanmax(np.abs(b.cov_ned_m2), axis=(1, 2), initial=0.0)[:, None, None] if len(b) else 1.0
    np.testing.assert_allclose(a.cov_ned_m2 / np.maximum(scale, 1e-12), b.cov_ned_m2 / np.maximum(scale, 1e-12),
                               rtol=1e-5, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("seed", range(60))
def test_locate_people_scalar_matches_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    camera = _camera(rng)
    boxes = _boxes(rng, camera, int(rng.integers(0, 6)))
    kw = dict(person_height_m=float(rng.uniform(1.0, 2.0)), pixel_sigma_px=float(rng.uniform(0.5, 4.0)),
              height_sigma_m=float(rng.uniform(0.05, 0.3)), ground_down_m=float(rng.uniform(-1.0, 1.0)),
              ground_sigma_m=float(rng.uniform(0.05, 0.3)))
    fast = geo._locate_people_scalar(camera, boxes, *kw.values())
    oracle = geo._locate_people_numpy(camera, boxes, *kw.values())
    _assert_fix_close(fast, oracle)
