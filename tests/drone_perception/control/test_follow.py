from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_perception.config import FollowConfig
from drone_perception.control.follow import FollowController
from drone_perception.errors import InvalidValueError
from drone_perception.types import TargetEstimate, VehicleState

DT = 0.05


def _est(pos: np.ndarray, vel: np.ndarray, t: float, valid: bool = True) -> TargetEstimate:
    return TargetEstimate(1, pos, vel, np.eye(3) * 0.1, t, valid)


def _veh(pos: np.ndarray, vel: np.ndarray, yaw: float, t: float) -> VehicleState:
    return VehicleState(pos, vel, np.array([0.0, 0.0, yaw]), True, "GUIDED", True, t)


def _simulate(cfg: FollowConfig, subject_vel: np.ndarray, vehicle_pos: np.ndarray, steps: int,
              vehicle_vel: np.ndarray | None = None) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, float,
                                                              FollowController]:
    """First-order vehicle (time constant 0.3 s) flying the commands; subject walking at constant velocity."""
    ctl = FollowController(cfg)
    s = np.zeros(3)
    p, v, yaw = vehicle_pos.astype(float), (np.zeros(3) if vehicle_vel is None else vehicle_vel.astype(float)), 0.0
    cmds = []
    for k in range(steps):
        t = k * DT
        cmd = ctl.step(_est(s, subject_vel, t), _veh(p, v, yaw, t), DT)
        assert cmd is not None
        cmds.append(cmd.velocity_ned_mps.copy())
        v = v + (cmd.velocity_ned_mps - v) * (DT / 0.3)
        yaw += cmd.yaw_rate_radps * DT
        p = p + v * DT
        s = s + subject_vel * DT
    return cmds, p, s, yaw, ctl


@pytest.mark.parametrize(("angle", "subject_vel"), [(math.pi, (1.4, 0.0, 0.0)), (math.pi, (0.0, -1.2, 0.0)),
                                                    (math.pi / 2, (1.0, 1.0, 0.0)), (0.0, (-1.0, 0.0, 0.0))])
def test_converges_to_offset_from_walking_subject(angle: float, subject_vel: tuple[float, float, float]) -> None:
    cfg = FollowConfig(angle_rad=angle)
    u = np.array(subject_vel)
    _, p, s, yaw, _ = _simulate(cfg, u, np.array([-30.0, 20.0, -3.0]), steps=1200)
    heading = math.atan2(u[1], u[0])
    goal = s + np.array([cfg.distance_m * math.cos(heading + angle), cfg.distance_m * math.sin(heading + angle),
                         -cfg.height_m])
    # the first-order vehicle lags the feed-forward by speed * tau: allow that much
    assert np.linalg.norm(p - goal) < 0.3 * np.linalg.norm(u) + 0.2
    bearing = math.atan2(s[1] - p[1], s[0] - p[0])
    assert abs((bearing - yaw + math.pi) % (2 * math.pi) - math.pi) < 0.1


def test_behind_means_opposite_to_the_walking_direction() -> None:
    _, p, s, _, _ = _simulate(FollowConfig(), np.array([1.5, 0.0, 0.0]), np.array([0.0, 5.0, -8.0]), steps=1200)
    assert p[0] < s[0] - 10.0 and abs(p[1] - s[1]) < 1.0


def test_slow_subject_keeps_heading_and_engage_does_not_swing() -> None:
    cfg = FollowConfig(heading_min_speed_mps=0.5)
    ctl = FollowController(cfg)
    p = np.array([0.0, cfg.distance_m, -cfg.height_m])  # already east of a standing subject, at the offset
    ctl.step(_est(np.zeros(3), np.array([0.1, 0.0, 0.0]), 0.0), _veh(p, np.zeros(3), 0.0, 0.0), DT)
    assert ctl.goal_ned_m(_est(np.zeros(3), np.zeros(3), 0.0)) == pytest.approx(p)
    heading = ctl.heading_rad
    ctl.step(_est(np.zeros(3), np.array([-0.2, 0.3, 0.0]), DT), _veh(p, np.zeros(3), 0.0, DT), DT)
    assert ctl.heading_rad == heading


@pytest.mark.parametrize("vehicle_vel", [(0.0, 0.0, 0.0), (3.0, -1.0, 0.5), (-2.0, 2.0, -1.0)])
def test_no_step_on_engage(vehicle_vel: tuple[float, float, float]) -> None:
    cfg = FollowConfig()
    ctl = FollowController(cfg)
    v0 = np.array(vehicle_vel)
    cmd = ctl.step(_est(np.array([50.0, 0, 0]), np.array([2.0, 0, 0]), 0.0), _veh(np.zeros(3), v0, 0.0, 0.0), DT)
    assert cmd is not None
    # the first output is the vehicle velocity plus at most one step of jerk-limited acceleration
    assert np.linalg.norm(cmd.velocity_ned_mps - v0) <= cfg.max_jerk_mps3 * DT * DT + 1e-12
    # after losing the estimate, re-engaging starts from the vehicle velocity again
    assert ctl.step(_est(np.zeros(3), np.zeros(3), DT, valid=False), _veh(np.zeros(3), v0, 0.0, DT), DT) is None
    cmd2 = ctl.step(_est(np.array([50.0, 0, 0]), np.zeros(3), 2 * DT), _veh(np.zeros(3), -v0, 0.0, 2 * DT), DT)
    assert cmd2 is not None
    assert np.linalg.norm(cmd2.velocity_ned_mps + v0) <= cfg.max_jerk_mps3 * DT * DT + 1e-12


def test_invalid_dt_raises() -> None:
    ctl = FollowController(FollowConfig())
    with pytest.raises(InvalidValueError, match="dt_s"):
        ctl.step(_est(np.zeros(3), np.zeros(3), 0.0), _veh(np.zeros(3), np.zeros(3), 0.0, 0.0), 0.0)


vec = st.tuples(st.floats(-60, 60), st.floats(-60, 60), st.floats(-30, 0))


@given(
    accel=st.floats(0.2, 6.0), jerk=st.floats(0.5, 50.0), speed=st.floats(0.5, 12.0),
    dt=st.floats(0.01, 0.2), start=vec, subject_v=st.tuples(st.floats(-3, 3), st.floats(-3, 3)),
    turns=st.lists(st.tuples(st.integers(1, 40), st.floats(-3, 3), st.floats(-3, 3)), max_size=5),
)
@settings(max_examples=60, deadline=None)
def test_accel_and_jerk_limits_hold(accel: float, jerk: float, speed: float, dt: float,
                                    start: tuple[float, float, float], subject_v: tuple[float, float],
                                    turns: list[tuple[int, float, float]]) -> None:
    cfg = FollowConfig(max_accel_mps2=accel, max_jerk_mps3=jerk, max_speed_mps=speed)
    ctl = FollowController(cfg)
    s, u = np.zeros(3), np.array([*subject_v, 0.0])
    p, v = np.array(start), np.zeros(3)
    prev_v, prev_a = v.copy(), np.zeros(3)
    schedule = [(n, np.array([a, b, 0.0])) for n, a, b in turns] + [(40, u)]
    t = 0.0
    for n, new_u in schedule:
        u = new_u
        for _ in range(n):
            cmd = ctl.step(_est(s, u, t), _veh(p, v, 0.0, t), dt)
            assert cmd is not None and np.all(np.isfinite(cmd.velocity_ned_mps))
            a = (cmd.velocity_ned_mps - prev_v) / dt
            assert np.linalg.norm(a) <= accel * (1 + 1e-9) + 1e-9
            assert np.linalg.norm(a - prev_a) / dt <= jerk * (1 + 1e-6) + 1e-6
            prev_v, prev_a = cmd.velocity_ned_mps.copy(), a
            v = v + (cmd.velocity_ned_mps - v) * min(1.0, dt / 0.3)
            p, s, t = p + v * dt, s + u * dt, t + dt
