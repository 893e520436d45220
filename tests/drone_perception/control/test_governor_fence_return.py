"""#12 item 6 as a property: a vehicle within the fence margin or outside the fence (pushed there by wind the
governor could not foresee: commanded is not achieved) is steered back in, whatever was proposed and also from
a hold (subject lost, no command); before, it was only stopped from going further out, and a holding vehicle
drifted out with the gusts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_perception.config import FenceConfig, SafetyConfig
from drone_perception.control import limits as L
from drone_perception.control.governor import GovernorInput, SafetyGovernor
from drone_perception.control.standoff import FENCE_EPS_M, FENCE_RETURN_GAIN_PER_S
from drone_perception.types import TargetEstimate, Verdict

FENCE = FenceConfig(polygon_ne_m=((-50.0, -50.0), (-50.0, 50.0), (50.0, 50.0), (50.0, -50.0)),
                    altitude_ceiling_m=40.0)


@given(out_m=st.floats(-FENCE_EPS_M + 0.05, 20.0), east=st.floats(-40.0, 40.0),
       proposal=st.tuples(st.floats(-5, 5), st.floats(-5, 5), st.floats(-2, 2)),
       gate=st.sampled_from(["none", "subject_lost", "no_command"]), vh=st.floats(1.0, 12.0), vv=st.floats(1.0, 4.0))
@settings(max_examples=150, deadline=None)
def test_a_vehicle_past_the_fence_margin_is_steered_back(build: Callable[..., GovernorInput], out_m: float,
                                                        east: float, proposal: tuple[float, float, float],
                                                        gate: str, vh: float, vv: float) -> None:
    """North edge at 50 m; the vehicle ``out_m`` beyond it (negative: inside, within the margin)."""
    safety = SafetyConfig(max_horizontal_speed_mps=vh, max_vertical_speed_mps=vv,
                          max_accel_mps2=6.0, braking_decel_mps2=2.5)
    inp = build(position=(50.0 + out_m, east, -15.0), velocity=(0.0, 0.0, 0.0), command=proposal, people=())
    if gate == "subject_lost":
        inp = dataclasses.replace(inp, subject=TargetEstimate.invalid(inp.now_s))
    elif gate == "no_command":
        inp = dataclasses.replace(inp, proposed=None)
    out = SafetyGovernor(safety, FENCE).step(inp)
    v = out.safe.command.velocity_ned_mps
    want = min(FENCE_RETURN_GAIN_PER_S * (out_m + FENCE_EPS_M), 0.5 * min(vh, vv), 1.0)
    assert out.safe.verdict is not Verdict.PASS or proposal[0] <= -want
    assert v[0] <= -want + 1e-6, (v, want)  # back south, at least at the demanded return speed
    assert L.FENCE in out.safe.limits_applied or proposal[0] <= -want


def test_a_vehicle_well_inside_is_not_pushed(build: Callable[..., GovernorInput]) -> None:
    out = SafetyGovernor(SafetyConfig(), FENCE).step(build(position=(0.0, 0.0, -15.0), command=(0.0, 0.0, 0.0),
                                                           people=()))
    assert out.safe.verdict is Verdict.PASS and np.all(out.safe.command.velocity_ned_mps == 0.0)
