"""Raw network outputs -> person boxes in network-input pixels, and a numpy NMS.

Each decoder returns ``(xyxy_input_px (N, 4) float32, score (N,) float32)`` for the person class only,
already filtered by ``conf_threshold``; boxes are in the pixels of the network input (before the
letterbox is undone). NMS is never inside the model graphs (TensorRT-friendly); it runs here.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from drone_perception.errors import ModelError

_EMPTY = (np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class YoloHead:
    """One Darknet YOLO head: its output name, stride and anchors (input pixels, (w, h))."""

    output: str
    stride_px: int
    anchors_wh_px: tuple[tuple[float, float], ...]


def decode_darknet_yolo(
    outputs: Sequence[np.ndarray], heads: Sequence[YoloHead], conf_threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Decode person-only Darknet YOLOv3 heads, each [1, A*6, H, W] = A x (tx, ty, tw, th, obj, person).

    ``x = (sigmoid(tx) + col) * stride``, ``w = exp(tw) * anchor_w``; score = sigmoid(obj) * sigmoid(person).
    """
    boxes, scores = [], []
    for raw, head in zip(outputs, heads):
        na = len(head.anchors_wh_px)
        if raw.ndim != 4 or raw.shape[0] != 1 or raw.shape[1] != na * 6:
            raise ModelError(f"head {head.output}: expected shape [1, {na * 6}, H, W], got {list(raw.shape)}")
        _, _, gh, gw = raw.shape
        t = raw.reshape(na, 6, gh, gw)
        score = _sigmoid(t[:, 4]) * _sigmoid(t[:, 5])
        a_idx, gy, gx = np.nonzero(score >= conf_threshold)
        if a_idx.size == 0:
            continue
        sel = t[a_idx, :, gy, gx]  # (K, 6)
        anchors = np.asarray(head.anchors_wh_px, np.float32)[a_idx]
        cx = (_sigmoid(sel[:, 0]) + gx) * head.stride_px
        cy = (_sigmoid(sel[:, 1]) + gy) * head.stride_px
        w = np.exp(np.minimum(sel[:, 2], 10.0)) * anchors[:, 0]
        h = np.exp(np.minimum(sel[:, 3], 10.0)) * anchors[:, 1]
        boxes.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1))
        scores.append(score[a_idx, gy, gx])
    if not boxes:
        return _EMPTY
    return np.concatenate(boxes).astype(np.float32), np.concatenate(scores).astype(np.float32)


def decode_ultralytics(
    output: np.ndarray, person_class: int, conf_threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Decode an ultralytics YOLOv8/11 detect output [1, 4 + nc, A] (cx, cy, w, h in input px, then the
    per-class scores, already sigmoid-ed), or an end-to-end output [1, N, 6] (x1, y1, x2, y2, score, cls)."""
    if output.ndim != 3 or output.shape[0] != 1:
        raise ModelError(
            f"ultralytics output: expected [1, 4+nc, anchors] or [1, N, 6], got {list(output.shape)}"
        )
    o = output[0]
    if o.shape[1] == 6 and o.shape[0] != 6:
        # End-to-end (NMS-free) head: rows are detections.
        keep = (o[:, 5].round() == person_class) & (o[:, 4] >= conf_threshold)
        return o[keep, :4].astype(np.float32), o[keep, 4].astype(np.float32)
    if o.shape[0] < 4 + person_class + 1:
        raise ModelError(
            f"ultralytics output has {o.shape[0] - 4} classes; person class {person_class} is missing"
        )
    score = o[4 + person_class]
    idx = np.nonzero(score >= conf_threshold)[0]
    if idx.size == 0:
        return _EMPTY
    cx, cy, w, h = o[0, idx], o[1, idx], o[2, idx], o[3, idx]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return xyxy.astype(np.float32), score[idx].astype(np.float32)


def decode_yolox(output: np.ndarray, input_wh_px: tuple[int, int], strides: Sequence[int], person_class: int,
                 conf_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """YOLOX output [1, N, 5 + nc]: per grid cell (strides in order, row-major) raw (dx, dy, log w, log h,
    objectness, class probabilities...), already sigmoid-ed where YOLOX exports them so. Box centre =
    (cell + d) * stride, size = exp(log) * stride; score = objectness x P(person)."""
    o = np.asarray(output)
    if o.ndim == 3:
        o = o[0]
    if o.ndim != 2 or o.shape[1] < 5 + person_class + 1:
        raise ModelError(f"yolox output: expected [N, 5 + classes] with class {person_class}, got {list(o.shape)}")
    score = o[:, 4] * o[:, 5 + person_class]
    keep = np.flatnonzero(score >= conf_threshold)
    if keep.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    grid, stride = _yolox_grid(input_wh_px, tuple(strides))
    if grid.shape[0] != o.shape[0]:
        raise ModelError(f"yolox output has {o.shape[0]} cells; input {input_wh_px} with strides {strides} "
                         f"has {grid.shape[0]}")
    p, g, st = o[keep], grid[keep], stride[keep]
    cxy = (p[:, :2] + g) * st
    wh = np.exp(np.clip(p[:, 2:4], -10.0, 10.0)) * st
    xyxy = np.concatenate([cxy - wh / 2.0, cxy + wh / 2.0], axis=1).astype(np.float32)
    return xyxy, score[keep].astype(np.float32)


@functools.lru_cache(maxsize=8)
def _yolox_grid(input_wh_px: tuple[int, int], strides: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    cells, steps = [], []
    for s in strides:
        gw, gh = input_wh_px[0] // s, input_wh_px[1] // s
        xv, yv = np.meshgrid(np.arange(gw, dtype=np.float32), np.arange(gh, dtype=np.float32))
        cells.append(np.stack([xv.ravel(), yv.ravel()], axis=1))
        steps.append(np.full((gw * gh, 1), float(s), np.float32))
    return np.concatenate(cells), np.concatenate(steps)


def decode_tf_ssd(
    boxes_yxyx_norm: np.ndarray, scores: np.ndarray, classes: np.ndarray, person_class: int,
    input_wh_px: tuple[int, int], conf_threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode TF Object Detection API outputs: boxes [1, N, 4] (ymin, xmin, ymax, xmax in [0, 1] of the
    input), scores [1, N], classes [1, N] (float ids)."""
    b, s, c = boxes_yxyx_norm.reshape(-1, 4), scores.reshape(-1), classes.reshape(-1)
    keep = (np.round(c) == person_class) & (s >= conf_threshold)
    w, h = input_wh_px
    b = b[keep]
    xyxy = np.stack([b[:, 1] * w, b[:, 0] * h, b[:, 3] * w, b[:, 2] * h], axis=1)
    return xyxy.astype(np.float32), s[keep].astype(np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes -> (N, M)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0.0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0.0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float, max_det: int = 300) -> np.ndarray:
    """Greedy non-maximum suppression. Returns kept indices, highest score first."""
    if xyxy.shape[0] == 0:
        return np.zeros((0,), np.int64)
    x1, y1, x2, y2 = (xyxy[:, i].astype(np.float64) for i in range(4))
    area = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_det:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = iw * ih
        iou = inter / np.maximum(area[i] + area[rest] - inter, 1e-12)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, np.int64)
