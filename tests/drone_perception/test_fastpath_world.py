"""Oracle tests: the simulator's scalar fast paths equal the numpy code they replace, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.world.world import _polygon_signed_distance_numpy, _polygon_signed_distance_scalar, polygon_signed_distance_m


def _random_polygon(rng: np.random.Generator) -> np.ndarray:
    n = int(rng.integers(3, 9))
    angles = np.sort(rng.uniform(0.0, 2.0 * math.pi, n))
    radii = rng.uniform(5.0, 120.0, n)
    poly = np.column_stack([radii * np.cos(angles), radii * np.sin(angles)]) + rng.uniform(-20, 20, 2)
    if rng.random() < 0.2:  # axis-aligned edges (ab_n == 0) and a repeated vertex (zero-length edge)
        poly = np.array([[-50.0, -40.0], [-50.0, 60.0], [70.0, 60.0], [70.0, 60.0], [70.0, -40.0]])
    return poly


@pytest.mark.parametrize("seed", range(5))
def test_polygon_distance_scalar_equals_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(400):
        poly = _random_polygon(rng)
        point = rng.uniform(-150.0, 150.0, 2)
        if rng.random() < 0.1:
            point = poly[int(rng.integers(len(poly)))].copy()  # on a vertex
        want = _polygon_signed_distance_numpy(point, poly)
        got = _polygon_signed_distance_scalar(float(point[0]), float(point[1]), poly.tolist())
        assert got == want or (math.isnan(got) and math.isnan(want)), (point, poly)
        assert polygon_signed_distance_m(point, poly) == got


def test_polygon_distance_non_finite_uses_numpy() -> None:
    square = np.array([[0.0, 0.0], [0.0, 10.0], [10.0, 10.0], [10.0, 0.0]])
    assert math.isnan(polygon_signed_distance_m(np.array([math.nan, 1.0]), square))
