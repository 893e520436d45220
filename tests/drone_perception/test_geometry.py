"""Tests for drone_perception.geometry: round trips, edge cases, and covariance calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_perception.errors import InvalidValueError
from drone_perception.geometry import (
    ground_intersect,
    locate_people,
    observed_sector,
    person_box,
    pixel_to_ray_cam,
    project_points,
    rays_ned,
    wrap_angle_rad,
)
from drone_perception.types import CameraIntrinsics, CameraModel

INTR = CameraIntrinsics.from_hfov(1.2, (1280, 720))
W, H = INTR.size_wh_px


def camera(yaw: float = 0.3, pitch: float = -0.25, alt_m: float = 6.0, north_m: float = 0.0) -> CameraModel:
    return CameraModel.from_gimbal(INTR, [north_m, 0.0, -alt_m], yaw, pitch)


def foot_at(cam: CameraModel, range_m: float, bearing_offset_rad: float = 0.0,
            ground: float = 0.0) -> np.ndarray:
    """A ground point at horizontal distance ``range_m`` from the camera, near the optical axis' bearing."""
    b = cam.yaw_rad + bearing_offset_rad
    c = cam.position_ned_m
    return np.array([[c[0] + range_m * math.cos(b), c[1] + range_m * math.sin(b), ground]])


yaws = st.floats(-math.pi, math.pi)
pitches = st.floats(-1.2, 0.2)


# ---------------------------------------------------------------------------------------------- rays


@given(yaw=yaws, pitch=st.floats(-1.55, 1.55))
def test_rotation_is_orthonormal_and_rays_are_unit(yaw: float, pitch: float) -> None:
    cam = camera(yaw, pitch)
    R = cam.R_ned_from_cam
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    uv = np.array([[0.0, 0.0], [W, H], [INTR.cx_px, INTR.cy_px], [100.0, 650.0]])
    d = rays_ned(cam, uv)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-12)
    # the principal point looks along the optical axis; its right axis stays horizontal (no roll)
    np.testing.assert_allclose(d[2], R[:, 2], atol=1e-12)
    assert abs(R[2, 0]) < 1e-12


@pytest.mark.parametrize(
    ("uv", "expected"),
    [
        ((INTR.cx_px, INTR.cy_px), (0.0, 0.0, 1.0)),
        ((INTR.cx_px + INTR.fx_px, INTR.cy_px), (1 / math.sqrt(2), 0.0, 1 / math.sqrt(2))),
        ((INTR.cx_px, INTR.cy_px - INTR.fy_px), (0.0, -1 / math.sqrt(2), 1 / math.sqrt(2))),
    ],
)
def test_pixel_to_ray_cam_table(uv: tuple[float, float], expected: tuple[float, float, float]) -> None:
    np.testing.assert_allclose(pixel_to_ray_cam(INTR, [uv])[0], expected, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    yaw=yaws,
    pitch=pitches,
    alt=st.floats(1.0, 60.0),
    u=st.floats(0.0, W),
    v=st.floats(0.0, H),
    ground=st.floats(-5.0, 5.0),
)
def test_pixel_ground_project_round_trip(yaw: float, pitch: float, alt: float, u: float, v: float,
                                         ground: float) -> None:
    cam = camera(yaw, pitch, alt)
    pts, valid = ground_intersect(cam, [[u, v]], ground_down_m=ground)
    above_ground = ground - cam.position_ned_m[2] > 0
    ray_down = rays_ned(cam, [[u, v]])[0, 2]
    assert bool(valid[0]) == bool(above_ground and ray_down > 1e-6)
    if not valid[0]:
        assert np.all(np.isnan(pts[0]))
        return
    assert pts[0, 2] == ground
    uv_back, depth = project_points(cam, pts)
    assert depth[0] > 0
    np.testing.assert_allclose(uv_back[0], [u, v], atol=1e-6 * max(1.0, np.linalg.norm(pts[0])))


@pytest.mark.parametrize(
    ("pitch", "v", "valid"),
    [
        (0.0, INTR.cy_px, False),  # exactly on the horizon
        (0.0, INTR.cy_px - 50, False),  # above the horizon
        (0.0, INTR.cy_px + 50, True),  # below the horizon
        (0.4, INTR.cy_px + 100, False),  # camera pitched up: lower image rows still look up
        (-0.4, 0.0, True),  # pitched down: the top row is below the horizon
    ],
)
def test_ground_intersect_horizon_table(pitch: float, v: float, valid: bool) -> None:
    pts, ok = ground_intersect(camera(pitch=pitch), [[INTR.cx_px, v]])
    assert bool(ok[0]) == valid
    assert bool(np.all(np.isfinite(pts[0]))) == valid


def test_ground_intersect_camera_below_ground_is_invalid() -> None:
    pts, ok = ground_intersect(camera(pitch=-0.5, alt_m=2.0), [[INTR.cx_px, INTR.cy_px]], ground_down_m=-3.0)
    assert not ok[0] and np.all(np.isnan(pts))


def test_project_points_behind_camera() -> None:
    cam = camera(yaw=0.0, pitch=0.0, alt_m=5.0)
    uv, depth = project_points(cam, [[-10.0, 0.0, -5.0], [10.0, 0.0, -5.0], [0.0, 0.0, -5.0]])
    assert depth[0] < 0 and np.all(np.isnan(uv[0]))
    assert depth[1] == pytest.approx(10.0)
    np.testing.assert_allclose(uv[1], [INTR.cx_px, INTR.cy_px])
    assert depth[2] == 0.0 and np.all(np.isnan(uv[2]))


@pytest.mark.parametrize(
    ("func", "arg"),
    [
        (lambda a: pixel_to_ray_cam(INTR, a), np.zeros((3, 3))),
        (lambda a: project_points(camera(), a), np.zeros((2, 2))),
        (lambda a: locate_people(camera(), a), np.zeros((2, 3))),
        (lambda a: locate_people(camera(), a), [[10.0, 10.0, 5.0, 20.0]]),  # x2 < x1
        (lambda a: locate_people(camera(), a), [[10.0, np.nan, 20.0, 40.0]]),
        (lambda a: locate_people(camera(), [[0, 0, 1, 1]], pixel_sigma_px=a), 0.0),
        (lambda a: ground_intersect(camera(), [[1.0, 1.0]], ground_down_m=a), math.nan),
        (lambda a: person_box(camera(), [[1.0, 0.0, 0.0]], a, 0.5), np.ones(2)),
        (lambda a: observed_sector(camera(), min_range_m=a), -1.0),
    ],
)
def test_bad_inputs_raise(func, arg) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidValueError):
        func(arg)


def test_empty_inputs() -> None:
    cam = camera()
    fix = locate_people(cam, np.zeros((0, 4)))
    assert len(fix) == 0 and fix.cov_ned_m2.shape == (0, 3, 3)
    boxes, vis = person_box(cam, np.zeros((0, 3)), 1.75, 0.5)
    assert boxes.shape == (0, 4) and vis.shape == (0,)


# ---------------------------------------------------------------------------------------------- people


@settings(max_examples=40, deadline=None)
@given(
    yaw=yaws,
    pitch=st.floats(-0.6, 0.05),
    alt=st.floats(2.0, 25.0),
    range_m=st.floats(8.0, 80.0),
    offset=st.floats(-0.4, 0.4),
    height=st.floats(1.5, 2.0),
)
def test_person_box_then_locate_recovers_foot(yaw: float, pitch: float, alt: float, range_m: float,
                                              offset: float, height: float) -> None:
    cam = camera(yaw, pitch, alt)
    foot = foot_at(cam, range_m, offset)
    box, visible = person_box(cam, foot, height, 0.5)
    if not visible[0]:
        return
    fix = locate_people(cam, box)
    if not fix.valid[0]:
        # only when both ends of the body are cut off by the image border
        assert box[0, 1] <= 1.0 and box[0, 3] >= H - 1.0
        return
    err = fix.position_ned_m[0, :2] - foot[0, :2]
    cov = fix.cov_ned_m2[0, :2, :2]
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    # 4-sigma Mahalanobis gate, plus 2 cm for the body-shape approximation (box centre vs foot column)
    mahal2 = err @ np.linalg.solve(cov + 0.02**2 * np.eye(2), err)
    assert mahal2 < 16.0
    assert fix.position_ned_m[0, 2] == 0.0
    assert fix.range_m[0] == pytest.approx(np.linalg.norm(fix.position_ned_m[0] - cam.position_ned_m))


def test_uncertainty_grows_with_range_and_shallow_angle() -> None:
    cam = camera(yaw=0.0, pitch=-0.2, alt_m=6.0)
    feet = np.vstack([foot_at(cam, r) for r in (10.0, 20.0, 40.0, 80.0)])
    boxes, vis = person_box(cam, feet, 1.75, 0.5)
    assert vis.all()
    fix = locate_people(cam, boxes)
    along = fix.cov_ned_m2[:, 0, 0]  # north = along the line of sight for yaw 0
    assert np.all(np.diff(along) > 0), along
    # a lower camera sees the same person at a shallower angle: larger range uncertainty
    low = camera(yaw=0.0, pitch=-0.05, alt_m=2.0)
    box_low, _ = person_box(low, foot_at(low, 40.0), 1.75, 0.5)
    high = camera(yaw=0.0, pitch=-0.4, alt_m=20.0)
    box_high, _ = person_box(high, foot_at(high, 40.0), 1.75, 0.5)
    fix_low, fix_high = locate_people(low, box_low), locate_people(high, box_high)
    assert fix_low.cov_ned_m2[0, 0, 0] > fix_high.cov_ned_m2[0, 0, 0]


def test_height_cue_helps_at_shallow_angles_and_vanishes_when_uninformative() -> None:
    # A low camera sees the feet at a shallow angle: the foot cue is poor (pixel and ground-height errors
    # are magnified), so the body-height cue takes a share. (It shares the bottom edge with the foot cue,
    # so the gain is modest.)
    cam = camera(yaw=0.0, pitch=-0.05, alt_m=2.0)
    box, _ = person_box(cam, foot_at(cam, 10.0), 1.75, 0.5)
    fused = locate_people(cam, box)
    foot_only = locate_people(cam, box, height_sigma_m=1e3)  # the body-height prior carries no information
    foot_px, _ = ground_intersect(cam, [[0.5 * (box[0, 0] + box[0, 2]), box[0, 3]]])
    np.testing.assert_allclose(foot_only.position_ned_m[0], foot_px[0], atol=1e-3)
    assert fused.cov_ned_m2[0, 0, 0] < 0.9 * foot_only.cov_ned_m2[0, 0, 0]
    # fusing never makes the estimate worse than the better cue
    for alt, pitch, r in [(6.0, -0.25, 30.0), (15.0, -0.3, 60.0), (2.0, -0.05, 60.0)]:
        cam = camera(yaw=0.0, pitch=pitch, alt_m=alt)
        box, _ = person_box(cam, foot_at(cam, r), 1.75, 0.5)
        fused_var = locate_people(cam, box).cov_ned_m2[0, 0, 0]
        assert fused_var <= locate_people(cam, box, height_sigma_m=1e3).cov_ned_m2[0, 0, 0] + 1e-9


@pytest.mark.parametrize(
    ("name", "box", "valid"),
    [
        # feet cut off by the image bottom: the head ray and the height prior still place the person
        ("bottom_cut", [600.0, 500.0, 680.0, H], True),
        # head cut off: the foot point still works
        ("top_cut", [600.0, 0.0, 680.0, 600.0], True),
        # both ends cut off: no range cue
        ("both_cut", [600.0, 0.0, 680.0, H], False),
        # feet above the horizon (camera pitched up): only the body-height cue works
        ("above_horizon", [630.0, 100.0, 650.0, 150.0], True),
    ],
)
def test_truncated_and_horizon_boxes(name: str, box: list[float], valid: bool) -> None:
    pitch = 0.3 if name == "above_horizon" else -0.35
    cam = camera(yaw=0.0, pitch=pitch, alt_m=6.0)
    fix = locate_people(cam, [box])
    assert bool(fix.valid[0]) == valid
    if valid:
        assert np.all(np.isfinite(fix.position_ned_m[0])) and np.all(np.isfinite(fix.cov_ned_m2[0]))
        assert fix.position_ned_m[0, 0] > 0  # in front of the camera (north)
    else:
        assert np.all(np.isnan(fix.position_ned_m[0])) and np.isnan(fix.range_m[0])


def test_bottom_cut_box_uses_head_cue_correctly() -> None:
    cam = camera(yaw=0.0, pitch=-0.35, alt_m=10.0)
    foot = foot_at(cam, 10.0)
    box, vis = person_box(cam, foot, 1.75, 0.5)
    assert vis[0] and box[0, 3] == H  # the feet are out of view
    fix = locate_people(cam, box)
    assert fix.valid[0]
    err = fix.position_ned_m[0, :2] - foot[0, :2]
    assert err @ np.linalg.solve(fix.cov_ned_m2[0, :2, :2], err) < 9.0


def test_top_cut_box_matches_foot_point() -> None:
    cam = camera(yaw=0.0, pitch=-0.6, alt_m=2.0)
    foot = foot_at(cam, 5.5)
    box, _ = person_box(cam, foot, 1.75, 0.5)
    assert box[0, 1] == 0.0  # head out of view
    fix = locate_people(cam, box)
    expected, _ = ground_intersect(cam, [[0.5 * (box[0, 0] + box[0, 2]), box[0, 3]]])
    np.testing.assert_allclose(fix.position_ned_m[0], expected[0], atol=1e-6)


@pytest.mark.parametrize("range_m", [10.0, 30.0, 60.0])
def test_covariance_matches_monte_carlo_scatter(range_m: float) -> None:
    """Pixel noise on each edge, body and ground heights drawn from their priors: the reported covariance
    must match the empirical scatter of the fixes within a factor of 2 along both principal axes."""
    rng = np.random.default_rng(int(range_m))
    cam = camera(yaw=0.3, pitch=-0.25, alt_m=6.0)
    foot = foot_at(cam, range_m, 0.1)
    n = 1500
    heights = 1.75 + 0.15 * rng.standard_normal(n)
    feet = np.repeat(foot, n, axis=0)
    feet[:, 2] = 0.1 * rng.standard_normal(n)  # the ground is flat to about 0.1 m
    boxes, vis = person_box(cam, feet, heights, 0.5)
    assert vis.all()
    boxes = boxes + 2.0 * rng.standard_normal(boxes.shape)
    boxes[:, [0, 2]] = np.sort(boxes[:, [0, 2]], axis=1)
    boxes[:, [1, 3]] = np.sort(boxes[:, [1, 3]], axis=1)
    fix = locate_people(cam, boxes, pixel_sigma_px=2.0, height_sigma_m=0.15, ground_sigma_m=0.1)
    assert fix.valid.all()
    xy = fix.position_ned_m[:, :2]
    empirical = np.cov(xy.T)
    reported = fix.cov_ned_m2[:, :2, :2].mean(axis=0)
    _, axes = np.linalg.eigh(reported)
    for k in range(2):
        a = axes[:, k]
        ratio = (a @ empirical @ a) / (a @ reported @ a)
        assert 0.5 < ratio < 2.0, (range_m, k, ratio)
    # and noise does not bias the fixes (vs the noise-free fix) by more than half a sigma
    clean_box, _ = person_box(cam, foot, 1.75, 0.5)
    bias = xy.mean(axis=0) - locate_people(cam, clean_box).position_ned_m[0, :2]
    assert bias @ np.linalg.solve(reported, bias) < 0.25


# ---------------------------------------------------------------------------------------------- person_box


@pytest.mark.parametrize(
    ("foot", "visible"),
    [
        ([20.0, 0.0, 0.0], True),
        ([-20.0, 0.0, 0.0], False),  # behind the camera
        ([20.0, 40.0, 0.0], False),  # far outside the right edge
        ([8.0, 0.0, 0.0], True),  # close: feet below the image, clipped
        ([3.0, 0.0, 0.0], False),  # wholly below the image
    ],
)
def test_person_box_visibility_table(foot: list[float], visible: bool) -> None:
    cam = camera(yaw=0.0, pitch=-0.2, alt_m=6.0)
    box, vis = person_box(cam, [foot], 1.75, 0.5)
    assert bool(vis[0]) == visible
    if visible:
        assert np.all(box[0] >= 0) and box[0, 2] <= W and box[0, 3] <= H
        assert box[0, 2] >= box[0, 0] and box[0, 3] >= box[0, 1]
    else:
        assert np.all(np.isnan(box[0]))


def test_person_box_bottom_centre_is_foot_projection() -> None:
    cam = camera(yaw=0.2, pitch=-0.3, alt_m=8.0)
    foot = foot_at(cam, 25.0, 0.0)
    box, _ = person_box(cam, foot, 1.8, 0.6)
    uv, _ = project_points(cam, foot)
    assert box[0, 3] == pytest.approx(uv[0, 1], abs=1e-6)
    assert 0.5 * (box[0, 0] + box[0, 2]) == pytest.approx(uv[0, 0], abs=1e-6)


# ---------------------------------------------------------------------------------------------- sector


@given(yaw=yaws)
def test_observed_sector_level_camera(yaw: float) -> None:
    center, half = observed_sector(camera(yaw=yaw, pitch=0.0))
    assert math.cos(center - yaw) == pytest.approx(1.0)
    assert half == pytest.approx(INTR.hfov_rad / 2, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(yaw=yaws, pitch=st.floats(-0.7, 0.3), frac=st.floats(-0.99, 0.99), row=st.floats(0.0, H))
def test_observed_sector_bearings_are_in_view(yaw: float, pitch: float, frac: float, row: float) -> None:
    """Every bearing inside the sector is seen by every image row: the direction in that row's plane of
    rays with that bearing projects inside the image (the sector is the narrowest row: conservative)."""
    cam = camera(yaw=yaw, pitch=pitch, alt_m=10.0)
    center, half = observed_sector(cam)
    assert 0.0 < half <= math.pi / 2
    b = center + frac * half
    y_n = (row - INTR.cy_px) / INTR.fy_px
    normal = cam.R_ned_from_cam @ np.array([0.0, -1.0, y_n])  # normal of the plane of this row's rays
    h = np.array([math.cos(b), math.sin(b), 0.0])
    d = normal[2] * h - (normal @ h) * np.array([0.0, 0.0, 1.0])
    d = d if normal[2] >= 0 else -d
    uv, depth = project_points(cam, (cam.position_ned_m + 100.0 * d / np.linalg.norm(d))[None, :])
    assert depth[0] > 0
    assert -1e-6 <= uv[0, 0] <= W + 1e-6
    assert uv[0, 1] == pytest.approx(row, abs=1e-6)


def test_observed_sector_straight_down_with_min_range_is_empty() -> None:
    cam = camera(yaw=1.0, pitch=-math.pi / 2 + 1e-3, alt_m=10.0)
    _, half = observed_sector(cam, min_range_m=10.0)
    assert half == 0.0
    # a shallower camera sees far: the range requirement changes nothing
    shallow = camera(yaw=1.0, pitch=-0.2, alt_m=10.0)
    assert observed_sector(shallow, min_range_m=10.0) == observed_sector(shallow)


# --------------------------------------------------------------------------------------------------
# Angle wrap


@pytest.mark.parametrize(("angle", "expected"), [
    (0.0, 0.0), (1.0, 1.0), (-1.0, -1.0), (math.pi, -math.pi), (-math.pi, -math.pi),
    (3 * math.pi / 2, -math.pi / 2), (-3 * math.pi / 2, math.pi / 2), (7.0, 7.0 - 2 * math.pi),
    (2 * math.pi, 0.0), (-40.0, -40.0 + 6 * 2 * math.pi),
])
def test_wrap_angle_rad_table(angle, expected) -> None:
    assert wrap_angle_rad(angle) == pytest.approx(expected, abs=1e-12)


@given(st.floats(-1e6, 1e6))
def test_wrap_angle_rad_range_and_equivalence(angle) -> None:
    w = wrap_angle_rad(angle)
    assert -math.pi <= w < math.pi
    assert math.cos(w) == pytest.approx(math.cos(angle), abs=1e-9)
    assert math.sin(w) == pytest.approx(math.sin(angle), abs=1e-9)


def test_one_angle_wrap() -> None:
    """The controller, the standoff solver and the simulator's multicopter use this one wrap."""
    import importlib

    for mod in ("drone_perception.control.follow", "drone_perception.control.standoff", "sim.world.multicopter"):
        m = importlib.import_module(mod)
        assert m.wrap_angle_rad is wrap_angle_rad
        assert not hasattr(m, "_wrap_pi") and not hasattr(m, "wrap_pi")
    angles = [*np.random.default_rng(0).uniform(-50.0, 50.0, 5000).tolist(), math.pi, -math.pi, 0.0, 2 * math.pi]
    assert all(-math.pi <= wrap_angle_rad(a) < math.pi for a in angles)
    arr = np.array(angles)
    assert np.array_equal(wrap_angle_rad(arr), np.array([wrap_angle_rad(a) for a in angles]))
