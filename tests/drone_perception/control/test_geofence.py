from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_perception.config import FenceConfig
from drone_perception.control import limits as L
from drone_perception.control.geofence import Geofence, stopping_point

SQUARE = FenceConfig()  # +-150 m, floor 3 m, ceiling 40 m
# an L-shaped (non-convex) polygon: the notch is the quadrant north > 50, east > 50
L_SHAPE = FenceConfig(polygon_ne_m=((0, 0), (100, 0), (100, 50), (50, 50), (50, 100), (0, 100)))
TETHER = FenceConfig(tethered=True, tether_length_m=30.0, tether_anchor_ne_m=(10.0, 0.0))


@pytest.mark.parametrize(
    ("cfg", "point", "inside", "margin"),
    [
        (SQUARE, (0, 0, -10), True, 7.0),  # 7 m above the floor
        (SQUARE, (149, 0, -20), True, 1.0),
        (SQUARE, (151, 0, -20), False, -1.0),
        (SQUARE, (0, 0, -2), False, -1.0),
        (SQUARE, (0, 0, -41), False, -1.0),
        (L_SHAPE, (75, 75, -10), False, -25.0),
        (L_SHAPE, (25, 75, -10), True, 7.0),
        (L_SHAPE, (48, 48, -20), True, math.hypot(2, 2)),  # nearest: the reflex corner
        (TETHER, (10, 0, -20), True, 10.0),
        (TETHER, (10, 25, -20), False, 30 - math.hypot(25, 20)),
    ],
)
def test_contains_and_margin(cfg: FenceConfig, point: tuple[float, float, float], inside: bool,
                             margin: float) -> None:
    fence = Geofence(cfg)
    assert fence.contains(point) is inside
    assert fence.margin_m(point) == pytest.approx(margin)


def test_nan_is_never_inside() -> None:
    assert not Geofence(SQUARE).contains((math.nan, 0.0, -10.0))


@given(n=st.floats(-200, 200), e=st.floats(-200, 200), h=st.floats(-5, 50))
@settings(max_examples=200, deadline=None)
def test_margin_sign_agrees_with_contains(n: float, e: float, h: float) -> None:
    for cfg in (SQUARE, L_SHAPE, TETHER):
        fence = Geofence(cfg)
        m = fence.margin_m((n, e, -h))
        if abs(m) > 1e-9:
            assert fence.contains((n, e, -h)) is (m > 0)


@pytest.mark.parametrize(
    ("v", "lat", "decel", "expected"),
    [((0, 0, 0), 1.0, 2.0, (1, 2, -3)), ((2, 0, 0), 0.5, 2.0, (1 + 1 + 1, 2, -3)),
     ((3, 4, 0), 0.0, 5.0, (1 + 1.5, 2 + 2, -3)), ((0, 0, -2), 1.0, 1.0, (1, 2, -3 - 2 - 2))],
)
def test_stopping_point_formula(v: tuple[float, ...], lat: float, decel: float, expected: tuple[float, ...]) -> None:
    got = stopping_point((1, 2, -3), v, decel_mps2=decel, latency_s=lat)
    assert got == pytest.approx(np.array(expected))
    assert Geofence.stopping_point((1, 2, -3), v, decel_mps2=decel, latency_s=lat) == pytest.approx(got)


def test_stopping_point_rejects_non_positive_decel() -> None:
    with pytest.raises(ValueError, match="decel_mps2"):
        stopping_point((0, 0, 0), (1, 0, 0), decel_mps2=0.0, latency_s=0.1)


def test_boundaries_give_outward_normals_and_distances() -> None:
    fence = Geofence(SQUARE)
    bs = {b.limit: b for b in fence.boundaries((148.0, 0.0, -38.0), within_m=5.0)}
    assert set(bs) == {L.FENCE, L.ALTITUDE_CEILING}
    assert bs[L.FENCE].normal_ned == pytest.approx((1.0, 0.0, 0.0))
    assert bs[L.FENCE].distance_m == pytest.approx(2.0)
    assert bs[L.ALTITUDE_CEILING].normal_ned == (0.0, 0.0, -1.0)
    assert bs[L.ALTITUDE_CEILING].distance_m == pytest.approx(2.0)
    outside = fence.boundaries((155.0, 0.0, -20.0), within_m=1.0)
    assert [b.limit for b in outside] == [L.FENCE]
    assert outside[0].normal_ned == pytest.approx((1.0, 0.0, 0.0)) and outside[0].distance_m == pytest.approx(-5.0)
    low = {b.limit: b for b in fence.boundaries((0.0, 0.0, -2.0), within_m=0.5)}
    assert low[L.ALTITUDE_FLOOR].normal_ned == (0.0, 0.0, 1.0) and low[L.ALTITUDE_FLOOR].distance_m == -1.0
    teth = {b.limit: b for b in Geofence(TETHER).boundaries((10.0, 28.0, 0.0), within_m=3.0)}
    assert teth[L.TETHER].normal_ned == pytest.approx((0.0, 1.0, 0.0)) and teth[L.TETHER].distance_m == pytest.approx(2)


@given(n=st.floats(1, 99), e=st.floats(1, 99), dn=st.floats(-30, 30), de=st.floats(-30, 30))
@settings(max_examples=300, deadline=None)
def test_boundary_halfplanes_bound_a_region_inside_a_non_convex_polygon(n: float, e: float, dn: float,
                                                                        de: float) -> None:
    """A point that keeps every returned half-plane (through the nearest edge points) stays inside."""
    fence = Geofence(L_SHAPE)
    p = (n, e, -20.0)
    if fence.polygon_margin_m(n, e) <= 0.0:
        return
    q = (n + dn, e + de, -20.0)
    ok = all(b.normal_ned[0] * dn + b.normal_ned[1] * de < b.distance_m
             for b in fence.boundaries(p, within_m=100.0) if b.limit == L.FENCE)
    if ok:
        assert fence.polygon_margin_m(q[0], q[1]) > -1e-9
