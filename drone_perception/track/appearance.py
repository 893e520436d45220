"""Colour-histogram appearance of people, for the subject lock's re-acquisition check.

A hue-saturation histogram of the central part of each box (the clothes, less background), normalised to
sum 1. Similarity is the Bhattacharyya coefficient: 1 = identical distributions, 0 = disjoint.
"""

from __future__ import annotations

import cv2
import numpy as np

from drone_perception.errors import InvalidValueError

#: Hue and saturation bins.
DEFAULT_BINS = (12, 4)
#: Share of the box width/height trimmed on each side before the histogram (drops background).
TRIM = 0.2


def color_histograms(image_bgr: np.ndarray, xyxy_px: np.ndarray, bins: tuple[int, int] = DEFAULT_BINS
                     ) -> np.ndarray:
    """(N, bins[0]*bins[1]) normalised HS histograms of the boxes (x1,y1,x2,y2 pixels) in a BGR uint8 image.

    A box that lies outside the image or is smaller than 2x2 px after trimming gives a row of NaN.
    The image is not modified."""
    if not (isinstance(image_bgr, np.ndarray) and image_bgr.dtype == np.uint8 and image_bgr.ndim == 3):
        raise InvalidValueError("image_bgr: expected a uint8 H x W x 3 array")
    boxes = np.asarray(xyxy_px, dtype=np.float64).reshape(-1, 4)
    h_img, w_img = image_bgr.shape[:2]
    out = np.full((boxes.shape[0], bins[0] * bins[1]), np.nan)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        if not np.all(np.isfinite([x1, y1, x2, y2])):
            continue
        dx, dy = TRIM * (x2 - x1), TRIM * (y2 - y1)
        a, b = int(max(0, round(x1 + dx))), int(min(w_img, round(x2 - dx)))
        c, d = int(max(0, round(y1 + dy))), int(min(h_img, round(y2 - dy)))
        if b - a < 2 or d - c < 2:
            continue
        hsv = cv2.cvtColor(np.ascontiguousarray(image_bgr[c:d, a:b]), cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, list(bins), [0, 180, 0, 256]).ravel().astype(np.float64)
        total = hist.sum()
        if total > 0:
            out[i] = hist / total
    return out


def similarity(hist_a: np.ndarray, hist_b: np.ndarray) -> float:
    """Bhattacharyya coefficient in [0, 1] of two normalised histograms; NaN if either is unknown."""
    a = np.asarray(hist_a, float)
    b = np.asarray(hist_b, float)
    if a.shape != b.shape:
        raise InvalidValueError(f"hist_b: expected shape {a.shape}, got {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("nan")
    return float(np.clip(np.sum(np.sqrt(np.clip(a, 0, None) * np.clip(b, 0, None))), 0.0, 1.0))
