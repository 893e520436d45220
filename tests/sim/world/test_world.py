"""World: stepping, command delivery and expiry, ground-truth separation and fence margin, camera, truth."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_perception.config import StackConfig
from drone_perception.errors import InvalidValueError
from drone_perception.types import CameraIntrinsics, CameraModel, VelocityCommand
from sim.world.autopilot import GuidedAutopilot
from sim.world.multicopter import Multicopter, MulticopterParams
from sim.world.people import SimPerson, Standing
from sim.world.wind import Wind
from sim.world.world import World, fast_camera_model, polygon_signed_distance_m

CFG = StackConfig()
INTR = CameraIntrinsics.from_hfov(1.2, (1280, 720))


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


@given(st.floats(-1e3, 1e3), st.floats(-math.pi, math.pi),
       st.lists(st.floats(-1e4, 1e4), min_size=3, max_size=3))
@settings(max_examples=300, deadline=None)
def test_fast_camera_model_passes_camera_models_own_validation(yaw, pitch, position):
    """Whatever ``fast_camera_model`` accepts, ``CameraModel``'s constructor accepts too (re-validated here
    with ``dataclasses.replace``) and agrees with ``from_gimbal``."""
    cam = fast_camera_model(INTR, np.array(position), yaw, pitch)
    again = dataclasses.replace(cam)  # runs CameraModel.__post_init__ on the fast result
    assert np.array_equal(again.R_ned_from_cam, cam.R_ned_from_cam)
    ref = CameraModel.from_gimbal(INTR, position, yaw, pitch)
    np.testing.assert_allclose(cam.R_ned_from_cam, ref.R_ned_from_cam, rtol=0, atol=1e-15)
    assert cam.position_ned_m.tolist() == ref.position_ned_m.tolist()
    assert (cam.yaw_rad, cam.pitch_rad) == (ref.yaw_rad, ref.pitch_rad)


def test_fast_camera_model_is_bit_identical_to_its_former_unchecked_form():
    """The checks changed nothing the simulator computes (the R formula is the one it always used)."""
    rng = np.random.default_rng(0)
    for yaw, pitch in rng.uniform(-10.0, 10.0, (500, 2)).tolist():
        cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
        R = np.array([[-sy, sp * cy, cp * cy], [cy, sp * sy, cp * sy], [0.0, cp, -sp]])
        cam = fast_camera_model(INTR, np.array([1.0, 2.0, -3.0]), np.float64(yaw), pitch)
        assert np.array_equal(cam.R_ned_from_cam, R)
        assert type(cam.yaw_rad) is float and type(cam.pitch_rad) is float


@pytest.mark.parametrize(("intrinsics", "position", "yaw", "pitch", "match"), [
    (None, [0.0, 0.0, -5.0], 0.0, -0.3, "intrinsics"),
    ("INTR", [0.0, 0.0, math.nan], 0.0, -0.3, "position_ned_m"),
    ("INTR", [0.0, 0.0], 0.0, -0.3, "position_ned_m"),
    ("INTR", [[0.0, 0.0, -5.0]], 0.0, -0.3, "position_ned_m"),
    ("INTR", [0.0, 0.0, -5.0], math.nan, -0.3, "yaw_rad"),
    ("INTR", [0.0, 0.0, -5.0], 0.0, math.inf, "pitch_rad"),
    ("INTR", [0.0, 0.0, -5.0], -math.inf, 0.0, "yaw_rad"),
])
def test_fast_camera_model_rejects_what_camera_model_rejects(intrinsics, position, yaw, pitch, match):
    k = INTR if intrinsics == "INTR" else intrinsics
    with pytest.raises(InvalidValueError, match=match):
        fast_camera_model(k, np.array(position), yaw, pitch)
    if k is not None:  # the validated constructor refuses the same inputs (math.cos(inf): a plain ValueError)
        with pytest.raises(ValueError):
            CameraModel.from_gimbal(k, np.array(position), yaw, pitch)


def test_camera_model_does_not_alias_the_vehicle_position():
    world = make_world(vehicle=(1.0, 2.0, -9.0))
    cam = world.camera_model()
    world.step(0.05)
    world.vehicle._pos[0] += 100.0
    assert cam.position_ned_m.tolist() == [1.0, 2.0, -9.0]


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
