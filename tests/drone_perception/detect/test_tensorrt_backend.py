"""TensorRT backend. The GPU tests run only where TensorRT and a CUDA device exist (``bench/gpu_checks.py``)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drone_perception.detect.factory import default_model_path
from drone_perception.detect.tensorrt_backend import (
    TensorRTDetector,
    build_engine,
    engine_cache_key,
    tensorrt_available,
)
from drone_perception.errors import ModelError

gpu = pytest.mark.skipif(not tensorrt_available(), reason="needs TensorRT + cuda-python + an NVIDIA GPU")


def _precision_flags_exist() -> bool:
    """TensorRT 11 removed the FP16/INT8 builder flags (strong typing: precision comes from the ONNX)."""
    import tensorrt as trt

    return int(trt.__version__.split(".")[0]) < 11


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((b"m1", "Orin", "10.3", "fp16"), (b"m2", "Orin", "10.3", "fp16")),
        ((b"m1", "Orin", "10.3", "fp16"), (b"m1", "NVIDIA H200", "10.3", "fp16")),
        ((b"m1", "Orin", "10.3", "fp16"), (b"m1", "Orin", "8.6.1", "fp16")),
        ((b"m1", "Orin", "10.3", "fp16"), (b"m1", "Orin", "10.3", "int8")),
    ],
)
def test_engine_cache_key_changes_with_model_gpu_version_precision(a, b):
    assert engine_cache_key(*a) != engine_cache_key(*b)
    assert engine_cache_key(*a) == engine_cache_key(*a)
    assert "/" not in engine_cache_key(b"m", "GPU / weird name", "10.3", "fp16")


def test_bad_precision_is_rejected_before_any_gpu_work(tmp_path):
    with pytest.raises(ModelError, match="precision"):
        build_engine(tmp_path / "m.onnx", "int4")
    with pytest.raises(ModelError, match="calibration"):
        build_engine(tmp_path / "m.onnx", "int8")


@pytest.mark.skipif(tensorrt_available(), reason="TensorRT present: the missing-TensorRT error cannot occur")
def test_clear_error_without_tensorrt():
    with pytest.raises(ModelError, match="TensorRT"):
        TensorRTDetector(default_model_path())


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_engine_matches_onnxruntime_on_a_real_photo(tmp_path, precision):
    from drone_perception.detect.onnx_backend import OnnxRuntimeDetector
    from drone_perception.detect.postprocess import box_iou

    from .test_real_photos import _photo

    if precision != "fp32" and not _precision_flags_exist():
        pytest.skip("TensorRT 11: precision comes from the ONNX (tests/.../test_tensorrt_versions.py)")
    img = _photo("bus.jpg")
    ref = OnnxRuntimeDetector(default_model_path(), providers=["CPUExecutionProvider"]).detect_image(img)
    trt = TensorRTDetector(default_model_path(), precision=precision, cache_dir=tmp_path)
    out = trt.detect_image(img)
    assert len(out) == len(ref)
    assert np.all(box_iou(ref.xyxy_px, out.xyxy_px).max(axis=1) > 0.9)
    again = TensorRTDetector(default_model_path(), precision=precision, cache_dir=tmp_path)
    assert again.engine_path == trt.engine_path  # cache hit


@pytest.mark.gpu
@gpu
def test_int8_engine_builds_with_calibration(tmp_path):
    from .test_real_photos import _photo

    if not _precision_flags_exist():
        pytest.skip("TensorRT 11 removed the INT8 calibrators (explicit Q/DQ quantization only)")
    imgs = [_photo(n) for n in ("bus.jpg", "zidane.jpg")] * 4
    path = build_engine(default_model_path(), "int8", cache_dir=tmp_path, calibration_images=imgs)
    assert path.is_file() and path.with_suffix(".json").is_file()
    out = TensorRTDetector(path).detect_image(cv2.flip(imgs[0], 1))
    assert len(out) >= 1
