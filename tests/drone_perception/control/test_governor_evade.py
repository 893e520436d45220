"""Hold still protects people: with the subject lost or no command, a person running at the vehicle makes the
governor back off and climb instead of sitting still (charter items 1 and 3 together)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_perception.config import FenceConfig, SafetyConfig
from drone_perception.control import limits as L
from drone_perception.control.governor import GovernorInput, SafetyGovernor
from drone_perception.types import Verdict

SOFT_GATES = [
    ("subject_lost", {"subject_valid": False}),
    ("no_command", {"command": None}),
]


@pytest.mark.parametrize(("gate", "kw"), SOFT_GATES, ids=[g for g, _ in SOFT_GATES])
def test_far_people_give_an_exact_hold(build: Callable[..., GovernorInput], gate: str, kw: dict) -> None:
    out = SafetyGovernor(SafetyConfig(), FenceConfig()).step(build(people=((60.0, 0.0, 0.0),), **kw))
    assert out.safe.verdict is Verdict.HOLD
    assert out.safe.command.velocity_ned_mps.tolist() == [0.0, 0.0, 0.0]
    assert gate in out.safe.limits_applied


@pytest.mark.parametrize(("gate", "kw"), SOFT_GATES, ids=[g for g, _ in SOFT_GATES])
@pytest.mark.parametrize("fence", [
    FenceConfig(altitude_ceiling_m=20.0, tethered=True, tether_length_m=40.0),  # 46 m from the tether anchor
    FenceConfig(polygon_ne_m=((-30.0, -30.0), (-30.0, 30.0), (30.0, 30.0), (30.0, -30.0))),  # 16 m outside
], ids=["outside_tether", "outside_fence"])
def test_a_hold_outside_the_fence_or_tether_steers_back_in(build: Callable[..., GovernorInput], gate: str,
                                                           kw: dict, fence: FenceConfig) -> None:
    """#12 item 6: a holding vehicle the wind pushed out is steered back in (at the capped return speed), not
    left to drift: before, the hold stayed an exact hold outside the fence and the gusty_fence regression
    drifted 0.2-3 m out while the subject was lost."""
    from drone_perception.control.standoff import FENCE_RETURN_MAX_MPS

    safety = SafetyConfig(min_standoff_m=5.0, max_horizontal_speed_mps=1.0, max_vertical_speed_mps=1.5,
                          max_accel_mps2=1.0, braking_decel_mps2=1.0, max_yaw_rate_radps=1.0, command_latency_s=0.0,
                          autopilot_command_timeout_s=0.1, command_ttl_s=0.5, stale_input_s=0.5,
                          unobserved_speed_mps=0.0)
    inp = build(position=(0.0, 46.0, -4.0), people=(), **kw)
    out = SafetyGovernor(safety, fence).step(inp)
    v = out.safe.command.velocity_ned_mps
    assert out.safe.verdict is Verdict.LIMITED and gate in out.safe.limits_applied
    assert out.safe.limits_applied & {L.FENCE, L.TETHER}
    # back west, toward the inside, at the return speed (here half the 1 m/s horizontal cap)
    assert v[1] < -0.45 and np.linalg.norm(v) <= FENCE_RETURN_MAX_MPS + 1e-6


@pytest.mark.parametrize(("gate", "kw"), SOFT_GATES, ids=[g for g, _ in SOFT_GATES])
def test_a_hold_well_inside_the_fence_stays_an_exact_hold(build: Callable[..., GovernorInput], gate: str,
                                                          kw: dict) -> None:
    """Found by Hypothesis (test_any_gate_gives_exact_zero): with no person at all, the zero command went
    through the tether constraint and came out as a 7.8e-5 m/s move, a hold that was not one."""
    fence = FenceConfig(altitude_ceiling_m=20.0, tethered=True, tether_length_m=40.0)
    inp = build(position=(0.0, 39.0, -4.0), people=(), **kw)  # 39.2 m from the anchor: inside the 0.5 m margin
    out = SafetyGovernor(SafetyConfig(), fence).step(inp)
    assert out.safe.verdict is Verdict.HOLD
    assert out.safe.command.velocity_ned_mps.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(("gate", "kw"), SOFT_GATES, ids=[g for g, _ in SOFT_GATES])
def test_a_person_running_at_a_holding_vehicle_makes_it_climb_and_back_off(
    build: Callable[..., GovernorInput], gate: str, kw: dict
) -> None:
    # Vehicle 10 m up; a person 14 m north running south at it at 6 m/s.
    inp = build(position=(0.0, 0.0, -10.0), people=((14.0, 0.0, 0.0),), people_velocity=((-6.0, 0.0, 0.0),), **kw)
    out = SafetyGovernor(SafetyConfig(), FenceConfig()).step(inp)
    v = out.safe.command.velocity_ned_mps
    assert out.engaged
    assert out.safe.verdict is Verdict.LIMITED
    assert gate in out.safe.limits_applied
    assert out.safe.limits_applied & {L.STANDOFF, L.CLOSING_SPEED}
    assert v[2] < -1.0  # climbs (NED: negative down)
    assert v[0] <= 0.0  # never towards the runner


@given(
    north=st.floats(11.0, 40.0),
    height=st.floats(5.0, 30.0),
    speed=st.floats(0.0, 9.0),
)
@settings(max_examples=80, deadline=None)
def test_evasion_never_closes_on_the_person(build: Callable[..., GovernorInput], north: float, height: float,
                                            speed: float) -> None:
    inp = build(position=(0.0, 0.0, -height), people=((north, 0.0, 0.0),),
                     people_velocity=((-speed, 0.0, 0.0),), subject_valid=False)
    out = SafetyGovernor(SafetyConfig(), FenceConfig()).step(inp)
    v = out.safe.command.velocity_ned_mps
    assert np.all(np.isfinite(v))
    # the vehicle's own velocity never points at the person (north) and never descends towards them
    assert v[0] <= 1e-9 and v[2] <= 1e-9
    assert math.hypot(v[0], v[1]) <= SafetyConfig().max_horizontal_speed_mps + 1e-9
    assert abs(v[2]) <= SafetyConfig().max_vertical_speed_mps + 1e-9


def test_never_descends_towards_a_person_while_a_people_limit_binds(build: Callable[..., GovernorInput]) -> None:
    # 8 m up, a person 16 m north walking at the vehicle; the proposal flies at them and dives.
    inp = build(position=(0.0, 0.0, -8.0), velocity=(3.0, 0.0, 1.5), command=(3.0, 0.0, 1.5),
                people=((16.0, 0.0, 0.0),),
                people_velocity=((-1.5, 0.0, 0.0),))
    out = SafetyGovernor(SafetyConfig(), FenceConfig()).step(inp)
    assert out.safe.limits_applied & {L.STANDOFF, L.CLOSING_SPEED}
    assert out.safe.command.velocity_ned_mps[2] <= 1e-9  # no descent
    # and far from everyone the same dive passes untouched
    far = build(position=(0.0, 0.0, -13.0), velocity=(3.0, 0.0, 1.5), command=(3.0, 0.0, 1.5),
                people=((200.0, 0.0, 0.0),))  # (13 m: at 8 m the dive is limited by the floor's margin, below
    # the ground-safe height of 12.05 m by the sight limit)
    assert SafetyGovernor(SafetyConfig(), FenceConfig()).step(far).safe.verdict is Verdict.PASS
