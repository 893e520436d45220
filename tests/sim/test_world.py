"""World: stepping, command delivery and expiry, ground-truth separation and fence margin, camera, truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drone_perception.config import StackConfig
from drone_perception.errors import InvalidValueError
from drone_perception.types import CameraModel, VelocityCommand
from sim.autopilot import GuidedAutopilot
from sim.people import SimPerson, Standing
from sim.vehicle import Multicopter, MulticopterParams
from sim.wind import Wind
from sim.world import World, polygon_signed_distance_m

CFG = StackConfig()


def make_world(people_ne=((20.0, 0.0),), vehicle=(0.0, 0.0, -8.0), yaw=0.0, fence=None):
    from drone_perception.types import CameraIntrinsics

    people = [SimPerson(i, i == 0, Standing(), position_ne_m=ne) for i, ne in enumerate(people_ne)]
    return World(people=people, vehicle=Multicopter(MulticopterParams(), vehicle, yaw), autopilot=GuidedAutopilot(),
                 wind=Wind(), intrinsics=CameraIntrinsics.from_hfov(1.2, (1280, 720)), gimbal_pitch_rad=-0.35,
                 rng=np.random.default_rng(0), fence=fence or CFG.fence)


@pytest.mark.parametrize(("vehicle", "expected"), [
    ((0.0, 0.0, -8.0), math.hypot(20.0, 6.0)),  # above the head: vertical gap from the 2 m body top
    ((20.0, 0.0, -8.0), 6.0),  # straight above
    ((20.0, 5.0, -1.0), 5.0),  # level with the body: horizontal distance
    ((20.0, 3.0, 0.0), 3.0),
])
def test_min_separation_to_body_segment(vehicle, expected):
    world = make_world(vehicle=vehicle)
    sep, per_person = world.min_separation_m()
    assert sep == pytest.approx(expected)
    assert per_person.shape == (1,)


def test_min_separation_per_person_and_minimum():
    world = make_world(people_ne=((20.0, 0.0), (0.0, 12.0), (-30.0, 0.0)))
    sep, per = world.min_separation_m()
    assert per.tolist() == pytest.approx([math.hypot(20, 6), math.hypot(12, 6), math.hypot(30, 6)])
    assert sep == pytest.approx(min(per))


def test_command_is_flown_until_the_timeout_then_the_vehicle_stops():
    world = make_world()
    world.command(VelocityCommand([2.0, 0.0, 0.0], 0.0, world.t_s))
    dt = 0.05
    for _ in range(20):  # 1 s: the setpoint is still flown
        world.step(dt)
    assert world.vehicle.velocity_ned_mps[0] > 1.5
    for _ in range(60):  # after the timeout, braked to a hover
        world.step(dt)
    assert abs(world.vehicle.velocity_ned_mps[0]) < 0.05
    assert world.t_s == pytest.approx(4.0)


def test_vehicle_state_and_camera_follow_the_vehicle():
    world = make_world(vehicle=(1.0, 2.0, -9.0), yaw=0.7)
    state = world.vehicle_state()
    assert state.armed and state.mode == "GUIDED" and state.link_ok and state.stamp_s == world.t_s
    assert state.position_ned_m.tolist() == [1.0, 2.0, -9.0]
    cam = world.camera_model()
    ref = CameraModel.from_gimbal(world.intrinsics, [1.0, 2.0, -9.0], 0.7, -0.35)
    assert np.allclose(cam.R_ned_from_cam, ref.R_ned_from_cam, atol=1e-12)
    assert cam.position_ned_m.tolist() == ref.position_ned_m.tolist()
    assert (cam.yaw_rad, cam.pitch_rad) == pytest.approx((ref.yaw_rad, ref.pitch_rad))
    assert not cam.R_ned_from_cam.flags.writeable and not cam.position_ned_m.flags.writeable


def test_truth_has_the_flight_record_format():
    world = make_world(people_ne=((20.0, 0.0), (5.0, 5.0)))
    world.step(0.05)
    truth = world.truth()
    assert set(truth) == {"vehicle_position_ned_m", "vehicle_velocity_ned_mps", "people", "stamp_s"}
    assert truth["stamp_s"] == pytest.approx(0.05)
    assert [p["id"] for p in truth["people"]] == [0, 1]
    assert [p["is_subject"] for p in truth["people"]] == [True, False]
    assert all(len(p["position_ned_m"]) == 3 for p in truth["people"])


@pytest.mark.parametrize(("point", "expected"), [
    ((0.0, 0.0), 150.0), ((140.0, 0.0), 10.0), ((0.0, -149.0), 1.0), ((160.0, 0.0), -10.0),
    ((160.0, 160.0), -math.hypot(10.0, 10.0)),
])
def test_polygon_signed_distance(point, expected):
    square = np.array(CFG.fence.polygon_ne_m, dtype=float)
    assert polygon_signed_distance_m(np.array(point), square) == pytest.approx(expected)


@pytest.mark.parametrize(("vehicle", "expected"), [
    ((0.0, 0.0, -8.0), 5.0),  # 8 m altitude, 3 m floor
    ((0.0, 0.0, -38.0), 2.0),  # 40 m ceiling
    ((148.0, 0.0, -20.0), 2.0),  # near the north edge
])
def test_fence_margin(vehicle, expected):
    assert make_world(vehicle=vehicle).fence_margin_m() == pytest.approx(expected)


def test_stack_config_takes_the_world_fence_only_when_owned():
    world = make_world()
    assert world.stack_config(CFG) is CFG
    world.own_fence = True
    assert world.stack_config(CFG).fence == world.fence


@pytest.mark.parametrize("dt", [0.0, -0.1, float("nan")])
def test_step_rejects_bad_dt(dt):
    with pytest.raises(InvalidValueError, match="dt_s"):
        make_world().step(dt)


def test_exactly_one_subject_required():
    with pytest.raises(InvalidValueError, match="subject"):
        make_world(people_ne=()).step(0.05)
