"""Speed bounded by sight (issue 11 item 5): the reliable detection range from the detector's measured miss
curve, and the speed at which a person first found there can still be kept outside the standoff."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_perception.control.sight import (
    DETECTOR_PROFILE,
    miss_probability,
    reliable_input_height_px,
    sight_range_m,
    sight_speed_cap_mps,
)
from drone_perception.control.standoff import STANDOFF_EPS_M, allowed_closing_speed


def test_the_profile_is_the_simulators_calibrated_one() -> None:
    """One source of truth: the simulator's calibrated detection model and this profile agree."""
    from sim.sensing.sensors import CALIBRATED_INPUT_PX, CALIBRATED_MISS_FLOOR, DEFAULT_DETECTOR_INPUT_WIDTH_PX

    assert DETECTOR_PROFILE["input_width_px"] == DEFAULT_DETECTOR_INPUT_WIDTH_PX
    assert DETECTOR_PROFILE["min_height_px"] == CALIBRATED_INPUT_PX["min_box_height"]
    assert DETECTOR_PROFILE["miss_at_min"] == CALIBRATED_INPUT_PX["miss_prob_at_min_height"]
    assert DETECTOR_PROFILE["height_scale_px"] == CALIBRATED_INPUT_PX["miss_height_scale"]
    assert DETECTOR_PROFILE["miss_floor"] == CALIBRATED_MISS_FLOOR


@given(st.integers(1, 60), st.floats(1e-6, 0.1))
def test_at_the_reliable_height_every_frame_of_the_budget_misses_rarely_enough(frames: int, miss_all: float) -> None:
    h = reliable_input_height_px(frames, miss_all)
    if math.isinf(h):
        assert DETECTOR_PROFILE["miss_floor"] ** frames > miss_all * (1 - 1e-9)
        return
    assert miss_probability(h) ** frames <= miss_all * (1 + 1e-9)
    if h > DETECTOR_PROFILE["min_height_px"] + 1e-6:  # and it is the smallest such height
        assert miss_probability(h - 1e-3) ** frames > miss_all


def test_the_default_camera_finds_people_reliably_out_to_about_forty_metres() -> None:
    r = sight_range_m(1.2, 20.0)
    assert 35.0 < r < 50.0
    assert sight_range_m(0.6, 20.0) > 1.9 * r  # a longer lens sees twice as far
    assert sight_range_m(1.2, 2.0) < r  # fewer frames in the budget: a shorter reliable range


@settings(max_examples=300)
@given(range_m=st.floats(0.0, 200.0), standoff=st.floats(5.0, 30.0), g=st.floats(0.0, 12.0),
       reaction=st.floats(0.05, 2.0), decel=st.floats(0.5, 8.0), horizon=st.floats(0.1, 4.0),
       vmax=st.floats(0.5, 15.0))
def test_a_person_first_found_at_the_range_can_still_be_kept_out(range_m, standoff, g, reaction, decel, horizon,
                                                                 vmax) -> None:
    """At the cap, the closing speed after the reaction budget is one the standoff law can still stop from."""
    v = sight_speed_cap_mps(range_m, standoff, g, reaction_s=reaction, decel_mps2=decel, horizon_s=horizon,
                            max_speed_mps=vmax)
    assert 0.0 <= v <= vmax
    if v > 0.0:
        c = v + g
        budget = range_m - c * reaction - standoff - STANDOFF_EPS_M
        assert c <= allowed_closing_speed(budget, decel, horizon, vmax + g) + 1e-9
    if v < vmax - 1e-6:  # not the speed cap: a little faster would not be kept out
        c = v + 1e-3 + g
        budget = range_m - c * reaction - standoff - STANDOFF_EPS_M
        assert c > allowed_closing_speed(budget, decel, horizon, vmax + g) - 1e-6


def test_a_sprinter_at_the_default_config_leaves_no_speed_below_the_ground_safe_height() -> None:
    """With the default horizon (1.95 s) and braking (2.5 m/s^2), an 8 m/s person first found at ~42 m cannot be
    out-reacted at any speed: below the ground-safe height the vehicle may only climb (the envelope's reason for
    following at or above it)."""
    r = sight_range_m(1.2, 20.0)
    kw = {"reaction_s": 0.5, "decel_mps2": 2.5, "horizon_s": 1.95, "max_speed_mps": 5.0}
    assert sight_speed_cap_mps(r, 10.0, 8.0, **kw) == 0.0
    assert sight_speed_cap_mps(r, 10.0, 2.5, **kw) == pytest.approx(5.0)


@settings(max_examples=200, deadline=None)
@given(standoff=st.floats(5.0, 30.0), g=st.floats(2.5, 12.0), height=st.floats(1.0, 60.0),
       speed=st.floats(0.0, 5.0), heading=st.floats(0.0, 6.28), hfov=st.floats(0.3, 2.5))
def test_the_governor_caps_horizontal_speed_by_sight_only_below_the_ground_safe_height(
        standoff, g, height, speed, heading, hfov) -> None:
    """Nobody about, a proposal at ``speed``: below the ground-safe height the horizontal output is at most the
    sight cap (and the limit is named); above it the sight limit never binds. Every legal config."""
    import numpy as np

    from drone_perception.config import CameraConfig, FenceConfig, SafetyConfig
    from drone_perception.config.envelope import ground_safe_height_m
    from drone_perception.control import limits as L
    from drone_perception.control.governor import SafetyGovernor
    from tests.drone_perception.control.conftest import make_input

    safety = SafetyConfig(min_standoff_m=standoff, design_person_speed_mps=g)
    fence = FenceConfig(altitude_ceiling_m=120.0)
    gov = SafetyGovernor(safety, fence, CameraConfig(hfov_rad=hfov))
    v = (speed * np.cos(heading), speed * np.sin(heading), 0.0)
    out = gov.step(make_input(position=(0.0, 0.0, -height), velocity=v, command=v, people=((500.0, 0.0, 0.0),)))
    got = out.safe.command.velocity_ned_mps
    below = height < ground_safe_height_m(standoff) + 0.05
    if below:
        assert math.hypot(got[0], got[1]) <= gov.sight_mps + 1e-9 or out.safe.limits_applied & L.PROTECTIVE - {
            L.SIGHT_RANGE}
        if speed > gov.sight_mps + 1e-6:
            assert L.SIGHT_RANGE in out.safe.limits_applied
    else:
        assert L.SIGHT_RANGE not in out.safe.limits_applied
