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


@pytest.mark.parametrize("seed", range(60))
def test_person_box_scalar_matches_numpy(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    camera = _camera(rng)
    n = int(rng.integers(0, 6))
    # feet around the point the optical axis meets the ground, some behind or beside the camera
    ahead = camera.position_ned_m + camera.R_ned_from_cam[:, 2] * float(rng.uniform(5, 80))
    foot = np.column_stack([ahead[:2] + rng.normal(0.0, 30.0, (n, 2)), rng.uniform(-1.0, 1.0, n)])
    h = rng.uniform(0.5, 2.5, n)
    w = rng.uniform(0.0, 1.0, n)
    right = camera.R_ned_from_cam[:, 0].copy()
    right[2] = 0.0
    right /= np.linalg.norm(right)
    fast_box, fast_vis = geo._person_box_scalar(camera, right, foot, h, w)
    box, vis = geo._person_box_numpy(camera, right, foot, h, w)
    np.testing.assert_array_equal(fast_vis, vis)
    np.testing.assert_allclose(fast_box, box, rtol=1e-12, atol=1e-9, equal_nan=True)


def _observed_sector_reference(camera: CameraModel, min_range_m: float, ground_down_m: float) -> tuple[float, float]:
    """The original per-column implementation of ``observed_sector`` (before the cached border rays)."""
    R = camera.R_ned_from_cam
    right_h = R[:2, 0]
    fwd_h = R[:2, 2] if np.linalg.norm(right_h) < 1e-9 else np.array([right_h[1], -right_h[0]])
    center = float(np.arctan2(fwd_h[1], fwd_h[0]))
    w_img, h_img = camera.intrinsics.size_wh_px
    rows = np.linspace(0.0, float(h_img), 33)
    c, s = np.cos(center), np.sin(center)
    height_m = ground_down_m - camera.position_ned_m[2]
    usable = np.ones(rows.size, dtype=bool)
    bearing = []
    for col in (0.0, float(w_img)):
        d = geo.rays_ned(camera, np.column_stack([np.full_like(rows, col), rows]))
        fwd = d[:, 0] * c + d[:, 1] * s
        side = -d[:, 0] * s + d[:, 1] * c
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ground_fwd_m = np.where(d[:, 2] > 1e-6, height_m * fwd / d[:, 2], np.inf)
        usable &= (fwd > 1e-6) & (ground_fwd_m >= min_range_m)
        bearing.append(np.arctan2(side, fwd))
    if not np.any(usable):
        return center, 0.0
    half = np.minimum(-bearing[0][usable], bearing[1][usable])
    return center, float(max(0.0, half.min()))


@pytest.mark.parametrize("seed", range(60))
def test_observed_sector_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(2000 + seed)
    camera = _camera(rng)
    min_range_m = float(rng.choice([0.0, rng.uniform(0.0, 60.0)]))
    ground_down_m = float(rng.uniform(-1.0, 1.0))
    got = geo.observed_sector(camera, min_range_m=min_range_m, ground_down_m=ground_down_m)
    want = _observed_sector_reference(camera, min_range_m, ground_down_m)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
