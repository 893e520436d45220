"""#12 item 5: a reported position the vehicle could not have flown to (a GPS glitch) is not believed: the
governor holds (gate ``position_jump``, latched, BRAKE if it lasts) until the reports agree again with where
the reported velocity says the vehicle is, or the operator re-engages."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_perception.config import FenceConfig, SafetyConfig
from drone_perception.control import limits as L
from drone_perception.control.governor import GovernorInput, SafetyGovernor
from drone_perception.control.plausibility import JUMP_TOL_M, PLAUSIBLE_ACCEL_MPS2, PositionCheck
from drone_perception.types import ModeRequest, OperatorInput, VehicleState, VelocityCommand, Verdict

DT = 0.05


def _state(p: np.ndarray, v: np.ndarray, t: float) -> VehicleState:
    return VehicleState(p, v, np.zeros(3), True, "GUIDED", True, t)


def _at(build: Callable[..., GovernorInput], t: float, position: tuple[float, float, float]) -> GovernorInput:
    inp = build(now=t, position=position, velocity=(0.0, 0.0, 0.0), command=(1.0, 0.0, 0.0), people=())
    return dataclasses.replace(inp, operator=OperatorInput(True, True, 1, t),
                               proposed=VelocityCommand(np.array([1.0, 0.0, 0.0]), 0.0, t))


def test_a_glitch_of_12_m_holds_until_the_reports_come_back(build: Callable[..., GovernorInput]) -> None:
    """The case the adversarial search found: the estimate jumped 12 m inward at the fence and the governor,
    believing it, let the vehicle fly 8.6-11.2 m out. Now: hold from the first glitched report, BRAKE after
    hold_to_mode_request_s, and the same command passes again once the glitch is over."""
    safety = SafetyConfig()
    gov = SafetyGovernor(safety, FenceConfig())
    t = 100.0
    assert gov.step(_at(build, t, (100.0, 0.0, -12.0))).safe.verdict is not Verdict.HOLD
    outs = []
    for k in range(1, int(4.0 / DT)):
        outs.append(gov.step(_at(build, t + k * DT, (88.0, 0.0, -12.0))))  # 12 m south, hovering
    assert all(o.safe.verdict is Verdict.HOLD and L.POSITION_JUMP in o.safe.limits_applied for o in outs)
    assert all(o.engaged for o in outs)  # still engaged: the operator is not thrown out, the vehicle holds
    assert outs[-1].safe.mode_request is ModeRequest.BRAKE
    assert gov.position_check.jump_m > 11.0
    back = gov.step(_at(build, t + 4.0, (100.0, 0.0, -12.0)))  # the glitch ended
    assert L.POSITION_JUMP not in back.safe.limits_applied and back.safe.verdict is not Verdict.HOLD


def test_re_engaging_believes_the_reported_position(build: Callable[..., GovernorInput]) -> None:
    gov = SafetyGovernor(SafetyConfig(), FenceConfig())
    gov.step(_at(build, 100.0, (0.0, 0.0, -12.0)))
    assert gov.step(_at(build, 100.05, (0.0, 20.0, -12.0))).safe.verdict is Verdict.HOLD
    off = dataclasses.replace(_at(build, 100.1, (0.0, 20.0, -12.0)), operator=OperatorInput(False, True, 1, 100.1))
    assert not gov.step(off).engaged  # the operator disengaged: the governor forgets its belief
    assert gov.step(_at(build, 100.15, (0.0, 20.0, -12.0))).safe.verdict is not Verdict.HOLD


@given(accel=st.lists(st.tuples(st.floats(-6, 6), st.floats(-6, 6), st.floats(-3, 3)), min_size=5, max_size=60),
       v0=st.tuples(st.floats(-12, 12), st.floats(-12, 12), st.floats(-4, 4)),
       gaps=st.lists(st.sampled_from([0.05, 0.05, 0.1, 0.5, 1.0]), min_size=60, max_size=60))
@settings(max_examples=150, deadline=None)
def test_a_flyable_track_is_always_believed(accel: list[tuple[float, float, float]],
                                            v0: tuple[float, float, float], gaps: list[float]) -> None:
    """Any track the vehicle can fly (accelerations up to the hard cap, telemetry gaps up to 1 s) is believed."""
    check, p, v, t = PositionCheck(), np.zeros(3), np.array(v0), 0.0
    assert check.believed(_state(p, v, t))
    for a, dt in zip(accel, gaps):
        p = p + v * dt + 0.5 * np.array(a) * dt * dt
        v = v + np.array(a) * dt
        t += dt
        assert check.believed(_state(p, v, t))


@given(jump=st.tuples(st.floats(-50, 50), st.floats(-50, 50), st.floats(-10, 10)), dt=st.floats(0.02, 1.0),
       v=st.tuples(st.floats(-12, 12), st.floats(-12, 12), st.floats(-4, 4)))
@settings(max_examples=150, deadline=None)
def test_a_jump_faster_than_the_vehicle_can_fly_is_not_believed(jump: tuple[float, float, float], dt: float,
                                                                v: tuple[float, float, float]) -> None:
    check = PositionCheck()
    vel = np.array(v)
    check.believed(_state(np.zeros(3), vel, 0.0))
    off = np.array(jump)
    believed = check.believed(_state(vel * dt + off, vel, dt))
    assert believed == (math.hypot(*off) <= JUMP_TOL_M + 0.5 * PLAUSIBLE_ACCEL_MPS2 * dt * dt)
