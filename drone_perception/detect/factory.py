"""``load_detector(config)``: the one way the stack gets a :class:`~drone_perception.interfaces.Detector`."""

from __future__ import annotations

import logging
from pathlib import Path

from drone_perception.config.perception import DetectorConfig
from drone_perception.detect.core import DetectorParams
from drone_perception.errors import ModelError
from drone_perception.interfaces import Detector

log = logging.getLogger(__name__)

#: Shipped default (TensorRT-friendly yolov3-tiny, person head only); see models/MODEL_CARD.md.
DEFAULT_MODEL_NAME = "yolov3_tiny_person.onnx"


def models_dir() -> Path:
    """The repository's ``models/`` folder (next to the package in a source checkout / editable install)."""
    return Path(__file__).resolve().parents[2] / "models"


def default_model_path() -> Path:
    path = models_dir() / DEFAULT_MODEL_NAME
    if not path.is_file():
        raise ModelError(f"shipped default model not found at {path} (is this a full source checkout?)")
    return path


def _tensorrt_usable() -> bool:
    try:
        from drone_perception.detect.tensorrt_backend import tensorrt_available
    except ImportError:  # pragma: no cover
        return False
    return tensorrt_available()


def load_detector(config: DetectorConfig | None = None) -> Detector:
    """Build the configured detector. ``model_path=None`` = the shipped default.

    ``backend``: "onnxruntime" (CPU, plus CUDA/TensorRT execution providers if installed), "tensorrt"
    (native engine; ``ModelError`` when TensorRT is missing) or "auto" (TensorRT when usable, else
    ONNX Runtime). A ``.engine``/``.plan`` file implies TensorRT.
    """
    cfg = config if config is not None else DetectorConfig.model_validate({})
    path = Path(cfg.model_path) if cfg.model_path else default_model_path()
    params = DetectorParams(confidence_threshold=cfg.confidence_threshold, nms_iou=cfg.nms_iou)
    use_trt = cfg.backend == "tensorrt" or path.suffix in (".engine", ".plan") or (
        cfg.backend == "auto" and _tensorrt_usable()
    )
    if use_trt:
        from drone_perception.detect.tensorrt_backend import TensorRTDetector

        return TensorRTDetector(path, params)
    from drone_perception.detect.onnx_backend import OnnxRuntimeDetector

    return OnnxRuntimeDetector(path, params, threads=cfg.threads)
