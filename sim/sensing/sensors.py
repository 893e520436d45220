"""Simulated person detector: ground truth -> ``Detections`` with the failure modes of a real one.

Each person's body (a vertical rectangle ``width_m`` x ``height_m`` facing the camera, standing on its foot point)
is projected with a pinhole model written here from the ``CameraModel`` fields (``R_ned_from_cam``,
``position_ned_m``, intrinsics), independently of the stack's geometry module, so the two check each other
(an independent copy kept on purpose: the simulator's ground truth must not inherit a bug of
:func:`drone_perception.geometry.project_points` / ``person_box``, which the stack inverts;
``tests/sim/test_sensors.py`` compares them on random cameras and bodies). Then, per person:

* dropped when the world hides the person (a sensor blackout window), when any body corner is behind the camera
  (or nearer than ``NEAR_PLANE_M``), when the box lies outside the image or less than ``min_visible_fraction``
  of it is inside, when the visible box is shorter than ``min_box_height_px``, or when more than
  ``occlusion_drop_threshold`` of the body is hidden by trees;
* otherwise missed with probability ``1 - (1 - p_size) * (1 - p_occlusion)``: ``p_size`` falls from
  ``miss_prob_at_min_height`` at the minimum box height to ``miss_prob_floor`` with scale ``miss_height_scale_px``;
  ``p_occlusion = occlusion_miss_gain * occluded_share``;
* box edges jittered by ``box_jitter_rel`` x box height (1 sigma), confidence lower for small / occluded people.

False positives: a Poisson number per frame (mean ``false_positives_per_frame``), person-shaped boxes anywhere
in the image, labelled -1 in the ground-truth ids. Detections are sorted by confidence, highest first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from drone_perception.errors import InvalidValueError
from drone_perception.types import CameraIntrinsics, CameraModel, Detections
from sim.world.occluders import occlusion_fractions

if TYPE_CHECKING:
    from sim.world.world import World

#: Points nearer than this along the optical axis (m) count as behind the camera.
NEAR_PLANE_M = 0.2
#: COCO class id of "person".
PERSON_CLASS_ID = 0


#: The shipped default detector (YOLOX-nano at 960x544, score 0.35) fitted to its measured recall by person
#: height on real imagery (MOT17-mini, 534 people at least half visible; models/MODEL_CARD.md,
#: models/sim_profile_fit.json), in the detector's *input* pixels: nothing under ``MIN`` px is found, the miss
#: probability is ``AT_MIN`` there and falls as ``exp(-(h - MIN) / SCALE)`` to ``FLOOR``. A camera frame of
#: width W reaches the network scaled by 960 / W, so these become image pixels by W / 960.
CALIBRATED_INPUT_PX = {"min_box_height": 25.0, "miss_prob_at_min_height": 0.66, "miss_height_scale": 29.0}
CALIBRATED_MISS_FLOOR = 0.01
#: Background false positives per frame (people-shaped boxes away from any person): 4 of the 47 false
#: positives at score 0.5 on the 39 frames (the others were duplicate or group boxes on people).
CALIBRATED_FALSE_POSITIVES_PER_FRAME = 0.1
#: Network input width of the shipped default (px).
DEFAULT_DETECTOR_INPUT_WIDTH_PX = 960


@dataclass(frozen=True)
class DetectionModelParams:
    """Detection-noise model. Raising a miss probability or the FP rate makes perception harder.

    The defaults are the shipped detector's calibrated profile for a 1280 px wide camera (the default camera):
    :meth:`calibrated` gives it for another width. :meth:`optimistic` is the profile used before it was
    calibrated (a detector missing ~2 % of people above 60 px), kept for comparison only."""

    min_box_height_px: float = CALIBRATED_INPUT_PX["min_box_height"] * 1280 / DEFAULT_DETECTOR_INPUT_WIDTH_PX
    miss_prob_floor: float = CALIBRATED_MISS_FLOOR
    miss_prob_at_min_height: float = CALIBRATED_INPUT_PX["miss_prob_at_min_height"]
    miss_height_scale_px: float = CALIBRATED_INPUT_PX["miss_height_scale"] * 1280 / DEFAULT_DETECTOR_INPUT_WIDTH_PX
    occlusion_drop_threshold: float = 0.6
    occlusion_miss_gain: float = 0.8
    min_visible_fraction: float = 0.35
    box_jitter_rel: float = 0.03
    false_positives_per_frame: float = CALIBRATED_FALSE_POSITIVES_PER_FRAME
    fp_height_range_px: tuple[float, float] = (20.0, 160.0)
    fp_confidence_range: tuple[float, float] = (0.15, 0.6)
    confidence_max: float = 0.92
    confidence_height_scale_px: float = 50.0
    confidence_sigma: float = 0.04

    def __post_init__(self) -> None:
        unit = ("miss_prob_floor", "miss_prob_at_min_height", "occlusion_drop_threshold", "occlusion_miss_gain",
                "min_visible_fraction", "confidence_max")
        for name in unit:
            v = getattr(self, name)
            if not (math.isfinite(v) and 0.0 <= v <= 1.0):
                raise InvalidValueError(f"DetectionModelParams.{name}: must be in [0, 1], got {v!r}")
        for name in ("min_box_height_px", "miss_height_scale_px", "confidence_height_scale_px"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0.0):
                raise InvalidValueError(f"DetectionModelParams.{name}: must be positive, got {v!r}")
        for name in ("box_jitter_rel", "false_positives_per_frame", "confidence_sigma"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0.0):
                raise InvalidValueError(f"DetectionModelParams.{name}: must be >= 0, got {v!r}")
        for name in ("fp_height_range_px", "fp_confidence_range"):
            lo, hi = getattr(self, name)
            if not (0.0 < lo <= hi):
                raise InvalidValueError(f"DetectionModelParams.{name}: expected 0 < low <= high, got {(lo, hi)!r}")

    @classmethod
    def calibrated(cls, image_width_px: int, **overrides: float) -> DetectionModelParams:
        """The shipped detector's measured profile for a camera ``image_width_px`` wide (see
        ``CALIBRATED_INPUT_PX``)."""
        k = float(image_width_px) / DEFAULT_DETECTOR_INPUT_WIDTH_PX
        c = CALIBRATED_INPUT_PX
        base = {"min_box_height_px": c["min_box_height"] * k, "miss_prob_at_min_height": c["miss_prob_at_min_height"],
                "miss_height_scale_px": c["miss_height_scale"] * k, "miss_prob_floor": CALIBRATED_MISS_FLOOR,
                "false_positives_per_frame": CALIBRATED_FALSE_POSITIVES_PER_FRAME}
        return cls(**{**base, **overrides})  # type: ignore[arg-type]

    @classmethod
    def optimistic(cls) -> DetectionModelParams:
        """The uncalibrated profile of the first build (2 % misses above ~60 px): not the shipped detector."""
        return cls(min_box_height_px=10.0, miss_prob_floor=0.02, miss_prob_at_min_height=0.6,
                   miss_height_scale_px=25.0, false_positives_per_frame=0.05)

    def miss_probability(self, box_height_px: float, occluded_share: float) -> float:
        """Probability (0..1) that a visible person with this box height and occluded share is missed."""
        excess = max(box_height_px - self.min_box_height_px, 0.0)
        p_size = self.miss_prob_floor + (self.miss_prob_at_min_height - self.miss_prob_floor) * math.exp(
            -excess / self.miss_height_scale_px)
        p_occ = min(self.occlusion_miss_gain * occluded_share, 1.0)
        return 1.0 - (1.0 - p_size) * (1.0 - p_occ)


def project_body(
    camera: CameraModel, foot_ned_m: Sequence[float], height_m: float, width_m: float
) -> tuple[tuple[float, float, float, float], bool]:
    """Unclipped box (x1, y1, x2, y2) px of one body, and whether all its corners are in front of the camera.

    Corners: foot and head, each +-width/2 along the horizontal direction perpendicular to the optical axis.
    Plain float arithmetic: for a handful of people it is ~10x faster than numpy on tiny arrays.
    """
    (r00, r01, r02), (r10, r11, r12), (r20, r21, r22) = camera.R_ned_from_cam.tolist()
    c = camera.position_ned_m
    return _project(r00, r01, r02, r10, r11, r12, r20, r21, r22, float(c[0]), float(c[1]), float(c[2]),
                    camera.intrinsics, float(foot_ned_m[0]), float(foot_ned_m[1]), float(foot_ned_m[2]),
                    height_m, width_m)


def _project(r00: float, r01: float, r02: float, r10: float, r11: float, r12: float, r20: float, r21: float,
             r22: float, cn: float, ce: float, cd: float, k: CameraIntrinsics, fn: float, fe: float, fd: float,
             height_m: float, width_m: float) -> tuple[tuple[float, float, float, float], bool]:
    # Horizontal right axis in NED (the optical x axis, any roll removed), then in the camera frame (R^T v).
    nr = math.hypot(r00, r10)
    if nr > 1e-9:
        hn, he = r00 / nr, r10 / nr
    else:
        hn, he = 0.0, 1.0
    half = 0.5 * width_m
    ox, oy, oz = half * (r00 * hn + r10 * he), half * (r01 * hn + r11 * he), half * (r02 * hn + r12 * he)
    dn, de, dd = fn - cn, fe - ce, fd - cd
    # p_cam = R^T (X - C); the head is the foot raised by height_m (NED -z).
    fx_, fy_, fz_ = r00 * dn + r10 * de + r20 * dd, r01 * dn + r11 * de + r21 * dd, r02 * dn + r12 * de + r22 * dd
    hx_, hy_, hz_ = fx_ - height_m * r20, fy_ - height_m * r21, fz_ - height_m * r22
    us: list[float] = []
    vs: list[float] = []
    in_front = True
    for x, y, z in ((fx_ - ox, fy_ - oy, fz_ - oz), (fx_ + ox, fy_ + oy, fz_ + oz),
                    (hx_ - ox, hy_ - oy, hz_ - oz), (hx_ + ox, hy_ + oy, hz_ + oz)):
        if z <= NEAR_PLANE_M:
            in_front = False
            z = NEAR_PLANE_M
        us.append(k.fx_px * x / z + k.cx_px)
        vs.append(k.fy_px * y / z + k.cy_px)
    return (min(us), min(vs), max(us), max(vs)), in_front


def simulate_detections(
    world: World, camera: CameraModel, rng: np.random.Generator, params: DetectionModelParams
) -> tuple[Detections, np.ndarray]:
    """Detections of ``world``'s people seen by ``camera`` at ``world.t_s``, and the ground-truth person id of
    each row (int64 (N,), -1 for false positives)."""
    k = camera.intrinsics
    w_px, h_px = float(k.size_wh_px[0]), float(k.size_wh_px[1])
    n_people = len(world.people)
    rows: list[tuple[float, float, float, float]] = []
    confs: list[float] = []
    ids: list[int] = []

    if n_people:
        # Random draws have a fixed shape per person, so one person's fate does not shift another's noise.
        u_miss = rng.random(n_people).tolist()
        noise = rng.standard_normal((n_people, 5)).tolist()
        hidden = world.hidden_mask().tolist() if world.hidden_s else [False] * n_people
        (r00, r01, r02), (r10, r11, r12), (r20, r21, r22) = camera.R_ned_from_cam.tolist()
        cn, ce, cd = camera.position_ned_m.tolist()
        candidates: list[tuple[int, tuple[float, float, float, float], float]] = []
        for i, person in enumerate(world.people):
            if hidden[i]:
                continue
            fn, fe, fd = person._pos.tolist()
            (x1, y1, x2, y2), in_front = _project(r00, r01, r02, r10, r11, r12, r20, r21, r22, cn, ce, cd, k,
                                                  fn, fe, fd, person.height_m, person.width_m)
            if not in_front:
                continue
            cx1, cy1 = min(max(x1, 0.0), w_px), min(max(y1, 0.0), h_px)
            cx2, cy2 = min(max(x2, 0.0), w_px), min(max(y2, 0.0), h_px)
            vis_h = cy2 - cy1
            full_area = max((x2 - x1) * (y2 - y1), 1e-9)
            if vis_h < params.min_box_height_px or (cx2 - cx1) * vis_h < params.min_visible_fraction * full_area:
                continue
            candidates.append((i, (cx1, cy1, cx2, cy2), vis_h))
        occluded = [0.0] * len(candidates)
        if candidates and len(world.tree_set):
            idx = [c[0] for c in candidates]
            occluded = occlusion_fractions(camera.position_ned_m, world.people_feet_ned_m()[idx],
                                           world.person_heights_m[idx], world.person_widths_m[idx],
                                           world.tree_set).tolist()
        for (i, (cx1, cy1, cx2, cy2), vis_h), occ in zip(candidates, occluded):
            if occ > params.occlusion_drop_threshold or u_miss[i] < params.miss_probability(vis_h, occ):
                continue
            nz = noise[i]
            sigma = params.box_jitter_rel * vis_h
            x1 = min(max(cx1 + sigma * nz[0], 0.0), w_px)
            y1 = min(max(cy1 + sigma * nz[1], 0.0), h_px)
            x2 = max(min(max(cx2 + sigma * nz[2], 0.0), w_px), x1 + 1.0)
            y2 = max(min(max(cy2 + sigma * nz[3], 0.0), h_px), y1 + 1.0)
            size_term = 1.0 - math.exp(-vis_h / params.confidence_height_scale_px)
            conf = params.confidence_max * size_term * (1.0 - 0.5 * occ) + params.confidence_sigma * nz[4]
            rows.append((x1, y1, x2, y2))
            confs.append(min(max(conf, 0.05), 0.99))
            ids.append(world.people[i].id)

    n_fp = int(rng.poisson(params.false_positives_per_frame)) if params.false_positives_per_frame > 0 else 0
    if n_fp:
        lo, hi = params.fp_height_range_px
        clo, chi = params.fp_confidence_range
        for r0, r1, r2, r3, r4 in rng.random((n_fp, 5)).tolist():
            fh = lo + (hi - lo) * r0
            fw = fh * (0.3 + 0.2 * r1)
            cx, cy = r2 * w_px, r3 * h_px
            rows.append((max(cx - fw / 2, 0.0), max(cy - fh / 2, 0.0), min(cx + fw / 2, w_px), min(cy + fh / 2, h_px)))
            confs.append(clo + (chi - clo) * r4)
            ids.append(-1)

    if not rows:
        return Detections.empty(world.t_s), np.zeros(0, dtype=np.int64)
    order = sorted(range(len(rows)), key=lambda j: -confs[j])
    dets = Detections(
        xyxy_px=np.array([rows[j] for j in order], dtype=np.float32),
        confidence=np.array([confs[j] for j in order], dtype=np.float32),
        class_id=np.full(len(order), PERSON_CLASS_ID, dtype=np.int32),
        stamp_s=world.t_s,
    )
    return dets, np.array([ids[j] for j in order], dtype=np.int64)
