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
       standoff=st.floats(5, 30), g=st.sampled_from([0.0, 8.0]))
@settings(max_examples=200)
def test_inlined_people_halfspaces_match_the_reference(p: tuple[float, float, float],
                                                       foot: tuple[float, float, float],
                                                       vel: tuple[float, float, float], sig: float,
                                                       standoff: float, g: float) -> None:
    kw = {"standoff_m": standoff, "decel_mps2": 2.5, "horizon_s": 1.45, "max_speed_mps": 5.4}
    ref, dist, budget = person_halfspace(p, foot, vel, sig, growth_mps=g, **kw)
    hs, sep = people_halfspaces([(foot, vel, sig, 0.0, g)], p, p, age_s=0.0, latency_s=0.0, growth_mps=2.5, **kw)
    sep_ref = person_halfspace(p, foot, vel, 0.0, **kw)[1]
    assert sep == pytest.approx(sep_ref)
    assert dist <= sep_ref + 1e-9
    assert ref[4] == (L.STANDOFF if budget <= 0 else L.CLOSING_SPEED)
    if hs:
        assert hs[0][:4] == pytest.approx(ref[:4]) and hs[0][4] == ref[4]
    else:
        assert ref[3] >= 5.4 + 1.0


@given(p=st.tuples(coord, coord, st.floats(-40, 1)), foot=st.tuples(coord, coord, st.floats(-1, 1)),
       sig=st.floats(0, 10), r=st.floats(0, 1), angle=st.floats(0, 2 * math.pi), up=st.floats(0, 1))
def test_the_distance_bounds_every_body_the_person_may_have(p: tuple[float, float, float],
                                                           foot: tuple[float, float, float], sig: float, r: float,
                                                           angle: float, up: float) -> None:
    """A person may stand anywhere in the disc of radius k*sigma around the estimate, on the ground, with any
    point of a 2 m body: the distance the budget uses is never more than the distance to any of them."""
    from drone_perception.config.limits import PERSON_HEIGHT_M
    from drone_perception.control.standoff import UNCERTAINTY_SIGMAS

    kw = {"standoff_m": 10.0, "decel_mps2": 2.5, "horizon_s": 1.45}
    _, dist, _ = person_halfspace(p, foot, (0.0, 0.0, 0.0), sig, **kw)
    rho = r * UNCERTAINTY_SIGMAS * sig
    q = (foot[0] + rho * math.cos(angle), foot[1] + rho * math.sin(angle), foot[2] - up * PERSON_HEIGHT_M)
    assert dist <= math.dist(p, q) + 1e-9


@given(dn=st.floats(-80, 80), de=st.floats(-80, 80), above=st.floats(0.0, 30.0), sig=st.floats(0, 200),
       standoff=st.floats(5, 30), g=st.floats(0, 12), age=st.floats(0, 0.5), stop=st.floats(0, 5))
def test_above_the_ground_safe_height_no_unseen_person_demands_a_retreat(dn: float, de: float, above: float,
                                                                        sig: float, standoff: float, g: float,
                                                                        age: float, stop: float) -> None:
    """#12 items 1, 2 and 8: a vehicle at least standoff + body height above the ground is outside the standoff
    of every person on the ground. However wide an unseen person's disc has grown, wherever they may run, the
    half-space admits hovering (h >= 0) and names no standoff violation."""
    from drone_perception.config.limits import PERSON_HEIGHT_M
    from drone_perception.control.standoff import STANDOFF_EPS_M

    p = (dn, de, -(standoff + PERSON_HEIGHT_M + STANDOFF_EPS_M + 1e-6 + above))
    hs, _ = people_halfspaces([((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), sig, 0.0, g)], p, p, age_s=age, latency_s=0.25,
                              growth_mps=g, standoff_m=standoff, decel_mps2=2.5, horizon_s=1.95,
                              max_speed_mps=5.4, stop_s=stop)
    assert all(h[3] >= 0.0 for h in hs)


@given(dn=st.floats(-30, 30), de=st.floats(-30, 30), height=st.floats(2.5, 11.9), sig=st.floats(0, 5),
       unseen=st.floats(0.05, 3.0))
def test_below_the_ground_safe_height_an_unseen_person_near_the_vehicle_must_be_opened_from(
        dn: float, de: float, height: float, sig: float, unseen: float) -> None:
    """#12 item 1: below the ground-safe height, over a remembered person's disc (they may be right under
    the vehicle), hovering is not enough: the vehicle must open the distance (h < 0: climb out). On the old
    code a budget <= 0 only forbade closing on the disc centre, and nothing made the vehicle climb."""
    g = 8.0
    p = (dn, de, -height)
    radius = 2.0 * sig + g * unseen
    if math.hypot(dn, de) > radius:
        return  # the vehicle is not over the disc: covered by the reference test
    hs, _ = people_halfspaces([((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), sig + g * unseen / 2.0, 0.0, g)], p, p,
                              age_s=0.0, latency_s=0.25, growth_mps=g, standoff_m=10.0, decel_mps2=2.5,
                              horizon_s=1.95, max_speed_mps=5.4, stop_s=3.0)
    assert hs and hs[0][3] < 0.0 and hs[0][4] == L.STANDOFF
    assert hs[0][2] == pytest.approx(1.0)  # the way out is up: -n points down, so (-n).v <= h < 0 needs v_d < 0


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
