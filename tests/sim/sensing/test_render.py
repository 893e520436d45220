"""Renderer: determinism, people at the projected place and size, occlusion by trees, sprite sources."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drone_perception.geometry import project_points
from drone_perception.types import CameraIntrinsics, CameraModel
from sim.sensing.person_sprites import (
    DEFAULT_PHOTO_DIR,
    VIDEO_SPRITE_FRAMES,
    SpriteSourceError,
    load_photo_sprites,
    load_video_sprites,
    procedural_sprites,
)
from sim.sensing.render import PersonPose, SceneRenderer
from sim.world.occluders import Tree

HAVE_PHOTOS = (DEFAULT_PHOTO_DIR / "bus.jpg").is_file()
needs_photos = pytest.mark.skipif(not HAVE_PHOTOS, reason="test photos not fetched: run `make testdata` "
                                  "(python tests/data/fetch_test_data.py)")


def camera(size_wh_px: tuple[int, int] = (640, 360), height_m: float = 8.0) -> CameraModel:
    """Hovering at (0, 0, -height) looking north, 0.35 rad down."""
    k = CameraIntrinsics.from_hfov(1.2, size_wh_px)
    return CameraModel.from_gimbal(k, np.array([0.0, 0.0, -height_m]), 0.0, -0.35)


@pytest.fixture(scope="module")
def bank():
    return procedural_sprites(seed=3)


def test_same_seed_same_frame_other_seed_other_ground(bank) -> None:
    people = [PersonPose(0, (20.0, 1.0, 0.0), 1.75), PersonPose(1, (30.0, -4.0, 0.0), 1.6)]
    trees = [Tree((25.0, 6.0), 1.5, 7.0)]
    a = SceneRenderer(bank, seed=1).render(camera(), people, trees)
    b = SceneRenderer(bank, seed=1).render(camera(), people, trees)
    c = SceneRenderer(bank, seed=2).render(camera(), people, trees)
    assert np.array_equal(a.image, b.image)
    assert a.people == b.people
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("north_m, east_m, height_m", [(15.0, 0.0, 1.75), (25.0, 3.0, 1.6), (60.0, -10.0, 1.9),
                                                      (12.0, -4.0, 1.8)])
def test_person_drawn_at_projected_foot_with_projected_height(bank, north_m, east_m, height_m) -> None:
    cam = camera()
    foot = np.array([north_m, east_m, 0.0])
    out = SceneRenderer(bank, seed=0).render(cam, [PersonPose(5, tuple(foot), height_m)])
    (view,) = out.people
    uv, _ = project_points(cam, np.stack([foot, foot - [0, 0, height_m]]))
    expected_h = float(np.hypot(*(uv[0] - uv[1])))
    x1, y1, x2, y2 = view.full_xyxy_px
    assert y2 - y1 == pytest.approx(expected_h, abs=1.0)
    assert (x1 + x2) / 2 == pytest.approx(uv[0, 0], abs=1.0)
    assert y2 == pytest.approx(uv[0, 1], abs=1.0)
    # The pixels really were drawn there: the visible box is inside the sprite box and nearly as tall.
    vx1, vy1, vx2, vy2 = view.visible_xyxy_px
    assert x1 <= vx1 < vx2 <= x2 and y1 <= vy1 < vy2 <= y2
    assert vy2 - vy1 >= 0.9 * expected_h and view.visible_share == pytest.approx(1.0)


def _project_ned_former(cam: CameraModel, points_ned_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The renderer's own projection before it used drone_perception.geometry.project_points (reference)."""
    p = (np.asarray(points_ned_m, np.float64).reshape(-1, 3) - cam.position_ned_m) @ cam.R_ned_from_cam
    k = cam.intrinsics
    z = p[:, 2]
    zs = np.where(z > 1e-9, z, 1e-9)
    return np.column_stack([k.fx_px * p[:, 0] / zs + k.cx_px, k.fy_px * p[:, 1] / zs + k.cy_px]), z


@pytest.mark.parametrize("seed", range(20))
def test_renderer_projection_is_bit_identical_to_its_former_copy(seed) -> None:
    """The renderer draws only what lies beyond its near plane; there the one projection gives exactly the
    pixels its former private copy gave (the depth everywhere), so rendered frames did not change."""
    rng = np.random.default_rng(seed)
    k = CameraIntrinsics.from_hfov(float(rng.uniform(0.6, 1.8)), (int(rng.integers(160, 1920)), 360))
    cam = CameraModel.from_gimbal(k, rng.uniform([-20, -20, -40], [20, 20, -0.3]), float(rng.uniform(-4, 4)),
                                  float(rng.uniform(-1.5, 0.4)))
    pts = cam.position_ned_m + rng.normal(0.0, 30.0, (200, 3))
    uv, z = project_points(cam, pts)
    uv_ref, z_ref = _project_ned_former(cam, pts)
    assert np.array_equal(z, z_ref)
    front = z > 1e-9
    assert front.any() and (~front).any()
    assert np.array_equal(uv[front], uv_ref[front])
    assert np.isnan(uv[z <= 0.0]).all()


def test_tree_between_camera_and_person_hides_the_person(bank) -> None:
    cam = camera()
    person = PersonPose(0, (30.0, 0.0, 0.0), 1.75)
    renderer = SceneRenderer(bank, seed=0)
    clear = renderer.render(cam, [person]).people[0]
    # Canopy from 30 % of 8 m (2.4 m) up: seen from 8 m altitude, a tree at 22 m covers the person at 30 m.
    hidden = renderer.render(cam, [person], [Tree((22.0, 0.0), 1.5, 8.0)]).people[0]
    behind = renderer.render(cam, [person], [Tree((40.0, 0.0), 1.5, 8.0)]).people[0]
    assert clear.visible_share == pytest.approx(1.0)
    assert hidden.visible_share < 0.3
    assert behind.visible_share == pytest.approx(1.0)  # a tree behind the person hides nothing


def test_nearer_person_occludes_farther_one(bank) -> None:
    cam = CameraModel.from_gimbal(CameraIntrinsics.from_hfov(1.2, (640, 360)), np.array([0.0, 0.0, -1.2]), 0.0, 0.0)
    far, near = PersonPose(0, (30.0, 0.0, 0.0), 1.75), PersonPose(1, (18.0, 0.0, 0.0), 1.75)
    views = {v.person_id: v for v in SceneRenderer(bank, seed=0).render(cam, [far, near]).people}
    assert views[1].visible_share == pytest.approx(1.0)
    assert views[0].visible_share < 1.0


@pytest.mark.parametrize("foot", [(-10.0, 0.0, 0.0), (0.0, 0.0, 0.0), (20.0, 400.0, 0.0)])
def test_people_behind_or_outside_the_camera_are_not_visible(bank, foot) -> None:
    out = SceneRenderer(bank, seed=0).render(camera(), [PersonPose(0, foot, 1.75)])
    assert all(v.visible_xyxy_px is None for v in out.people)


def test_missing_photos_raise_a_clear_error(tmp_path) -> None:
    with pytest.raises(SpriteSourceError, match="make testdata"):
        load_photo_sprites(tmp_path)


@needs_photos
def test_photo_sprites_are_people_shaped_and_cached(tmp_path) -> None:
    bank = load_photo_sprites()
    assert bank.mode == "photos" and len(bank.sprites) == 4
    for s in bank.sprites:
        assert 0.2 < s.aspect < 0.6  # standing people
        assert 0.45 < float(s.alpha.mean()) < 0.95  # matted, not the whole box
    again = load_photo_sprites()
    assert all(np.array_equal(a.bgr, b.bgr) for a, b in zip(bank.sprites, again.sprites))


@pytest.mark.skipif(not (DEFAULT_PHOTO_DIR / "vtest.avi").is_file(), reason="test video not fetched: make testdata")
def test_video_sprites_are_people_seen_from_above_matted_by_the_background(tmp_path) -> None:
    import shutil

    video = tmp_path / "vtest.avi"
    shutil.copy(DEFAULT_PHOTO_DIR / "vtest.avi", video)
    bank = load_video_sprites(video)
    assert bank.mode == "video" and len(bank.sprites) == 48  # 24 people on 8 unlabelled frames, and mirrored
    for s in bank.sprites:
        assert 0.2 < s.aspect < 0.6 and s.bgr.shape[0] >= 60  # upright, at least 60 px tall
        assert 0.35 < float(s.alpha.mean()) < 0.95  # matted, not the whole box
    assert not set(VIDEO_SPRITE_FRAMES) & {0, 100, 200, 300, 500, 600, 700, 794}  # none is a labelled frame
    again = load_video_sprites(video)  # from the cache written next to the video
    assert (tmp_path / "sprites").is_dir()
    assert all(np.array_equal(a.bgr, b.bgr) and np.array_equal(a.alpha, b.alpha)
               for a, b in zip(bank.sprites, again.sprites))  # a first run renders as a cached one
    with pytest.raises(SpriteSourceError, match="make testdata"):
        load_video_sprites(tmp_path / "absent.avi")


@needs_photos
def test_render_time_is_reported_for_hd_frames() -> None:
    import time

    renderer = SceneRenderer(load_photo_sprites(), seed=0)
    cam = camera((1280, 720))
    people = [PersonPose(i, (15.0 + 5 * i, -3.0 + 2 * i, 0.0), 1.75) for i in range(4)]
    trees = [Tree((35.0, 8.0), 1.5, 8.0), Tree((45.0, -6.0), 1.2, 6.0)]
    renderer.render(cam, people, trees)
    t0 = time.perf_counter()
    for _ in range(5):
        renderer.render(cam, people, trees)
    per_frame_s = (time.perf_counter() - t0) / 5
    # Target 20 ms on a quiet core; a loose bound here because the test machine is shared.
    assert per_frame_s < 0.2, f"{1e3 * per_frame_s:.1f} ms per 1280x720 frame"
    assert math.isfinite(per_frame_s)
