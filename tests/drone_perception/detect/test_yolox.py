"""The YOLOX layout (the shipped default): grid decoding, top-left BGR letterbox, and recognition."""

from __future__ import annotations

import numpy as np
import pytest

from drone_perception.detect.model_spec import TensorInfo, spec_from_model
from drone_perception.detect.postprocess import decode_yolox
from drone_perception.detect.preprocess import letterbox_bgr255_topleft
from drone_perception.errors import ModelError


def test_decode_places_a_cell_on_its_grid() -> None:
    wh = (64, 32)
    cells = sum((wh[0] // s) * (wh[1] // s) for s in (8, 16, 32))  # 32 + 8 + 2
    out = np.zeros((1, cells, 85), np.float32)
    # stride-16 cell (x=2, y=1) is row 32 + 1 * 4 + 2 = 38; offset (0.5, 0.5), size exp(0) * 16
    out[0, 38, :5] = [0.5, 0.5, 0.0, 0.0, 0.9]
    out[0, 38, 5] = 0.8  # P(person)
    out[0, 3, 4], out[0, 3, 6] = 0.99, 0.99  # a confident bicycle: not a person
    xyxy, score = decode_yolox(out, wh, (8, 16, 32), 0, 0.3)
    assert score.tolist() == pytest.approx([0.72])
    assert xyxy.tolist()[0] == pytest.approx([32.0, 16.0, 48.0, 32.0])


def test_decode_refuses_an_output_that_does_not_fit_the_input() -> None:
    with pytest.raises(ModelError, match="cells"):
        decode_yolox(np.full((1, 10, 85), 0.9, np.float32), (64, 32), (8, 16, 32), 0, 0.3)


def test_letterbox_is_top_left_bgr_0_255() -> None:
    img = np.zeros((50, 100, 3), np.uint8)
    img[..., 0] = 200  # blue
    tensor, lb = letterbox_bgr255_topleft(img, (64, 64))
    assert tensor.shape == (1, 3, 64, 64) and tensor.dtype == np.float32
    assert tensor[0, 0, 0, 0] == 200.0 and tensor[0, 2, 0, 0] == 0.0  # channel 0 is blue: BGR kept
    assert tensor[0, 0, 63, 0] == 114.0  # padding below the 32-row image, none above
    assert lb.pad_x_px == 0.0 and lb.pad_y_px == 0.0
    assert lb.to_image_px(np.array([[0.0, 0.0, 64.0, 32.0]], np.float32)).tolist()[0] == pytest.approx(
        [0.0, 0.0, 100.0, 50.0])


def test_a_yolox_export_is_recognised_by_its_output_shape() -> None:
    n = sum((416 // s) ** 2 for s in (8, 16, 32))
    spec = spec_from_model([TensorInfo("images", (1, 3, 416, 416), "float32")],
                           [TensorInfo("output", (1, n, 85), "float32")], {})
    assert spec.kind == "yolox" and spec.strides == (8, 16, 32) and spec.layout == "nchw_bgr255"
    with pytest.raises(ModelError, match="yolox"):
        spec_from_model([TensorInfo("images", (1, 3, 416, 416), "float32")],
                        [TensorInfo("output", (1, n - 1, 85), "float32")], {"dp_format": "yolox"})
