"""Decoders and NMS (pure numpy) and the letterbox round trip."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_perception.detect.postprocess import YoloHead, box_iou, decode_darknet_yolo, decode_ultralytics, nms
from drone_perception.detect.preprocess import letterbox
from drone_perception.errors import ModelError

boxes_st = st.lists(
    st.tuples(st.floats(0, 500), st.floats(0, 500), st.floats(1, 200), st.floats(1, 200), st.floats(0.01, 1)),
    min_size=0, max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(rows=boxes_st, thr=st.floats(0.1, 0.9))
def test_nms_keeps_the_best_and_no_two_kept_overlap_above_threshold(rows, thr):
    a = np.array(rows, np.float64).reshape(-1, 5)
    xyxy = np.c_[a[:, 0], a[:, 1], a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]]
    keep = nms(xyxy, a[:, 4], thr)
    if len(rows):
        assert keep[0] == int(np.argmax(a[:, 4]))
        iou = box_iou(xyxy[keep], xyxy[keep])
        np.fill_diagonal(iou, 0.0)
        assert iou.max(initial=0.0) <= thr + 1e-9
        # every dropped box overlaps a kept one above the threshold
        dropped = np.setdiff1d(np.arange(len(rows)), keep)
        if dropped.size:
            assert np.all(box_iou(xyxy[dropped], xyxy[keep]).max(axis=1) > thr - 1e-9)
    else:
        assert keep.size == 0


def test_darknet_decoder_places_a_cell_anchor_box():
    head = YoloHead("h", 32, ((10.0, 20.0), (40.0, 80.0)))
    raw = np.full((1, 12, 2, 3), -20.0, np.float32)  # everything off
    # anchor 1, row 1, col 2: tx = ty = 0 -> centre of the cell; tw = th = 0 -> anchor size; scores high
    t = raw.reshape(2, 6, 2, 3)
    t[1, 0:4, 1, 2] = 0.0
    t[1, 4:6, 1, 2] = 20.0
    xyxy, score = decode_darknet_yolo([raw], [head], 0.5)
    cx, cy = (2 + 0.5) * 32, (1 + 0.5) * 32
    np.testing.assert_allclose(xyxy, [[cx - 20, cy - 40, cx + 20, cy + 40]], atol=1e-4)
    assert score.shape == (1,) and score[0] > 0.99


@pytest.mark.parametrize(
    ("shape", "match"), [((1, 13, 2, 3), r"\[1, 12, H, W\]"), ((2, 12, 2, 3), r"\[1, 12, H, W\]")]
)
def test_darknet_decoder_rejects_wrong_head_shape(shape, match):
    with pytest.raises(ModelError, match=match):
        decode_darknet_yolo([np.zeros(shape, np.float32)], [YoloHead("h", 32, ((1, 1), (2, 2)))], 0.5)


def test_ultralytics_decoder_v8_and_end_to_end():
    out = np.zeros((1, 6, 4), np.float32)
    out[0, :4, 0] = [50, 60, 20, 40]
    out[0, 4, 0] = 0.9  # person
    out[0, 5, 1] = 0.95  # other class only
    xyxy, score = decode_ultralytics(out, 0, 0.5)
    np.testing.assert_allclose(xyxy, [[40, 40, 60, 80]])
    np.testing.assert_allclose(score, [0.9])
    e2e = np.array([[[1, 2, 3, 4, 0.8, 0], [5, 6, 7, 8, 0.9, 2], [1, 1, 2, 2, 0.2, 0]]], np.float32)
    xyxy, score = decode_ultralytics(e2e, 0, 0.5)
    np.testing.assert_allclose(xyxy, [[1, 2, 3, 4]])
    np.testing.assert_allclose(score, [0.8])


@settings(max_examples=40, deadline=None)
@given(w=st.integers(2, 900), h=st.integers(2, 900), dst=st.sampled_from([(416, 416), (640, 384), (300, 300)]))
def test_letterbox_round_trip_and_no_mutation(w, h, dst):
    img = np.random.default_rng(w * 1000 + h).integers(0, 255, (h, w, 3), dtype=np.uint8)
    before = img.copy()
    tensor, lb = letterbox(img, dst)
    np.testing.assert_array_equal(img, before)
    assert tensor.shape == (1, 3, dst[1], dst[0]) and tensor.dtype == np.float32
    full = np.array([[lb.pad_x_px, lb.pad_y_px, lb.pad_x_px + lb.scale_x * w, lb.pad_y_px + lb.scale_y * h]])
    np.testing.assert_allclose(lb.to_image_px(full), [[0, 0, w, h]], atol=1e-3)
