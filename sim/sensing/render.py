"""Render a camera frame (BGR uint8) of the simulated world: textured ground, sky and haze, trees, people.

Geometry is the true pinhole projection of the :class:`~drone_perception.types.CameraModel` (optical frame x
right, y down, z forward; ``p_cam = R_ned_from_cam^T (X_ned - position_ned_m)``), computed by
:func:`drone_perception.geometry.project_points` (the one projection; the independent copy that checks it is the
detection model's, :mod:`sim.sensing.sensors`):

* ground: the plane z_ned = 0 carries a procedural grass/dirt texture (``texture_m_per_px`` metres per texel,
  mirrored beyond its edge), mapped by the plane homography; above the horizon a sky gradient; haze grows
  with the ground distance along each ray (``haze_distance_m``);
* trees (:class:`sim.world.occluders.Tree`): a trunk (a vertical quad ``0.2 x radius`` wide up to 45 % of the
  height) and a canopy of overlapping discs (from 30 % of the height to the top, ``radius`` wide), facing
  the camera, with a fixed per-tree pattern;
* people: a photo sprite (:mod:`sim.sensing.person_sprites`) scaled so that its height is the distance between the
  projected foot point and the projected head (foot raised by ``height_m``), its bottom centre on the
  projected foot point.

Trees and people are drawn far to near (painter's algorithm on the optical-axis depth of the foot/trunk
point), so a nearer tree hides a person behind it. An id buffer records which person owns each pixel at the
end, which gives every person's visible box and visible share (:class:`PersonView`): the ground truth for
detection recall. The output depends only on the inputs and the renderer's ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from drone_perception.errors import InvalidValueError
from drone_perception.geometry import project_points
from drone_perception.types import CameraModel
from sim.sensing.person_sprites import SpriteBank
from sim.world.occluders import Tree

if TYPE_CHECKING:
    from sim.world.world import World

#: Nearer than this along the optical axis (m) counts as behind the camera. ``project_points`` gives NaN pixels
#: at depth <= 0; every drawing step checks the depth against this plane before it reads a pixel.
NEAR_PLANE_M = 0.3


@dataclass(frozen=True)
class RenderConfig:
    """``texture_m_per_px``: ground texel size (m); ``texture_size_px``: texture side; ``haze_distance_m``:
    ground distance at which haze reaches 63 %; ``haze_grid_px``: the haze/sky map is computed on a grid this
    coarse and interpolated (cost); ``shadows``: a soft dark ellipse under each person."""

    texture_m_per_px: float = 0.06
    texture_size_px: int = 1024
    haze_distance_m: float = 400.0
    haze_grid_px: int = 8
    shadows: bool = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.texture_m_per_px) and self.texture_m_per_px > 0):
            raise InvalidValueError(f"texture_m_per_px: must be positive, got {self.texture_m_per_px!r}")
        if not 64 <= self.texture_size_px <= 8192:
            raise InvalidValueError(f"texture_size_px: allowed [64, 8192], got {self.texture_size_px!r}")
        if not (math.isfinite(self.haze_distance_m) and self.haze_distance_m > 0):
            raise InvalidValueError(f"haze_distance_m: must be positive, got {self.haze_distance_m!r}")
        if not 1 <= self.haze_grid_px <= 64:
            raise InvalidValueError(f"haze_grid_px: allowed [1, 64], got {self.haze_grid_px!r}")


@dataclass(frozen=True)
class PersonPose:
    """What the renderer needs of one person: ``foot_ned_m`` (3,), ``height_m``, a stable ``person_id``."""

    person_id: int
    foot_ned_m: tuple[float, float, float]
    height_m: float


@dataclass(frozen=True)
class PersonView:
    """One drawn person. ``full_xyxy_px``: the whole sprite box (may extend past the image);
    ``visible_xyxy_px``: box of its pixels left visible (None when none); ``visible_share``: visible pixels /
    sprite pixels (0..1; frame edges and nearer objects reduce it); ``height_px``: projected foot-to-head
    distance; ``depth_m``: optical-axis depth of the foot point."""

    person_id: int
    full_xyxy_px: tuple[float, float, float, float]
    visible_xyxy_px: tuple[int, int, int, int] | None
    visible_share: float
    height_px: float
    depth_m: float


@dataclass(frozen=True)
class RenderOutput:
    """``image``: BGR uint8 (H, W, 3); ``people``: the people in front of the camera, in input order."""

    image: np.ndarray
    people: tuple[PersonView, ...]


def _value_noise(rng: np.random.Generator, size: int, cell_px: int) -> np.ndarray:
    """Periodic (tileable) value noise in [0, 1], float32 (size, size): a random grid, wrapped, resized."""
    n = max(2, size // cell_px)
    cell = size / n
    grid = np.pad(rng.random((n, n)).astype(np.float32), 2, mode="wrap")
    big = cv2.resize(grid, (round(cell * (n + 4)), round(cell * (n + 4))), interpolation=cv2.INTER_CUBIC)
    o = round(2 * cell)
    return np.ascontiguousarray(big[o:o + size, o:o + size])


def ground_texture(seed: int, size_px: int) -> np.ndarray:
    """Grass with dry and bare patches: multi-octave periodic value noise, BGR uint8 (size, size, 3)."""
    rng = np.random.default_rng(seed)
    patches = _value_noise(rng, size_px, 128)
    detail = (0.5 * _value_noise(rng, size_px, 32) + 0.3 * _value_noise(rng, size_px, 8)
              + 0.2 * _value_noise(rng, size_px, 2))
    blades = rng.random((size_px, size_px)).astype(np.float32)
    grass = np.array([45.0, 120.0, 80.0], np.float32)
    dry = np.array([60.0, 135.0, 125.0], np.float32)
    dirt = np.array([75.0, 105.0, 125.0], np.float32)
    dirt_w = 0.8 * np.clip((patches - 0.7) * 5.0, 0.0, 1.0)[..., None]
    dry_w = np.clip(detail * 1.2 - 0.35, 0.0, 1.0)[..., None]
    base = grass * (1 - dry_w) + dry * dry_w
    base = base * (1 - dirt_w) + dirt * dirt_w
    shade = (0.75 + 0.35 * detail + 0.25 * (blades - 0.5))[..., None]
    return np.clip(base * shade, 0, 255).astype(np.uint8)


class SceneRenderer:
    """Renders frames of one world. ``sprites``: how people look; ``seed``: texture, tree patterns and the
    choice of sprite per person."""

    def __init__(self, sprites: SpriteBank, config: RenderConfig | None = None, *, seed: int = 0) -> None:
        self.sprites = sprites
        self.config = config or RenderConfig()
        self.seed = int(seed)
        self.texture = ground_texture(self.seed, self.config.texture_size_px)
        self._scaled: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}

    # ------------------------------------------------------------------ background
    def _ground_and_sky(self, camera: CameraModel) -> np.ndarray:
        k = camera.intrinsics
        w, h = k.size_wh_px
        g = self.config.haze_grid_px
        # Sky and haze on a coarse grid: ray r = R K^-1 [u v 1]; it meets the ground at t = -c_z / r_z.
        gw, gh = w // g + 2, h // g + 2
        us, vs = np.meshgrid((np.arange(gw) * g).astype(np.float64), (np.arange(gh) * g).astype(np.float64))
        rays = np.stack([(us - k.cx_px) / k.fx_px, (vs - k.cy_px) / k.fy_px, np.ones_like(us)], -1)
        rays = rays @ camera.R_ned_from_cam.T
        down = rays[..., 2] / np.linalg.norm(rays, axis=-1)  # sine of the depression angle
        c = camera.position_ned_m
        height_m = max(-float(c[2]), 0.1)
        dist = np.where(down > 1e-4, height_m / np.maximum(down, 1e-4), np.inf)
        haze = (1.0 - np.exp(-dist / self.config.haze_distance_m)).astype(np.float32)
        t = np.clip(-down * 3.0, 0.0, 1.0)[..., None]
        haze_col = np.array([215.0, 205.0, 190.0])
        overlay = np.where((down > 0)[..., None], haze_col, haze_col * (1 - t) + np.array([200.0, 140.0, 80.0]) * t)
        size = (gw * g, gh * g)
        alpha = cv2.resize(haze, size, interpolation=cv2.INTER_LINEAR)[:h, :w]
        colour = cv2.resize(overlay.astype(np.uint8), size, interpolation=cv2.INTER_LINEAR)[:h, :w]
        ground_rows = np.flatnonzero((down > 0).any(axis=1))
        if ground_rows.size == 0:
            return np.ascontiguousarray(colour)
        # The ground below the highest horizon row only, warped at half resolution (speed, and less aliasing).
        top = max(int(ground_rows[0]) - 1, 0) * g // 2 * 2
        s = self.config.texture_m_per_px
        # Texel (tx, ty) -> ground (north, east) = (-ty * s, tx * s): east to the right, north up the texture.
        a = np.array([[0.0, -s, 0.0], [s, 0.0, 0.0], [0.0, 0.0, 1.0]])
        m = np.array([[1.0, 0.0, -c[0]], [0.0, 1.0, -c[1]], [0.0, 0.0, -c[2]]])
        half = np.array([[0.5, 0.0, 0.0], [0.0, 0.5, -0.5 * top], [0.0, 0.0, 1.0]])
        h_img_from_tex = half @ k.K @ camera.R_ned_from_cam.T @ m @ a
        small = cv2.warpPerspective(self.texture, h_img_from_tex, ((w + 1) // 2, (h - top + 1) // 2),
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
        ground = np.empty((h, w, 3), np.uint8)
        ground[:top] = colour[:top]
        ground[top:] = cv2.resize(small, (w, h - top), interpolation=cv2.INTER_LINEAR)
        return cv2.blendLinear(np.ascontiguousarray(colour), ground, np.ascontiguousarray(alpha), 1.0 - alpha)

    # ------------------------------------------------------------------ objects
    def _draw_tree(self, img: np.ndarray, ids: np.ndarray, camera: CameraModel, tree: Tree, index: int) -> None:
        cn, ce = tree.center_ne_m
        los = np.array([cn, ce]) - camera.position_ned_m[:2]
        norm = float(np.hypot(*los))
        across = np.array([-los[1], los[0], 0.0]) / max(norm, 1e-9)
        base = np.array([cn, ce, 0.0])
        r, th = tree.radius_m, tree.height_m
        half = max(0.1 * r, 0.12)
        quad = np.array([base - half * across, base + half * across,
                         base + half * across - [0, 0, 0.45 * th], base - half * across - [0, 0, 0.45 * th]])
        uv, z = project_points(camera, quad)
        if np.all(z > NEAR_PLANE_M):
            pts = np.round(uv).astype(np.int32)
            cv2.fillConvexPoly(img, pts, (40, 60, 85), lineType=cv2.LINE_AA)
            cv2.fillConvexPoly(ids, pts, 0)
        rng = np.random.default_rng((self.seed, index))
        n_blobs = 9
        offs = rng.uniform(-1.0, 1.0, (n_blobs, 2))
        radii = rng.uniform(0.5, 0.75, n_blobs) * r
        greens = rng.uniform(0.75, 1.2, n_blobs)
        # Blob centres keep each disc inside the canopy: +-radius across, altitude 30 %..100 % of the height.
        side = offs[:, 0] * np.maximum(r - radii, 0.0)
        alt = 0.65 * th + offs[:, 1] * np.maximum(0.35 * th - radii, 0.0)
        centres = base[None, :] + side[:, None] * across[None, :] - alt[:, None] * np.array([0.0, 0.0, 1.0])
        uv, z = project_points(camera, centres)
        f = camera.intrinsics.fx_px
        for j in np.argsort(-z):  # far blobs first
            if z[j] <= NEAR_PLANE_M:
                continue
            centre = (round(uv[j, 0]), round(uv[j, 1]))
            rad = round(radii[j] * f / z[j])
            if rad < 1 or abs(centre[0]) > 20000 or abs(centre[1]) > 20000:
                continue
            colour = tuple(float(v) for v in np.clip(np.array([40.0, 95.0, 50.0]) * greens[j], 0, 255))
            cv2.circle(img, centre, rad, colour, -1, lineType=cv2.LINE_AA)
            cv2.circle(img, centre, max(rad // 2, 1), tuple(c * 0.85 for c in colour), -1, lineType=cv2.LINE_AA,
                       shift=0)
            cv2.circle(ids, centre, rad, 0, -1)

    def _sprite_at(self, person_id: int, height_px: int) -> tuple[np.ndarray, np.ndarray]:
        sprite = self.sprites.for_person(person_id, self.seed)
        width_px = max(1, round(height_px * sprite.aspect))
        key = (person_id, height_px, width_px)
        hit = self._scaled.get(key)
        if hit is None:
            interp = cv2.INTER_AREA if height_px < sprite.bgr.shape[0] else cv2.INTER_LINEAR
            bgr = cv2.resize(sprite.bgr, (width_px, height_px), interpolation=interp)
            alpha = cv2.resize(sprite.alpha, (width_px, height_px), interpolation=interp)
            if len(self._scaled) > 256:  # a small cache: heights change slowly between frames
                self._scaled.clear()
            hit = self._scaled[key] = (bgr, alpha)
        return hit

    def _draw_person(self, img: np.ndarray, ids: np.ndarray, camera: CameraModel, person: PersonPose,
                     label: int) -> tuple[tuple[float, float, float, float], float, float, int] | None:
        foot = np.array(person.foot_ned_m, np.float64)
        uv, z = project_points(camera, np.stack([foot, foot - [0.0, 0.0, person.height_m]]))
        if np.any(z <= NEAR_PLANE_M):
            return None
        height = float(np.hypot(*(uv[0] - uv[1])))
        hp = round(height)
        if hp < 2 or hp > 8 * img.shape[0]:
            return None
        bgr, alpha = self._sprite_at(person.person_id, hp)
        wp = bgr.shape[1]
        x1 = round(uv[0, 0] - wp / 2.0)
        y1 = round(uv[0, 1]) - hp
        full = (float(x1), float(y1), float(x1 + wp), float(y1 + hp))
        total = int(np.count_nonzero(alpha > 0.5))
        h_img, w_img = img.shape[:2]
        cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x1 + wp, w_img), min(y1 + hp, h_img)
        if cx1 >= cx2 or cy1 >= cy2:
            return full, height, float(z[0]), total
        sub_a = alpha[cy1 - y1:cy2 - y1, cx1 - x1:cx2 - x1]
        sub_c = bgr[cy1 - y1:cy2 - y1, cx1 - x1:cx2 - x1]
        if self.config.shadows:
            self._shadow(img, uv[0], wp)
        roi = img[cy1:cy2, cx1:cx2]
        a = sub_a[..., None]
        roi[:] = (sub_c * a + roi * (1.0 - a)).astype(np.uint8)
        ids[cy1:cy2, cx1:cx2][sub_a > 0.5] = label
        return full, height, float(z[0]), total

    @staticmethod
    def _shadow(img: np.ndarray, foot_uv: np.ndarray, width_px: int) -> None:
        ax, ay = max(int(0.7 * width_px), 1), max(int(0.18 * width_px), 1)
        cx, cy = round(foot_uv[0]), round(foot_uv[1])
        x1, y1, x2, y2 = max(cx - ax, 0), max(cy - ay, 0), min(cx + ax + 1, img.shape[1]), min(cy + ay + 1,
                                                                                             img.shape[0])
        if x1 >= x2 or y1 >= y2:
            return
        roi = img[y1:y2, x1:x2]
        mask = np.zeros(roi.shape[:2], np.uint8)
        cv2.ellipse(mask, (cx - x1, cy - y1), (ax, ay), 0, 0, 360, 90, -1, lineType=cv2.LINE_AA)
        roi[:] = (roi * (1.0 - mask[..., None] / 255.0)).astype(np.uint8)

    # ------------------------------------------------------------------ frame
    def render(self, camera: CameraModel, people: Sequence[PersonPose], trees: Sequence[Tree] = ()) -> RenderOutput:
        """One frame of ``people`` and ``trees`` seen by ``camera``."""
        if len(people) > 254:
            raise InvalidValueError(f"people: at most 254 per frame, got {len(people)}")
        img = self._ground_and_sky(camera)
        w, h = camera.intrinsics.size_wh_px
        ids = np.zeros((h, w), np.uint8)
        items: list[tuple[float, str, int]] = []
        if people:
            _, zp = project_points(camera, np.array([p.foot_ned_m for p in people], np.float64))
            items += [(float(zp[i]), "person", i) for i in range(len(people))]
        if trees:
            _, zt = project_points(camera, np.array([(*t.center_ne_m, 0.0) for t in trees], np.float64))
            # A tree occludes what stands behind its near face.
            items += [(float(zt[i]) - trees[i].radius_m, "tree", i) for i in range(len(trees))]
        drawn: dict[int, tuple[tuple[float, float, float, float], float, float, int]] = {}
        for depth, kind, i in sorted(items, key=lambda it: -it[0]):
            if depth <= NEAR_PLANE_M and kind == "person":
                continue
            if kind == "tree":
                self._draw_tree(img, ids, camera, trees[i], i)
            else:
                res = self._draw_person(img, ids, camera, people[i], i + 1)
                if res is not None:
                    drawn[i] = res
        views = []
        for i, (full, height, depth, total) in sorted(drawn.items()):
            x1, y1 = max(int(full[0]), 0), max(int(full[1]), 0)
            x2, y2 = min(math.ceil(full[2]), w), min(math.ceil(full[3]), h)
            visible_box = None
            count = 0
            if x1 < x2 and y1 < y2:
                ys, xs = np.nonzero(ids[y1:y2, x1:x2] == i + 1)
                count = int(ys.size)
                if count:
                    visible_box = (x1 + int(xs.min()), y1 + int(ys.min()), x1 + int(xs.max()) + 1,
                                   y1 + int(ys.max()) + 1)
            views.append(PersonView(people[i].person_id, full, visible_box, count / max(total, 1), height, depth))
        return RenderOutput(img, tuple(views))


def poses_from_world(world: World) -> list[PersonPose]:
    """The :class:`PersonPose` of every person of ``world`` now."""
    out = []
    for p in world.people:
        n, e, d = (float(v) for v in p._pos)
        out.append(PersonPose(int(p.id), (n, e, d), float(p.height_m)))
    return out
