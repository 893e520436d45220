"""The key property: flying the governor's output never brings the vehicle inside the standoff.

A short forward simulation: the vehicle flies each command after ``command_latency_s`` and tracks it with
acceleration limited to ``braking_decel_mps2`` (vector norm, so it brakes along its velocity); people
walk at constant velocity; an adversarial follow proposal aims at a person at full speed; the governor
runs every 0.05 s. Optionally the command stream stops: the last command is then flown until it expires
plus the autopilot's own timeout (the charter's worst case) before the vehicle brakes to a stop.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from drone_perception.config import FenceConfig, SafetyConfig
from drone_perception.config.limits import PERSON_HEIGHT_M
from drone_perception.control.governor import GovernorInput, SafetyGovernor
from drone_perception.control.standoff import allowed_closing_speed
from drone_perception.types import OperatorInput, People, TargetEstimate, VehicleState, VelocityCommand

PERIOD_S = 0.05
SUB = 5  # simulation sub-steps per governor period
DT = PERIOD_S / SUB


def _separation(p: np.ndarray, feet: np.ndarray) -> np.ndarray:
    qz = np.clip(p[2], feet[:, 2] - PERSON_HEIGHT_M, feet[:, 2])
    return np.sqrt((p[0] - feet[:, 0]) ** 2 + (p[1] - feet[:, 1]) ** 2 + (p[2] - qz) ** 2)


def simulate(safety: SafetyConfig, fence: FenceConfig, p0: np.ndarray, feet: np.ndarray, vel: np.ndarray,
             sigma: np.ndarray, aim: int, aim_mix: float, stray: np.ndarray, sector: tuple[float, float] | None,
             duration_s: float, stop_at_s: float | None = None) -> tuple[float, bool]:
    """Returns (smallest separation minus standoff over the run, every governor output was feasible)."""
    gov = SafetyGovernor(safety, fence)
    a, lat = safety.braking_decel_mps2, safety.command_latency_s
    p, v = p0.astype(float).copy(), np.zeros(3)
    feet = feet.astype(float).copy()
    n = len(feet)
    pipe: list[tuple[float, np.ndarray, float]] = []  # (effective from, command, flown until)
    current, until = np.zeros(3), math.inf
    worst, feasible = math.inf, True
    steps = round(duration_s / DT)
    for k in range(steps):
        t = k * DT
        if k % SUB == 0 and (stop_at_s is None or t < stop_at_s):
            to = feet[aim] - p
            to[2] = -2.0  # dive towards them too
            prop = aim_mix * 15.0 * to / np.linalg.norm(to) + (1 - aim_mix) * stray
            is_subj = np.arange(n) == aim
            inp = GovernorInput(
                t, VelocityCommand(prop, 0.0, t), VehicleState(p, v, np.zeros(3), True, "GUIDED", True, t),
                People(feet, vel, sigma, np.full(n, t), is_subj, t),
                TargetEstimate(1, feet[aim], vel[aim], np.eye(3) * sigma[aim] ** 2, t, True),
                OperatorInput(True, True, 1, t), t, sector)
            out = gov.step(inp)
            feasible &= out.feasible
            pipe.append((t + lat, out.safe.command.velocity_ned_mps.copy(),
                         out.safe.expires_at_s + safety.autopilot_command_timeout_s + lat))
        while pipe and pipe[0][0] <= t + 1e-9:
            _, current, until = pipe.pop(0)
        target = current if t < until - 1e-9 else np.zeros(3)
        dv = target - v
        m = float(np.linalg.norm(dv))
        if m > a * DT:
            dv *= a * DT / m
        v = v + dv
        p = p + v * DT
        feet = feet + vel * DT
        worst = min(worst, float(_separation(p, feet).min()) - safety.min_standoff_m)
    return worst, feasible


@st.composite
def scenario(draw: Any, moving: bool) -> dict[str, Any]:
    decel = draw(st.floats(1.5, 6.0))
    safety = SafetyConfig(
        min_standoff_m=draw(st.floats(5.0, 15.0)),
        max_horizontal_speed_mps=draw(st.floats(3.0, 12.0)),
        max_vertical_speed_mps=draw(st.floats(1.0, 4.0)),
        braking_decel_mps2=decel, max_accel_mps2=draw(st.floats(decel, 6.0)),
        command_latency_s=draw(st.floats(0.0, 0.5)), command_ttl_s=draw(st.floats(PERIOD_S, 0.5)),
        autopilot_command_timeout_s=draw(st.floats(0.1, 1.0)),
        unobserved_speed_mps=draw(st.floats(0.0, 1.5)))
    fence = FenceConfig(altitude_ceiling_m=draw(st.floats(40.0, 120.0)))
    p0 = np.array([draw(st.floats(-30, 30)), draw(st.floats(-30, 30)), -draw(st.floats(4.0, 30.0))])
    n = draw(st.integers(1, 4))
    sigma = np.array([draw(st.floats(0.0, 1.0)) for _ in range(n)])
    feet, vel = [], []
    gov = SafetyGovernor(safety, fence)
    for i in range(n):
        ang, extra = draw(st.floats(-math.pi, math.pi)), draw(st.floats(1.0, 30.0))
        rng = safety.min_standoff_m + 2 * sigma[i] + extra
        feet.append([p0[0] + rng * math.cos(ang), p0[1] + rng * math.sin(ang), 0.0])
        spd = draw(st.floats(0.0, 1.5)) if moving else 0.0
        vang = draw(st.floats(-math.pi, math.pi))
        vel.append([spd * math.cos(vang), spd * math.sin(vang), 0.0])
    feet_a, vel_a = np.array(feet), np.array(vel)
    # start only from a state the governor can hold: nobody closes faster than their budget allows
    for i in range(n):
        sep = float(_separation(p0, feet_a[i:i + 1])[0])
        budget = sep - 2 * sigma[i] - gov.standoff_m
        closing = float(np.dot(vel_a[i], p0 - feet_a[i]) / max(np.linalg.norm(p0 - feet_a[i]), 1e-9))
        assume(-closing <= 0.8 * allowed_closing_speed(budget, gov.decel_mps2, gov.horizon_s, gov.max_speed_mps))
    sector = draw(st.one_of(st.none(), st.tuples(st.floats(-math.pi, math.pi), st.floats(0.0, math.pi))))
    stray = np.array([draw(st.floats(-12, 12)), draw(st.floats(-12, 12)), draw(st.floats(-4, 4))])
    return {"safety": safety, "fence": fence, "p0": p0, "feet": feet_a, "vel": vel_a, "sigma": sigma,
            "aim": draw(st.integers(0, n - 1)), "aim_mix": draw(st.floats(0.0, 1.0)), "stray": stray,
            "sector": sector}


@given(sc=scenario(moving=False), stop=st.one_of(st.none(), st.floats(0.5, 6.0)))
@settings(max_examples=40, deadline=None)
def test_standing_people_never_inside_standoff_even_if_the_stream_stops(sc: dict[str, Any],
                                                                        stop: float | None) -> None:
    worst, feasible = simulate(**sc, duration_s=8.0, stop_at_s=stop)
    assert feasible  # holding still is always admissible when nobody moves
    assert worst >= -1e-6


@given(sc=scenario(moving=True))
@settings(max_examples=40, deadline=None)
def test_walking_people_never_inside_standoff_while_the_governor_runs(sc: dict[str, Any]) -> None:
    worst, feasible = simulate(**sc, duration_s=8.0)
    if feasible:  # when people trap the vehicle the governor can only do its best (reported as infeasible)
        assert worst >= -1e-6


def test_an_approach_that_ends_on_the_boundary_stays_outside() -> None:
    """The case Hypothesis found: an adversarial proposal straight at a standing person, 0.5 s latency; the
    vehicle stopped 1.6 mm inside the standoff before STANDOFF_EPS_M (the per-period linearisation)."""
    safety = SafetyConfig(min_standoff_m=10.0, max_horizontal_speed_mps=3.0, max_vertical_speed_mps=1.0,
                          max_accel_mps2=4.0, braking_decel_mps2=4.0, max_yaw_rate_radps=0.8, command_latency_s=0.5,
                          autopilot_command_timeout_s=0.1, command_ttl_s=0.5, unobserved_speed_mps=0.0,
                          braking_jerk_mps3=50.0)  # the simulated vehicle here brakes without a ramp
    worst, feasible = simulate(safety, FenceConfig(), np.array([0.0, 0.0, -4.0]), np.array([[11.0, 0.0, 0.0]]),
                               np.zeros((1, 3)), np.zeros(1), 0, 1.0, np.zeros(3), (0.0, 1.0), duration_s=8.0)
    assert feasible and worst >= 0.0
    # It did fly up to the boundary: what is left is STANDOFF_EPS_M plus the brake ramp budgeted at the
    # sharpest legal jerk (4 m/s^2 / 50 m/s^3 = 0.08 s at the last, slow approach speed: ~1 mm).
    assert worst < 0.06
