"""Small people: a full-frame pass plus high-resolution crops (ROIs) and optional tiles, merged by NMS.

From 10-30 m a person is often 30-150 px tall; letterboxed into a 416 px network input from a 1920 px
frame they shrink to 6-30 px, below what the model resolves. Crops around where people are expected
(the predicted subject and people near it, supplied by the caller from the tracker) are enlarged to
the network input instead. All boxes come back in original frame pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from drone_perception.detect.core import PERSON_CLASS_ID
from drone_perception.detect.postprocess import nms
from drone_perception.errors import InvalidValueError
from drone_perception.types import Detections, Frame


class ImageDetector(Protocol):
    def detect_image(self, image_bgr: np.ndarray, stamp_s: float = 0.0) -> Detections: ...


@dataclass(frozen=True)
class TilingConfig:
    """``full_frame``: run the whole-frame pass (acquisition). ``roi_context``: a ROI crop is this many
    times the ROI's larger side (more = more context, less magnification). ``roi_min_side_px``: smallest
    crop side (raise to avoid over-magnifying tiny ROIs). ``max_rois``: crops per frame (cost).
    ``tile_grid``: (cols, rows) of fixed tiles, (0, 0) = no tiling; ``tile_overlap``: fraction of a tile
    shared with its neighbour. ``merge_iou``: NMS IoU when merging passes."""

    full_frame: bool = True
    roi_context: float = 3.0
    roi_min_side_px: int = 192
    max_rois: int = 4
    tile_grid: tuple[int, int] = (0, 0)
    tile_overlap: float = 0.2
    merge_iou: float = 0.5

    def __post_init__(self) -> None:
        if self.roi_context < 1.0:
            raise InvalidValueError(f"roi_context = {self.roi_context}: must be >= 1")
        if self.roi_min_side_px < 32:
            raise InvalidValueError(f"roi_min_side_px = {self.roi_min_side_px}: must be >= 32")
        if not 0.0 <= self.tile_overlap < 0.5:
            raise InvalidValueError(f"tile_overlap = {self.tile_overlap}: allowed [0, 0.5)")
        if min(self.tile_grid) < 0 or (0 in self.tile_grid and self.tile_grid != (0, 0)):
            raise InvalidValueError(f"tile_grid = {self.tile_grid}: both >= 1, or (0, 0) for no tiling")
        if not 0.0 < self.merge_iou <= 1.0:
            raise InvalidValueError(f"merge_iou = {self.merge_iou}: allowed (0, 1]")


def roi_windows(rois_xyxy_px: np.ndarray, frame_wh_px: tuple[int, int], cfg: TilingConfig) -> list[tuple[int, ...]]:
    """Square crop windows (x1, y1, x2, y2) around each ROI, shifted to stay inside the frame."""
    w, h = frame_wh_px
    out: list[tuple[int, ...]] = []
    for x1, y1, x2, y2 in np.asarray(rois_xyxy_px, np.float64).reshape(-1, 4)[: cfg.max_rois]:
        side = max(cfg.roi_min_side_px, cfg.roi_context * max(x2 - x1, y2 - y1))
        side = int(min(side, w, h))
        cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
        ox = int(np.clip(round(cx - side / 2.0), 0, w - side))
        oy = int(np.clip(round(cy - side / 2.0), 0, h - side))
        out.append((ox, oy, ox + side, oy + side))
    return out


def tile_windows(frame_wh_px: tuple[int, int], cfg: TilingConfig) -> list[tuple[int, ...]]:
    cols, rows = cfg.tile_grid
    if cols == 0:
        return []
    w, h = frame_wh_px
    tw = int(np.ceil(w / (cols - (cols - 1) * cfg.tile_overlap)))
    th = int(np.ceil(h / (rows - (rows - 1) * cfg.tile_overlap)))
    xs = np.linspace(0, w - tw, cols).round().astype(int) if cols > 1 else [0]
    ys = np.linspace(0, h - th, rows).round().astype(int) if rows > 1 else [0]
    return [(int(x), int(y), int(x) + min(tw, w), int(y) + min(th, h)) for y in ys for x in xs]


def _drop_cut(xyxy: np.ndarray, win: tuple[int, ...], frame_wh_px: tuple[int, int], margin_px: float) -> np.ndarray:
    """Mask of boxes that do NOT touch a crop edge lying inside the frame (those people are cut off)."""
    x1, y1, x2, y2 = win
    w, h = frame_wh_px
    cut = np.zeros(xyxy.shape[0], bool)
    if x1 > 0:
        cut |= xyxy[:, 0] <= x1 + margin_px
    if y1 > 0:
        cut |= xyxy[:, 1] <= y1 + margin_px
    if x2 < w:
        cut |= xyxy[:, 2] >= x2 - margin_px
    if y2 < h:
        cut |= xyxy[:, 3] >= y2 - margin_px
    return ~cut


class RoiTilingDetector:
    """Wraps an image detector; ``detect(frame, rois_xyxy_px)`` runs full frame + ROI crops + tiles.

    ``rois_xyxy_px``: (N, 4) frame-pixel boxes where people are expected (predicted subject first, then
    nearby people); ``None``/empty = full frame and tiles only.
    """

    def __init__(self, base: ImageDetector, config: TilingConfig | None = None) -> None:
        self.base = base
        self.config = config or TilingConfig()

    def windows(self, frame_wh_px: tuple[int, int], rois_xyxy_px: np.ndarray | None) -> list[tuple[int, ...]]:
        w, h = frame_wh_px
        wins: list[tuple[int, ...]] = [(0, 0, w, h)] if self.config.full_frame else []
        wins += tile_windows(frame_wh_px, self.config)
        if rois_xyxy_px is not None and len(rois_xyxy_px):
            wins += roi_windows(rois_xyxy_px, frame_wh_px, self.config)
        return wins

    def detect(self, frame: Frame, rois_xyxy_px: np.ndarray | Sequence[Sequence[float]] | None = None) -> Detections:
        image = frame.image
        h, w = image.shape[:2]
        rois = None if rois_xyxy_px is None else np.asarray(rois_xyxy_px, np.float64).reshape(-1, 4)
        boxes, scores = [], []
        for win in self.windows((w, h), rois):
            x1, y1, x2, y2 = win
            crop = image[y1:y2, x1:x2]  # a view; detectors never write into their input
            det = self.base.detect_image(crop, frame.stamp_s)
            if not len(det):
                continue
            xyxy = det.xyxy_px + np.array([x1, y1, x1, y1], np.float32)
            keep = _drop_cut(xyxy, win, (w, h), margin_px=2.0)
            boxes.append(xyxy[keep])
            scores.append(det.confidence[keep])
        if not boxes:
            return Detections.empty(frame.stamp_s)
        xyxy_all, score_all = np.concatenate(boxes), np.concatenate(scores)
        keep_idx = nms(xyxy_all, score_all, self.config.merge_iou)
        n = keep_idx.size
        return Detections(xyxy_all[keep_idx], score_all[keep_idx], np.full(n, PERSON_CLASS_ID, np.int32),
                          frame.stamp_s)
