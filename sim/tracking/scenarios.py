"""Simulated tracking sequences with ground truth: people walking on flat ground, a drone camera with a
known (moving, yawing) pose, and a noisy detector (misses, jitter, low scores, false positives).

Boxes come from :func:`drone_perception.geometry.person_box`, so the tracker's ground association is
tested against the same camera model it uses. All randomness flows from one seeded generator: a
scenario name and seed give identical sequences. Used by the tracking tests and ``bench/bench_tracker.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from drone_perception.errors import UnknownScenarioError
from drone_perception.geometry import person_box
from drone_perception.types import CameraIntrinsics, CameraModel, Detections

INTRINSICS = CameraIntrinsics.from_hfov(1.2, (1280, 720))


@dataclass(frozen=True)
class Walker:
    """A person: start foot point (north, east) m, constant velocity (north, east) m/s, body size, and
    occlusion intervals ``[(t0_s, t1_s), ...]`` during which no detector can see them."""

    start_ne_m: tuple[float, float]
    vel_ne_mps: tuple[float, float]
    height_m: float = 1.75
    width_m: float = 0.5
    occluded_s: tuple[tuple[float, float], ...] = ()

    def foot(self, t_s: float) -> np.ndarray:
        return np.array([self.start_ne_m[0] + self.vel_ne_mps[0] * t_s,
                         self.start_ne_m[1] + self.vel_ne_mps[1] * t_s, 0.0])

    def occluded(self, t_s: float) -> bool:
        return any(a <= t_s < b for a, b in self.occluded_s)


@dataclass(frozen=True)
class DetectorNoise:
    """Miss probability, box-edge jitter (share of box height, 1 sigma), share of low-score (0.15-0.5)
    true detections, mean false positives per frame."""

    p_miss: float = 0.08
    jitter_per_h: float = 0.03
    p_low_score: float = 0.15
    fp_per_frame: float = 0.5


@dataclass(frozen=True)
class SynthFrame:
    stamp_s: float
    camera: CameraModel
    detections: Detections
    gt_id: np.ndarray  # (K,) ids of people visible in this frame (in view, not occluded)
    gt_xyxy_px: np.ndarray  # (K, 4) their true boxes


@dataclass(frozen=True)
class Scenario:
    name: str
    frames: list[SynthFrame]
    subject_id: int  # walker index the operator locks
    lock_at_s: float  # when the operator locks the subject
    dt_s: float
    notes: str = ""
    walkers: list[Walker] = field(default_factory=list)


CameraPath = Callable[[float], tuple[np.ndarray, float]]  # t -> (position_ned_m, yaw_rad)


def _hover(pos: tuple[float, float, float], yaw: float = 0.0) -> CameraPath:
    return lambda t: (np.array(pos, float), yaw)


def render(
    name: str, walkers: list[Walker], camera_path: CameraPath, *, duration_s: float, rate_hz: float,
    noise: DetectorNoise, seed: int, subject_id: int = 0, lock_at_s: float = 1.0, pitch_rad: float = -0.35,
    notes: str = "",
) -> Scenario:
    rng = np.random.default_rng(seed)
    dt = 1.0 / rate_hz
    frames: list[SynthFrame] = []
    w_img, h_img = INTRINSICS.size_wh_px
    for k in range(round(duration_s * rate_hz)):
        t = k * dt
        pos, yaw = camera_path(t)
        cam = CameraModel.from_gimbal(INTRINSICS, pos, yaw, pitch_rad)
        feet = np.array([w.foot(t) for w in walkers])
        boxes, vis = person_box(cam, feet, np.array([w.height_m for w in walkers]),
                                np.array([w.width_m for w in walkers]))
        occ = np.array([w.occluded(t) for w in walkers])
        seen = np.flatnonzero(vis & ~occ & (boxes[:, 3] - boxes[:, 1] > 4.0))
        gt_xyxy = boxes[seen]
        det_rows = seen[rng.random(seen.size) >= noise.p_miss]
        b = boxes[det_rows].copy()
        h = (b[:, 3] - b[:, 1])[:, None]
        b += rng.normal(0.0, 1.0, b.shape) * noise.jitter_per_h * h
        conf = np.where(rng.random(det_rows.size) < noise.p_low_score,
                        rng.uniform(0.15, 0.5, det_rows.size), rng.uniform(0.55, 0.95, det_rows.size))
        n_fp = rng.poisson(noise.fp_per_frame)
        fp_h = rng.uniform(30.0, 150.0, n_fp)
        fp_x = rng.uniform(0.0, w_img - 60.0, n_fp)
        fp_y = rng.uniform(h_img * 0.3, h_img - fp_h)
        fp = np.column_stack([fp_x, fp_y, fp_x + 0.4 * fp_h, fp_y + fp_h])
        all_b = np.clip(np.vstack([b, fp]), 0.0, [w_img, h_img, w_img, h_img])
        all_b[:, 2:] = np.maximum(all_b[:, 2:], all_b[:, :2] + 1.0)
        all_c = np.concatenate([conf, rng.uniform(0.1, 0.6, n_fp)])
        det = Detections(all_b.astype(np.float32), all_c.astype(np.float32), np.zeros(len(all_c), np.int32), t)
        frames.append(SynthFrame(t, cam, det, seen.astype(np.int64), gt_xyxy))
    return Scenario(name, frames, subject_id, lock_at_s, dt, notes, list(walkers))


def _crowd(rng: np.random.Generator, n: int, north: tuple[float, float], east: tuple[float, float],
           speed_mps: float = 1.3) -> list[Walker]:
    out = []
    for _ in range(n):
        ang = rng.uniform(0, 2 * math.pi)
        s = rng.uniform(0.5, 1.0) * speed_mps
        out.append(Walker((rng.uniform(*north), rng.uniform(*east)), (s * math.cos(ang), s * math.sin(ang)),
                          height_m=rng.uniform(1.6, 1.9), width_m=rng.uniform(0.45, 0.6)))
    return out


def scenario(name: str, seed: int = 0, *, rate_hz: float = 15.0, noise: DetectorNoise | None = None) -> Scenario:
    """Build a named scenario (see :data:`SCENARIOS`)."""
    nz = noise if noise is not None else DetectorNoise()
    rng = np.random.default_rng(seed + 1000)
    if name == "hover":
        subject = Walker((25.0, 0.0), (0.0, 0.8))
        walkers = [subject, *_crowd(rng, 7, (18.0, 40.0), (-12.0, 12.0))]
        return render(name, walkers, _hover((0.0, 0.0, -12.0)), duration_s=20.0, rate_hz=rate_hz, noise=nz,
                      seed=seed, notes="static camera, 8 walkers")
    if name == "yaw_pan":
        subject = Walker((25.0, 2.0), (0.3, 1.0))

        def path(t: float) -> tuple[np.ndarray, float]:
            return np.array([0.0, 1.5 * t, -12.0]), 0.45 * math.sin(2 * math.pi * t / 6.0)

        walkers = [subject, *_crowd(rng, 7, (18.0, 40.0), (-8.0, 30.0))]
        return render(name, walkers, path, duration_s=20.0, rate_hz=rate_hz, noise=nz, seed=seed,
                      notes="drone translating east 1.5 m/s, yawing +-0.45 rad (peak 0.47 rad/s)")
    if name == "crossing":
        subject = Walker((22.0, -8.0), (0.0, 1.2))
        other = Walker((24.0, 8.0), (0.0, -1.2))
        walkers = [subject, other, *_crowd(rng, 4, (30.0, 45.0), (-15.0, 15.0))]

        def path_c(t: float) -> tuple[np.ndarray, float]:
            return np.array([0.0, 0.0, -10.0]), 0.1 * math.sin(t)

        return render(name, walkers, path_c, duration_s=15.0, rate_hz=rate_hz, noise=nz, seed=seed,
                      notes="subject and another person cross 2 m apart in depth")
    if name == "occlusion":
        subject = Walker((25.0, -6.0), (0.0, 0.9), occluded_s=((4.0, 5.0), (9.0, 12.0)))
        walkers = [subject, *_crowd(rng, 5, (20.0, 40.0), (-12.0, 12.0))]
        return render(name, walkers, _hover((0.0, 0.0, -12.0), 0.05), duration_s=18.0, rate_hz=rate_hz,
                      noise=nz, seed=seed, notes="subject hidden 1 s (tracker bridges) and 3 s (lock re-acquires)")
    if name == "lookalike":
        subject = Walker((25.0, -6.0), (0.0, 1.0), occluded_s=((5.0, 8.0),))
        twin = Walker((26.2, -6.0), (0.0, 1.0), occluded_s=((5.0, 8.0),))
        walkers = [subject, twin, *_crowd(rng, 3, (32.0, 45.0), (-15.0, 15.0))]
        return render(name, walkers, _hover((0.0, 0.0, -12.0)), duration_s=12.0, rate_hz=rate_hz, noise=nz,
                      seed=seed, notes="subject and a look-alike 1.2 m apart vanish together for 3 s")
    raise UnknownScenarioError(f"unknown tracking scenario {name!r}; known: {', '.join(SCENARIOS)}")


SCENARIOS = ("hover", "yaw_pan", "crossing", "occlusion", "lookalike")


def crowd_frames(n_people: int, n_frames: int, seed: int = 0, rate_hz: float = 15.0) -> Scenario:
    """A dense, wide crowd for speed benchmarks (``n_people`` walkers spread so most are in view)."""
    rng = np.random.default_rng(seed)
    depth = (15.0, 15.0 + 0.2 * n_people + 20.0)
    walkers = _crowd(rng, n_people, depth, (-0.4 * depth[1], 0.4 * depth[1]))
    return render(f"crowd{n_people}", walkers, _hover((0.0, 0.0, -12.0)), duration_s=n_frames / rate_hz,
                  rate_hz=rate_hz, noise=DetectorNoise(fp_per_frame=0.0), seed=seed)
