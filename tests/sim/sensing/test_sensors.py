"""Detection model: projection oracle, misses vs size and occlusion, false-positive rate, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drone_perception import geometry
from drone_perception.config import StackConfig
from drone_perception.errors import InvalidValueError
from drone_perception.types import CameraIntrinsics, CameraModel
from sim.sensing.sensors import NEAR_PLANE_M, DetectionModelParams, project_body, simulate_detections
from sim.world.autopilot import GuidedAutopilot
from sim.world.multicopter import Multicopter, MulticopterParams
from sim.world.occluders import Tree
from sim.world.people import SimPerson, Standing
from sim.world.wind import Wind
from sim.world.world import World

INTR = CameraIntrinsics.from_hfov(1.2, (1280, 720))
NO_NOISE = DetectionModelParams(miss_prob_floor=0.0, miss_prob_at_min_height=0.0, occlusion_miss_gain=0.0,
                                box_jitter_rel=0.0, false_positives_per_frame=0.0, confidence_sigma=0.0)


def make_world(people_ne, trees=(), pitch=-0.35, altitude=8.0, seed=0):
    people = [SimPerson(i, i == 0, Standing(), 1.75, position_ne_m=ne) for i, ne in enumerate(people_ne)]
    return World(people=people, vehicle=Multicopter(MulticopterParams(), [0.0, 0.0, -altitude], 0.0),
                 autopilot=GuidedAutopilot(), wind=Wind(), intrinsics=INTR, gimbal_pitch_rad=pitch,
                 rng=np.random.default_rng(seed), fence=StackConfig().fence, trees=trees)


def test_projection_matches_camera_geometry_oracle():
    # Oracle: foot and head projected through K R^T (X - C); with zero width the box spans exactly those two.
    world = make_world([(20.0, 3.0)])
    cam = world.camera_model()
    (x1, y1, x2, y2), in_front = project_body(cam, [20.0, 3.0, 0.0], 1.75, 0.0)
    uv = []
    for point in ([20.0, 3.0, 0.0], [20.0, 3.0, -1.75]):
        p = INTR.K @ (cam.R_ned_from_cam.T @ (np.array(point) - cam.position_ned_m))
        uv.append(p[:2] / p[2])
    (uf, vf), (uh, vh) = uv
    assert in_front
    assert (x1, y1, x2, y2) == pytest.approx((min(uf, uh), vh, max(uf, uh), vf))
    depth = (cam.R_ned_from_cam.T @ (np.array([20.0, 3.0, 0.0]) - cam.position_ned_m))[2]
    assert y2 - y1 == pytest.approx(INTR.fy_px * 1.75 / depth, rel=0.15)


@pytest.mark.parametrize("seed", range(30))
def test_projection_agrees_with_the_stack_geometry(seed):
    """The detection model's own pinhole copy (kept independent on purpose) against the stack's
    ``geometry.project_points`` (every body in front of the camera) and ``geometry.person_box`` (bodies wholly
    inside the image, where the stack's box is not clipped)."""
    rng = np.random.default_rng(seed)
    k = CameraIntrinsics.from_hfov(float(rng.uniform(0.6, 1.8)), (int(rng.integers(320, 1920)),
                                                                  int(rng.integers(240, 1080))))
    cam = CameraModel.from_gimbal(k, rng.uniform([-20, -20, -40], [20, 20, -0.5]), float(rng.uniform(-4, 4)),
                                  float(rng.uniform(-1.5, 0.4)))
    right = cam.R_ned_from_cam[:, 0].copy()
    right[2] = 0.0
    right /= np.linalg.norm(right)
    ahead = cam.position_ned_m + cam.R_ned_from_cam[:, 2] * float(rng.uniform(5, 60))
    compared = inside = 0
    for _ in range(40):
        foot = np.array([*(ahead[:2] + rng.normal(0.0, 25.0, 2)), float(rng.uniform(-1.0, 1.0))])
        h, w = float(rng.uniform(0.5, 2.5)), float(rng.uniform(0.0, 1.0))
        box, in_front = project_body(cam, foot, h, w)
        up = np.array([0.0, 0.0, -h])
        corners = np.stack([foot - 0.5 * w * right, foot + 0.5 * w * right, foot - 0.5 * w * right + up,
                            foot + 0.5 * w * right + up])
        uv, depth = geometry.project_points(cam, corners)
        assert in_front == bool(np.all(depth > NEAR_PLANE_M))
        if not in_front:
            continue
        compared += 1
        expected = (uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max())
        np.testing.assert_allclose(box, expected, rtol=1e-9, atol=1e-6)
        stack_box, visible = geometry.person_box(cam, foot, h, w)
        wi, hi = k.size_wh_px
        if box[0] > 0 and box[1] > 0 and box[2] < wi and box[3] < hi:
            inside += 1
            assert visible[0]
            np.testing.assert_allclose(box, stack_box[0], rtol=1e-9, atol=1e-6)
    assert compared > 0
    if seed == 0:
        assert inside > 0


def test_person_straight_ahead_on_the_optical_axis_is_centred():
    # Camera looking horizontally at a person whose mid-height is at camera height: box centred in the image.
    world = make_world([(30.0, 0.0)], pitch=0.0, altitude=0.875)
    dets, ids = simulate_detections(world, world.camera_model(), np.random.default_rng(0), NO_NOISE)
    assert ids.tolist() == [0]
    x1, y1, x2, y2 = dets.xyxy_px[0]
    assert (x1 + x2) / 2 == pytest.approx(640.0, abs=1e-3)
    assert (y1 + y2) / 2 == pytest.approx(360.0, abs=1e-3)


@pytest.mark.parametrize(("where", "seen"), [
    ((20.0, 0.0), True),
    ((-20.0, 0.0), False),  # behind the camera
    ((20.0, 40.0), False),  # outside the horizontal field of view
    ((2.0, 0.0), False),  # below the bottom of the image
    ((400.0, 0.0), False),  # too small (box under min_box_height_px)
])
def test_visibility_cases(where, seen):
    world = make_world([where])
    _, ids = simulate_detections(world, world.camera_model(), np.random.default_rng(0), NO_NOISE)
    assert (0 in ids.tolist()) == seen


def detection_rate(world, params, n=400, seed=1):
    rng = np.random.default_rng(seed)
    cam = world.camera_model()
    return np.mean([0 in simulate_detections(world, cam, rng, params)[1].tolist() for _ in range(n)])


def test_small_people_are_missed_more():
    params = DetectionModelParams(false_positives_per_frame=0.0)
    # (the calibrated default: ~125 px at 12 m is found ~93 % of the time, ~20 px at 90 m never)
    near, far = detection_rate(make_world([(12.0, 0.0)]), params), detection_rate(make_world([(90.0, 0.0)]), params)
    assert near > 0.85
    assert far < near - 0.2


def test_partly_occluded_people_are_missed_more_and_hidden_ones_never_seen():
    params = DetectionModelParams(false_positives_per_frame=0.0)
    clear = detection_rate(make_world([(20.0, 0.0)]), params)
    partly = detection_rate(make_world([(20.0, 0.0)], trees=[Tree((16.0, 0.0), 0.3, 2.3)]), params)
    hidden = detection_rate(make_world([(20.0, 0.0)], trees=[Tree((10.0, 0.0), 1.0, 10.0)]), params)
    assert partly < clear - 0.2
    assert hidden == 0.0


@pytest.mark.parametrize("rate", [0.05, 0.5, 2.0])
def test_false_positive_rate_matches(rate):
    world = make_world([(20.0, 0.0)])
    cam = world.camera_model()
    rng = np.random.default_rng(5)
    n = 3000
    fps = sum(int(np.count_nonzero(simulate_detections(world, cam, rng, DetectionModelParams(
        false_positives_per_frame=rate))[1] == -1)) for _ in range(n))
    se = math.sqrt(rate / n)
    assert fps / n == pytest.approx(rate, abs=5 * se)


def test_detections_are_valid_sorted_and_inside_the_image():
    world = make_world([(20.0, 0.0), (25.0, 6.0), (30.0, -5.0)])
    rng = np.random.default_rng(2)
    for _ in range(200):
        dets, ids = simulate_detections(world, world.camera_model(), rng, DetectionModelParams(
            false_positives_per_frame=1.0))
        assert len(dets) == len(ids)
        assert np.all(np.diff(dets.confidence) <= 0)
        assert np.all(dets.xyxy_px >= 0) and np.all(dets.xyxy_px[:, [0, 2]] <= 1280)
        assert np.all(dets.xyxy_px[:, [1, 3]] <= 720)
        assert np.all(dets.class_id == 0)
        assert dets.stamp_s == world.t_s


def test_same_seed_same_detections():
    world = make_world([(20.0, 0.0), (25.0, 6.0)])
    cam = world.camera_model()

    def draw(seed):
        rng = np.random.default_rng(seed)
        return [simulate_detections(world, cam, rng, DetectionModelParams(false_positives_per_frame=0.5))
                for _ in range(20)]

    a, b, c = draw(4), draw(4), draw(5)
    assert all(np.array_equal(x[0].xyxy_px, y[0].xyxy_px) and np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    assert not all(np.array_equal(x[0].xyxy_px, y[0].xyxy_px) for x, y in zip(a, c))


def test_blackout_window_hides_the_person():
    world = make_world([(20.0, 0.0)])
    world_hidden = World(people=world.people, vehicle=world.vehicle, autopilot=world.autopilot, wind=world.wind,
                         intrinsics=INTR, gimbal_pitch_rad=-0.35, rng=np.random.default_rng(0),
                         fence=world.fence, hidden_s=[(0.0, 1.0, 0)])
    assert detection_rate(world_hidden, NO_NOISE, n=5) == 0.0


def test_camera_model_is_the_stack_camera_type():
    world = make_world([(20.0, 0.0)])
    assert isinstance(world.camera_model(), CameraModel)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"miss_prob_floor": 1.5}, "miss_prob_floor"),
    ({"min_box_height_px": 0.0}, "min_box_height_px"),
    ({"false_positives_per_frame": -1.0}, "false_positives_per_frame"),
    ({"fp_height_range_px": (50.0, 10.0)}, "fp_height_range_px"),
])
def test_params_validation(kwargs, field):
    with pytest.raises(InvalidValueError, match=field):
        DetectionModelParams(**kwargs)
