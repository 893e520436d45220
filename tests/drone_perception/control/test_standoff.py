from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_perception.control import limits as L
from drone_perception.control.standoff import (
    SECTOR_MARGIN_RAD,
    allowed_closing_speed,
    people_halfspaces,
    person_halfspace,
    sector_project,
)


@pytest.mark.parametrize(
    ("budget", "a", "T", "expected"),
    [(0.0, 2.5, 1.0, 0.0), (-3.0, 2.5, 1.0, 0.0), (5.0, 2.0, 0.0, math.sqrt(20.0)),
     (5.0, 2.5, 1.45, -3.625 + math.sqrt(3.625 ** 2 + 25.0))],
)
def test_allowed_closing_speed_square_root_law(budget: float, a: float, T: float, expected: float) -> None:
    assert allowed_closing_speed(budget, a, T) == pytest.approx(expected)


@given(b=st.floats(0.01, 100), a=st.floats(0.1, 6), T=st.floats(0, 5), S=st.floats(0.1, 13))
def test_allowed_closing_speed_stops_within_budget_for_vector_braking(b: float, a: float, T: float,
                                                                      S: float) -> None:
    """Closing at v for T, then braking along any velocity of speed <= S, stays within the budget."""
    v = allowed_closing_speed(b, a, T, S)
    assert v >= 0.0
    c = min(v, S)
    assert c * T + c * S / (2 * a) <= b * (1 + 1e-9)
    assert c * T + c * c / (2 * a) <= b * (1 + 1e-9)


coord = st.floats(-50, 50)


@given(p=st.tuples(coord, coord, st.floats(-40, 1)), foot=st.tuples(coord, coord, st.floats(-1, 1)),
       vel=st.tuples(st.floats(-3, 3), st.floats(-3, 3), st.floats(-0.5, 0.5)), sig=st.floats(0, 3),
       standoff=st.floats(5, 30))
@settings(max_examples=200)
def test_inlined_people_halfspaces_match_the_reference(p: tuple[float, float, float],
                                                       foot: tuple[float, float, float],
                                                       vel: tuple[float, float, float], sig: float,
                                                       standoff: float) -> None:
    kw = {"standoff_m": standoff, "decel_mps2": 2.5, "horizon_s": 1.45, "max_speed_mps": 5.4}
    ref, dist, budget = person_halfspace(p, foot, vel, sig, **kw)
    hs, sep = people_halfspaces([(foot, vel, sig, 0.0)], p, p, age_s=0.0, latency_s=0.0, growth_mps=2.5, **kw)
    assert sep == pytest.approx(dist)
    assert ref[4] == (L.STANDOFF if budget <= 0 else L.CLOSING_SPEED)
    if hs:
        assert hs[0][:4] == pytest.approx(ref[:4]) and hs[0][4] == ref[4]
    else:
        assert ref[3] >= 5.4 + 1.0


@pytest.mark.parametrize(
    ("v", "sector", "u", "expected"),
    [
        ((3.0, 0.0, 1.0), (0.0, 0.5), 0.5, (3.0, 0.0, 1.0)),  # inside the sector: untouched
        ((-3.0, 0.0, 1.0), (0.0, 0.5), 0.5, (-0.5, 0.0, 1.0)),  # straight back: capped, vertical kept
        ((0.0, 2.0, 0.0), None, 1.0, (0.0, 1.0, 0.0)),  # nothing observed: whole horizontal speed capped
        ((0.3, 0.0, 0.0), None, 0.5, (0.3, 0.0, 0.0)),  # already slow
        ((-3.0, 0.0, 0.0), (0.0, math.pi + SECTOR_MARGIN_RAD), 0.0, (-3.0, 0.0, 0.0)),  # everything observed
    ],
)
def test_sector_project_table(v: tuple[float, float, float], sector: tuple[float, float] | None, u: float,
                              expected: tuple[float, float, float]) -> None:
    assert sector_project(v, sector, u) == pytest.approx(expected)


@given(vn=st.floats(-10, 10), ve=st.floats(-10, 10), c=st.floats(-math.pi, math.pi), w=st.floats(0, math.pi),
       u=st.floats(0, 1.5))
def test_sector_project_leaves_at_most_u_outside_and_is_idempotent(vn: float, ve: float, c: float, w: float,
                                                                   u: float) -> None:
    out = sector_project((vn, ve, 0.0), (c, w), u)
    assert math.hypot(out[0], out[1]) <= math.hypot(vn, ve) + 1e-9
    again = sector_project(out, (c, w), u)
    assert again == pytest.approx(out, abs=1e-9)
    half = w - SECTOR_MARGIN_RAD
    delta = (math.atan2(out[1], out[0]) - c + math.pi) % (2 * math.pi) - math.pi
    if half <= 0 or (math.hypot(out[0], out[1]) > 1e-9 and abs(delta) > half + 1e-9 and half < math.pi / 2):
        # outside the observed cone: the distance to the cone is at most u
        edge = c + math.copysign(max(half, 0.0), delta)
        along = max(0.0, out[0] * math.cos(edge) + out[1] * math.sin(edge)) if half > 0 else 0.0
        rest = math.hypot(out[0] - along * math.cos(edge), out[1] - along * math.sin(edge))
        assert rest <= u + 1e-9
