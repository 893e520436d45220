"""Cost matrices and assignment for the tracker: IoU in the image, a Mahalanobis gate on the ground."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

#: Cost given to inadmissible pairs before the Hungarian solve (any admissible cost is below 2).
_INADMISSIBLE = 1e6


def iou_matrix(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """Pairwise intersection-over-union (A, B) of boxes ``a_xyxy`` (A, 4) and ``b_xyxy`` (B, 4) in x1,y1,x2,y2
    pixels (float64 out). Degenerate boxes (zero area, or x2 < x1 / y2 < y1) give 0; either side may be empty.

    The stack's one box IoU: the tracker, the subject lock and the sim's detection-to-truth matching use it.
    """
    a = np.asarray(a_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b_xyxy, dtype=np.float64).reshape(-1, 4)
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]))
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0.0, None) * np.clip(iy2 - iy1, 0.0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0.0, inter / union, 0.0)
    return np.asarray(out)


def assign(cost: np.ndarray, admissible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost matching over admissible pairs (Hungarian, scipy). Returns matched (rows, cols).

    Inadmissible pairs are never returned, even when the solver had to use one to complete its matching.
    """
    if cost.size == 0 or not np.any(admissible):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    c = np.where(admissible, cost, _INADMISSIBLE)
    rows, cols = linear_sum_assignment(c)
    keep = admissible[rows, cols]
    return rows[keep].astype(np.int64), cols[keep].astype(np.int64)
