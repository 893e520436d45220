"""ONNX Runtime backend: user (ultralytics-style) models through load_detector, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from drone_perception.config.perception import DetectorConfig
from drone_perception.detect.factory import load_detector
from drone_perception.detect.onnx_backend import OnnxRuntimeDetector
from drone_perception.errors import InvalidValueError, ModelError
from drone_perception.types import CameraIntrinsics, CameraModel, Frame

from .synthetic_models import BOXES_CXCYWH, ultralytics_like


def _frame(image: np.ndarray) -> Frame:
    h, w = image.shape[:2]
    cam = CameraModel(CameraIntrinsics.from_hfov(1.2, (w, h)), np.eye(3), np.zeros(3))
    return Frame(image=image, stamp_s=1.5, seq=3, camera=cam)


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("frame_wh", [(128, 128), (64, 64), (256, 128)])
def test_user_model_runs_through_the_interface(tmp_path, dynamic, frame_wh):
    path = ultralytics_like(tmp_path / "m.onnx", dynamic=dynamic)
    det = load_detector(DetectorConfig(model_path=str(path), confidence_threshold=0.35, nms_iou=0.5))
    w, h = frame_wh
    image = np.full((h, w, 3), 255, np.uint8)
    before = image.copy()
    out = det.detect(_frame(image))
    np.testing.assert_array_equal(image, before)  # never mutates the caller's frame
    # Two overlapping person anchors pass the threshold and NMS keeps the stronger; the weak one is cut.
    assert len(out) == 1 and out.stamp_s == 1.5
    assert out.class_id.tolist() == [0]
    scale = min(64 / w, 64 / h)
    pad_x, pad_y = (64 - round(w * scale)) // 2, (64 - round(h * scale)) // 2
    cx, cy, bw, bh = BOXES_CXCYWH[0]
    want = np.array([(cx - bw / 2 - pad_x) / scale, (cy - bh / 2 - pad_y) / scale,
                     (cx + bw / 2 - pad_x) / scale, (cy + bh / 2 - pad_y) / scale])
    np.testing.assert_allclose(out.xyxy_px[0], np.clip(want, 0, [w, h, w, h]), atol=1.0)


def test_dark_frame_gives_no_person(tmp_path):
    det = OnnxRuntimeDetector(ultralytics_like(tmp_path / "m.onnx"))
    assert len(det.detect(_frame(np.zeros((80, 80, 3), np.uint8)))) == 0


def test_person_class_found_by_name(tmp_path):
    det = OnnxRuntimeDetector(ultralytics_like(tmp_path / "m.onnx", names="{0: 'car', 1: 'person'}"))
    assert det.spec.person_class == 1
    # The "person" column is now 1 - brightness: a dark frame has people, a bright one none.
    assert len(det.detect(_frame(np.zeros((64, 64, 3), np.uint8)))) == 2  # anchors 0+1 merged by NMS, 2
    assert len(det.detect(_frame(np.full((64, 64, 3), 255, np.uint8)))) == 0


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p / "missing.onnx", "not found"),
        (lambda p: _write(p / "empty.onnx", b""), "empty"),
        (lambda p: _write(p / "junk.onnx", b"\x00\x01not a protobuf" * 50), "corrupt"),
        (lambda p: ultralytics_like(p / "c1.onnx", channels=1), "3 channels"),
        (lambda p: ultralytics_like(p / "sz.onnx", imgsz="[320, 320]"), "disagrees"),
        (lambda p: ultralytics_like(p / "odd.onnx", size=50, imgsz="[50, 50]"), "multiple of 32"),
        (lambda p: ultralytics_like(p / "dyn.onnx", dynamic=True, imgsz=""), "dynamic"),
        (lambda p: ultralytics_like(p / "np.onnx", names="{0: 'car', 1: 'dog'}"), "no 'person'"),
        (lambda p: ultralytics_like(p / "bad.onnx", names="__import__('os')"), "names"),
    ],
)
def test_bad_models_raise_model_error(tmp_path, make, match):
    with pytest.raises(ModelError, match=match):
        load_detector(DetectorConfig(model_path=str(make(tmp_path))))


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((0, 10, 3), np.uint8), "empty"),
        (np.zeros((1, 1, 3), np.uint8), "empty"),
        (np.zeros((10, 10), np.uint8), "uint8"),
        (np.zeros((10, 10, 3), np.float32), "uint8"),
        ("not an image", "numpy array"),
    ],
)
def test_bad_images_raise_invalid_value(tmp_path, image, match):
    det = OnnxRuntimeDetector(ultralytics_like(tmp_path / "m.onnx"))
    with pytest.raises(InvalidValueError, match=match):
        det.detect_image(image)


def test_detect_rejects_non_frame(tmp_path):
    det = OnnxRuntimeDetector(ultralytics_like(tmp_path / "m.onnx"))
    with pytest.raises(InvalidValueError, match="Frame"):
        det.detect(np.zeros((10, 10, 3), np.uint8))  # type: ignore[arg-type]


def test_default_model_is_shipped_and_loads():
    det = load_detector(DetectorConfig())
    assert det.spec.kind == "yolox" and det.spec.input_wh_px == (960, 544)  # type: ignore[attr-defined]
    assert det.spec.layout == "nchw_bgr255" and det.spec.person_class == 0  # type: ignore[attr-defined]
