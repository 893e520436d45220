"""Motion models: waypoint walking, dwell, stop-and-go, running at the drone, phases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drone_perception.errors import InvalidValueError
from sim.world.people import MotionContext, Phased, SimPerson, Standing, StopAndGo, TowardPoint, WaypointWalker

DT = 0.05


def run(person: SimPerson, seconds: float, vehicle=(0.0, 0.0, -8.0), seed=0):
    rng = np.random.default_rng(seed)
    t = 0.0
    track = []
    for _ in range(round(seconds / DT)):
        person.step(DT, rng, MotionContext(t, np.array(vehicle, dtype=float)))
        t += DT
        track.append((t, person.position_ned_m, person.velocity_ned_mps))
    return track


@pytest.mark.parametrize("speed", [1.4, 3.0])
def test_walker_reaches_waypoints_at_speed_and_stops(speed):
    p = SimPerson(0, True, WaypointWalker([(30.0, 0.0), (30.0, 20.0)], speed), position_ne_m=(0.0, 0.0))
    track = run(p, 60.0 / speed + 5.0)
    speeds = [np.linalg.norm(v) for _, _, v in track]
    assert max(speeds) == pytest.approx(speed, rel=1e-6)
    assert np.linalg.norm(track[-1][1][:2] - [30.0, 20.0]) < 1.5
    assert speeds[-1] == 0.0
    assert all(pos[2] == 0.0 for _, pos, _ in track)


def test_walker_acceleration_is_limited():
    p = SimPerson(0, True, WaypointWalker([(20.0, 0.0), (20.0, 20.0)], 3.0, accel_mps2=2.0))
    track = run(p, 20.0)
    vels = np.array([v for _, _, v in track])
    accel = np.linalg.norm(np.diff(vels, axis=0), axis=1) / DT
    assert accel.max() <= 2.0 + 1e-9


def test_dwell_stands_for_the_given_time():
    p = SimPerson(0, True, WaypointWalker([(5.0, 0.0), (20.0, 0.0)], 1.0, dwell_s=(4.0, 0.0)))
    track = run(p, 25.0)
    still = [t for t, _, v in track if np.linalg.norm(v) == 0.0 and t < 20.0]
    assert 3.5 <= len(still) * DT <= 4.6


def test_stop_and_go_alternates():
    p = SimPerson(0, True, StopAndGo([(200.0, 0.0)], 1.4, walk_s=(3.0, 4.0), stop_s=(2.0, 3.0)))
    track = run(p, 40.0)
    moving = np.array([np.linalg.norm(v) > 0.05 for _, _, v in track])
    switches = np.count_nonzero(np.diff(moving.astype(int)))
    assert switches >= 10  # ~7 cycles of walk + stop in 40 s


@pytest.mark.parametrize("speed", [1.4, 8.0])
def test_toward_vehicle_projection(speed):
    p = SimPerson(0, True, TowardPoint(speed, None, accel_mps2=4.0, stop_distance_m=2.0), position_ne_m=(40.0, 0.0))
    track = run(p, 40.0, vehicle=(0.0, 0.0, -8.0))
    assert max(np.linalg.norm(v) for _, _, v in track) == pytest.approx(speed, rel=1e-6)
    final = track[-1][1]
    assert 1.0 <= math.hypot(final[0], final[1]) <= 2.5  # stopped near the drone's ground point
    assert np.linalg.norm(track[-1][2]) == 0.0


def test_phases_switch_on_time():
    motion = Phased([(2.0, Standing()), (math.inf, WaypointWalker([(100.0, 0.0)], 1.0, accel_mps2=10.0))])
    track = run(SimPerson(0, True, motion), 4.0)
    assert all(np.linalg.norm(v) == 0.0 for t, _, v in track if t <= 2.0)
    assert np.linalg.norm(track[-1][2]) == pytest.approx(1.0)


def test_same_seed_same_path_with_speed_noise():
    def path(seed):
        p = SimPerson(0, True, WaypointWalker([(100.0, 0.0)], 1.4, speed_sigma_mps=0.2))
        return np.array([pos for _, pos, _ in run(p, 10.0, seed=seed)])
    assert np.array_equal(path(1), path(1))
    assert not np.array_equal(path(1), path(2))


@pytest.mark.parametrize(("make", "field"), [
    (lambda: WaypointWalker([], 1.0), "waypoints_ne_m"),
    (lambda: WaypointWalker([(1, 1)], 0.0), "speed_mps"),
    (lambda: WaypointWalker([(1, 1)], 1.0, dwell_s=-1.0), "dwell_s"),
    (lambda: StopAndGo([(1, 1)], 1.0, walk_s=(3.0, 1.0)), "walk_s"),
    (lambda: Phased([(2.0, Standing()), (1.0, Standing())]), "phases"),
    (lambda: SimPerson(0, True, Standing(), height_m=0.0), "height_m"),
])
def test_validation(make, field):
    with pytest.raises(InvalidValueError, match=field):
        make()
