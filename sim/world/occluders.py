"""Occluders: trees as solid vertical cylinders standing on the ground, and line-of-sight tests through them.

A tree occupies ``|ne - center_ne_m| <= radius_m`` and ``0 <= altitude <= height_m`` (NED ``-height_m <= z <= 0``).
It is a proxy for trunk plus canopy: a person standing inside the footprint (under the canopy) is hidden from a
camera outside it. A person's body is sampled as a grid of points on a vertical rectangle ``width_m`` wide, facing
the camera, from the foot up to ``height_m``; the occluded fraction is the share of sample points whose straight
segment to the camera passes through any tree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drone_perception.errors import InvalidValueError

#: Body sample grid: rows up the body, columns across it.
SAMPLE_ROWS = 6
SAMPLE_COLS = 3


@dataclass(frozen=True)
class Tree:
    """A vertical cylinder: ``center_ne_m`` (north, east) on the ground, ``radius_m``, ``height_m`` above ground."""

    center_ne_m: tuple[float, float]
    radius_m: float
    height_m: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.radius_m) and self.radius_m > 0.0):
            raise InvalidValueError(f"Tree.radius_m: must be positive and finite, got {self.radius_m!r}")
        if not (math.isfinite(self.height_m) and self.height_m > 0.0):
            raise InvalidValueError(f"Tree.height_m: must be positive and finite, got {self.height_m!r}")
        c = tuple(float(v) for v in self.center_ne_m)
        if len(c) != 2 or not all(math.isfinite(v) for v in c):
            raise InvalidValueError(f"Tree.center_ne_m: expected 2 finite values, got {self.center_ne_m!r}")
        object.__setattr__(self, "center_ne_m", c)


class TreeSet:
    """Trees packed into arrays for vectorised line-of-sight tests. Immutable after construction."""

    def __init__(self, trees: Sequence[Tree] = ()) -> None:
        self.trees: tuple[Tree, ...] = tuple(trees)
        n = len(self.trees)
        self.center_ne_m = np.array([t.center_ne_m for t in self.trees], dtype=np.float64).reshape(n, 2)
        self.radius_m = np.array([t.radius_m for t in self.trees], dtype=np.float64)
        self.height_m = np.array([t.height_m for t in self.trees], dtype=np.float64)
        for a in (self.center_ne_m, self.radius_m, self.height_m):
            a.setflags(write=False)

    def __len__(self) -> int:
        return len(self.trees)

    def subset(self, mask: np.ndarray) -> TreeSet:
        """The trees where ``mask`` (bool (T,)) is True."""
        return TreeSet([t for t, keep in zip(self.trees, mask.tolist()) if keep])

    def near_segments(self, start_ne_m: np.ndarray, ends_ne_m: np.ndarray, margin_m: float) -> np.ndarray:
        """Bool (P, T): tree footprint within ``margin_m`` of the 2D segment from ``start_ne_m`` (2,) to each
        row of ``ends_ne_m`` (P, 2). A cheap cull before the exact test."""
        d = ends_ne_m - start_ne_m  # (P, 2)
        f = self.center_ne_m - start_ne_m  # (T, 2)
        # Explicit column arithmetic: numpy's axis reductions cost ~10 us each on arrays this small.
        dd = np.maximum(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1], 1e-12)
        t = np.minimum(np.maximum((d @ f.T) / dd[:, None], 0.0), 1.0)  # (P, T)
        gap_n = f[:, 0] - t * d[:, 0:1]
        gap_e = f[:, 1] - t * d[:, 1:2]
        reach = self.radius_m + margin_m
        return np.asarray(gap_n * gap_n + gap_e * gap_e <= reach * reach)


def segments_blocked(start_ned_m: np.ndarray, end_ned_m: np.ndarray, trees: TreeSet) -> np.ndarray:
    """For segments from ``start_ned_m`` (3,) to each row of ``end_ned_m`` (M, 3): True where the segment passes
    through any tree. Returns a bool array (M,)."""
    m = end_ned_m.shape[0]
    if len(trees) == 0 or m == 0:
        return np.zeros(m, dtype=bool)
    c = start_ned_m
    d = end_ned_m[:, None, :2] - c[:2]  # (M, 1, 2)
    f = c[:2] - trees.center_ne_m  # (T, 2)
    a = np.maximum(np.sum(d * d, axis=-1), 1e-12)  # (M, 1)
    b = 2.0 * np.sum(d * f, axis=-1)  # (M, T)
    cc = np.sum(f * f, axis=-1) - trees.radius_m**2  # (T,)
    disc = b * b - 4.0 * a * cc
    hit = disc >= 0.0
    sq = np.sqrt(np.where(hit, disc, 0.0))
    lo = np.maximum((-b - sq) / (2.0 * a), 0.0)
    hi = np.minimum((-b + sq) / (2.0 * a), 1.0)
    hit &= lo < hi
    # Altitude along the segment is linear in t; the segment is inside the tree's height range somewhere in
    # [lo, hi] iff its lowest altitude there is below the tree top (everything here is above the ground).
    dz = end_ned_m[:, 2:3] - c[2]  # (M, 1)
    z_max = np.maximum(c[2] + lo * dz, c[2] + hi * dz)  # most-down (lowest) point in NED
    hit &= z_max >= -trees.height_m
    return np.asarray(np.any(hit, axis=1))


def body_sample_points(
    camera_pos_ned_m: np.ndarray, feet_ned_m: np.ndarray, heights_m: np.ndarray, widths_m: np.ndarray
) -> np.ndarray:
    """Sample points (P, SAMPLE_ROWS * SAMPLE_COLS, 3) on each body's camera-facing vertical rectangle."""
    p = feet_ned_m.shape[0]
    los = feet_ned_m[:, :2] - camera_pos_ned_m[:2]
    norm = np.maximum(np.linalg.norm(los, axis=1, keepdims=True), 1e-9)
    across = np.column_stack([-los[:, 1], los[:, 0]]) / norm  # (P, 2) horizontal, perpendicular to the LOS
    rows = (np.arange(SAMPLE_ROWS) + 0.5) / SAMPLE_ROWS  # fractions of the height
    cols = (np.arange(SAMPLE_COLS) - (SAMPLE_COLS - 1) / 2.0) / max(SAMPLE_COLS - 1, 1)  # -0.5 .. 0.5
    up = rows[None, :, None] * heights_m[:, None, None]  # (P, R, 1)
    side = cols[None, :, None] * widths_m[:, None, None] * across[:, None, :]  # (P, C, 2)
    pts = np.empty((p, SAMPLE_ROWS, SAMPLE_COLS, 3))
    pts[..., :2] = feet_ned_m[:, None, None, :2] + side[:, None, :, :]
    pts[..., 2] = feet_ned_m[:, None, None, 2] - up
    return pts.reshape(p, SAMPLE_ROWS * SAMPLE_COLS, 3)


def occlusion_fractions(
    camera_pos_ned_m: npt.ArrayLike,
    feet_ned_m: npt.ArrayLike,
    heights_m: npt.ArrayLike,
    widths_m: npt.ArrayLike,
    trees: TreeSet,
) -> np.ndarray:
    """Occluded share (0..1) of each body (P,) seen from ``camera_pos_ned_m``. Vectorised over people."""
    feet = np.asarray(feet_ned_m, dtype=np.float64).reshape(-1, 3)
    p = feet.shape[0]
    if p == 0 or len(trees) == 0:
        return np.zeros(p)
    cam = np.asarray(camera_pos_ned_m, dtype=np.float64)
    heights = np.asarray(heights_m, dtype=np.float64).reshape(-1) * np.ones(p)
    widths = np.asarray(widths_m, dtype=np.float64).reshape(-1) * np.ones(p)
    # Cull: only trees near some line of sight can matter (usually none, which skips the exact test).
    near = trees.near_segments(cam[:2], feet[:, :2], max(widths.tolist()))
    out = np.zeros(p)
    if not near.any():
        return out
    people = np.flatnonzero(near.any(axis=1))
    subset = trees.subset(np.asarray(near[people].any(axis=0)))
    pts = body_sample_points(cam, feet[people], heights[people], widths[people])
    blocked = segments_blocked(cam, pts.reshape(-1, 3), subset).reshape(people.size, -1)
    out[people] = blocked.mean(axis=1)
    return out


def occlusion_fraction(
    camera_pos: npt.ArrayLike,
    person_foot: npt.ArrayLike,
    person_height: float,
    trees: Sequence[Tree] | TreeSet,
    person_width_m: float = 0.5,
) -> float:
    """Share (0..1) of one body's sample points whose line of sight to the camera hits a tree.

    ``camera_pos`` and ``person_foot`` are NED metres; ``person_height`` metres above the foot point.
    """
    tree_set = trees if isinstance(trees, TreeSet) else TreeSet(trees)
    out = occlusion_fractions(camera_pos, person_foot, [person_height], [person_width_m], tree_set)
    return float(out[0])
