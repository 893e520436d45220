"""Multicopter dynamics: first-order velocity response, acceleration limit, yaw, wind, ground, tilt."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drone_perception.errors import InvalidValueError
from sim.world.multicopter import Multicopter, MulticopterParams

NO_DRAG = MulticopterParams(drag_per_s=0.0, disturbance_time_constant_s=None)


def fly(vehicle: Multicopter, seconds: float, sp, yaw_rate=0.0, wind=(0.0, 0.0, 0.0), dt_s=0.01):
    for _ in range(round(seconds / dt_s)):
        vehicle.step(dt_s, sp, yaw_rate, wind)


@pytest.mark.parametrize("dt_s", [0.005, 0.05, 0.2])
def test_small_step_is_first_order(dt_s):
    # A step small enough not to hit the accel limit: v(t) = v_sp (1 - exp(-t / tau)) at every sample.
    params = MulticopterParams(drag_per_s=0.0, disturbance_time_constant_s=None, max_accel_mps2=50.0)
    v = Multicopter(params, [0.0, 0.0, -10.0])
    tau = params.velocity_time_constant_s
    for k in range(1, 41):
        v.step(dt_s, [1.0, 0.0, 0.0], 0.0, [0.0, 0.0, 0.0])
        assert v.velocity_ned_mps[0] == pytest.approx(1.0 - math.exp(-k * dt_s / tau), abs=1e-9)


@pytest.mark.parametrize("direction", [(1, 0, 0), (0, -1, 0), (0.6, 0.8, 0.0), (0, 0, 1)])
def test_large_step_is_accel_limited(direction):
    v = Multicopter(NO_DRAG, [0.0, 0.0, -50.0])
    dt_s = 0.01
    prev = v.velocity_ned_mps
    sp = 10.0 * np.array(direction, dtype=float)
    for _ in range(100):
        v.step(dt_s, sp, 0.0, [0.0, 0.0, 0.0])
        accel = np.linalg.norm(v.velocity_ned_mps - prev) / dt_s
        assert accel <= NO_DRAG.max_accel_mps2 + 1e-9
        prev = v.velocity_ned_mps
    # While saturated the speed grows at exactly the limit: 1 s -> 5 m/s.
    assert np.linalg.norm(v.velocity_ned_mps) == pytest.approx(5.0, rel=1e-6)


def test_speed_setpoint_clipped_to_max_speed():
    v = Multicopter(NO_DRAG, [0.0, 0.0, -50.0])
    fly(v, 20.0, [100.0, 0.0, 0.0])
    assert np.linalg.norm(v.velocity_ned_mps) == pytest.approx(NO_DRAG.max_speed_mps, rel=1e-3)


def test_yaw_rate_tracks_and_wraps():
    v = Multicopter(MulticopterParams(), [0.0, 0.0, -10.0], yaw_rad=3.0)
    fly(v, 2.0, [0, 0, 0], yaw_rate=1.0)
    assert v.yaw_rate_radps == pytest.approx(1.0, abs=1e-3)
    assert -math.pi <= v.yaw_rad < math.pi
    fly(v, 2.0, [0, 0, 0], yaw_rate=10.0)  # above the limit
    assert v.yaw_rate_radps == pytest.approx(MulticopterParams().max_yaw_rate_radps, abs=1e-3)


def test_cannot_go_below_ground():
    v = Multicopter(MulticopterParams(), [0.0, 0.0, -2.0])
    fly(v, 5.0, [0.0, 0.0, 3.0])
    assert v.position_ned_m[2] == 0.0
    assert v.on_ground
    assert v.velocity_ned_mps[2] <= 0.0


def test_wind_rejected_only_partially_and_with_lag():
    wind = (0.0, 8.0, 0.0)
    without = Multicopter(MulticopterParams(disturbance_time_constant_s=None), [0.0, 0.0, -10.0])
    fly(without, 20.0, [0, 0, 0], wind=wind)
    p = without.params
    gain = (1.0 - math.exp(-0.01 / p.velocity_time_constant_s)) / 0.01  # the exact discrete 1/tau at dt 0.01
    expected = p.drag_per_s / (gain + p.drag_per_s) * 8.0
    assert without.velocity_ned_mps[1] == pytest.approx(expected, rel=1e-3)

    with_estimate = Multicopter(MulticopterParams(), [0.0, 0.0, -10.0])
    fly(with_estimate, 1.0, [0, 0, 0], wind=wind)
    assert with_estimate.velocity_ned_mps[1] > 0.2  # a gust pushes before the controller catches up
    fly(with_estimate, 30.0, [0, 0, 0], wind=wind)
    assert abs(with_estimate.velocity_ned_mps[1]) < 0.01  # steady wind rejected
    assert 0.3 < with_estimate.position_ned_m[1] < 5.0  # but it was blown off by some metres


@pytest.mark.parametrize(("yaw", "accel_dir", "roll_sign", "pitch_sign"), [
    (0.0, (1, 0, 0), 0, -1),  # accelerate forward: nose down
    (0.0, (-1, 0, 0), 0, 1),
    (0.0, (0, 1, 0), 1, 0),  # accelerate right: right side down
    (math.pi / 2, (0, 1, 0), 0, -1),  # facing east, accelerate east: nose down
])
def test_tilt_follows_acceleration(yaw, accel_dir, roll_sign, pitch_sign):
    v = Multicopter(NO_DRAG, [0.0, 0.0, -10.0], yaw_rad=yaw)
    v.step(0.05, 3.0 * np.array(accel_dir, dtype=float), 0.0, [0, 0, 0])
    roll, pitch, _ = v.attitude_rpy_rad
    for value, sign in ((roll, roll_sign), (pitch, pitch_sign)):
        if sign == 0:
            assert abs(value) < 1e-9
        else:
            assert np.sign(value) == sign and abs(value) > 0.1


@pytest.mark.parametrize("field", ["velocity_time_constant_s", "max_accel_mps2", "max_speed_mps"])
def test_params_reject_nonpositive(field):
    with pytest.raises(InvalidValueError, match=field):
        MulticopterParams(**{field: 0.0})


def test_step_rejects_nonpositive_dt():
    with pytest.raises(InvalidValueError, match="dt_s"):
        Multicopter(MulticopterParams(), [0, 0, -5]).step(0.0, [0, 0, 0], 0.0, [0, 0, 0])
