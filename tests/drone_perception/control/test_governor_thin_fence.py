"""Found by Hypothesis in CI (test_governor_properties, 2026-12-01): a vehicle 4 m up, sinking at 2 m/s towards a
3 m floor, the ceiling at 20 m, a slow 0.5 m/s^2 brake, nobody about. After the 0.5 s latency it is at the floor,
so the floor demands a climb of at least 0.5 m/s, and the ceiling (the stopping point of a fast climb) allows at
most 1.94 m/s. Neither hold nor the fan's climbs (2 and 4 m/s) lie in that band: the governor called the fence
set empty, sent the proposed zero and reported it as a PASS with no limit named. Now the climb is flown, and a
step that cannot keep every constraint is never a PASS."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_perception.config import FenceConfig, SafetyConfig
from drone_perception.control.governor import GovernorInput, SafetyGovernor
from drone_perception.control.solver import VelocityConstraints
from drone_perception.types import OperatorInput, People, TargetEstimate, VehicleState, VelocityCommand, Verdict

NOW = 50.0


def _sinking_at_the_floor() -> tuple[SafetyGovernor, GovernorInput]:
    s = SafetyConfig(min_standoff_m=5.0, max_horizontal_speed_mps=5.0, max_vertical_speed_mps=4.0,
                     max_accel_mps2=1.0, braking_decel_mps2=0.5, braking_jerk_mps3=5.0, max_yaw_rate_radps=1.0,
                     command_latency_s=0.5, autopilot_command_timeout_s=1.0, command_ttl_s=0.5, stale_input_s=0.5,
                     subject_lost_timeout_s=2.0, hold_to_mode_request_s=3.0, unobserved_speed_mps=0.0,
                     design_person_speed_mps=8.0, forget_person_after_s=30.0)
    f = FenceConfig(polygon_ne_m=((-150.0, -150.0), (-150.0, 150.0), (150.0, 150.0), (150.0, -150.0)),
                    altitude_floor_m=3.0, altitude_ceiling_m=20.0)
    inp = GovernorInput(
        now_s=NOW, proposed=VelocityCommand(np.zeros(3), 0.5, NOW),
        vehicle=VehicleState(np.array([0.0, 0.0, -4.0]), np.array([0.0, 0.0, 2.0]), np.zeros(3), True, "GUIDED",
                             True, NOW),
        people=People.empty(NOW),
        subject=TargetEstimate(1, np.array([200.0, 0.0, 6.0]), np.zeros(3), np.zeros((3, 3)), NOW, True),
        operator=OperatorInput(True, True, 1, NOW), perception_stamp_s=NOW, observed_sector=None)
    return SafetyGovernor(s, f), inp


def test_a_vehicle_sinking_to_its_floor_climbs_within_the_band_the_ceiling_leaves() -> None:
    gov, inp = _sinking_at_the_floor()
    out = gov.step(inp)
    v = out.safe.command.velocity_ned_mps
    assert out.feasible
    assert out.safe.verdict is Verdict.LIMITED and "altitude_floor" in out.safe.limits_applied
    assert -1.94 <= v[2] <= -0.5  # climbing (NED down negative), inside the band
    assert 3.0 < -out.stopping_point_ned_m[2] < 20.0


@st.composite
def _vertical_bands(draw: st.DrawFn) -> tuple[VelocityConstraints, float, float]:
    """A floor demanding a climb of at least ``lo`` and a ceiling allowing at most ``hi`` (m/s, up positive)."""
    vv = draw(st.floats(0.5, 4.0))
    lo = draw(st.floats(-1.0, 4.0))
    hi = draw(st.floats(-1.0, 4.0))
    fence = [(0.0, 0.0, 1.0, -lo, "altitude_floor"), (0.0, 0.0, -1.0, hi, "altitude_ceiling")]
    return VelocityConstraints([], fence, [], draw(st.floats(0.5, 12.0)), vv, None, 0.0), lo, hi


@given(_vertical_bands(), st.tuples(st.floats(-15, 15), st.floats(-15, 15), st.floats(-5, 5)))
@settings(max_examples=300, deadline=None)
def test_the_best_effort_finds_any_fence_band_that_is_not_empty(band: tuple[VelocityConstraints, float, float],
                                                                 v0: tuple[float, float, float]) -> None:
    cons, lo, hi = band
    climb_lo, climb_hi = max(lo, -cons.vv_mps), min(hi, cons.vv_mps)
    v = cons.best_effort(v0, [])
    assert cons.within_caps(v)
    if climb_hi - climb_lo > 1e-4:  # a band of climb rates the caps allow keeps the fence
        assert cons.fence_feasible(v) and climb_lo - 1e-9 <= -v[2] <= climb_hi + 1e-9
    else:  # none does: the candidate breaks the fence no more than holding or the hardest climb would
        assert cons.fence_violation(v) <= min(cons.fence_violation((0.0, 0.0, 0.0)),
                                              cons.fence_violation((0.0, 0.0, -cons.vv_mps))) + 1e-9
        assert math.isfinite(cons.fence_violation(v))


def test_an_empty_fence_band_is_reported_empty_and_the_slow_thin_tether_still_converges() -> None:
    """The projection stops on a cycle (sets that do not meet) instead of running MAX_SWEEPS: the answer for an
    empty set stays None, and a thin but non-empty set that needs hundreds of sweeps still converges."""
    floor = (0.0, 0.0, 1.0, -1.0, "altitude_floor")  # climb at least 1 m/s
    empty = VelocityConstraints([], [floor, (0.0, 0.0, -1.0, 0.35, "altitude_ceiling")], [], 5.0, 4.0, None, 0.0)
    assert empty.project((0.0, 0.0, 0.0), use_sector=False) is None
    assert empty.fence_candidates((0.0, 0.0, 0.0)) == []
    thin = VelocityConstraints([], [floor, (0.0, 0.0, -1.0, 1.0 + 1e-4, "altitude_ceiling")], [], 5.0, 4.0, None,
                               0.0)
    x = thin.project((3.0, 0.0, 2.0), use_sector=False)
    assert x is not None and thin.feasible(x, False)
