"""``load_detector(config)``: the one way the stack gets a :class:`~drone_perception.interfaces.Detector`."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from drone_perception.config.perception import DetectorConfig
from drone_perception.detect.core import DetectorParams
from drone_perception.errors import ModelError
from drone_perception.interfaces import Detector

log = logging.getLogger(__name__)

#: Shipped default (YOLOX-nano re-targeted to 960x544, TensorRT-friendly); see models/MODEL_CARD.md.
DEFAULT_MODEL_NAME = "yolox_nano_person_960x544.onnx"


#: Environment variable naming a folder that holds the shipped models (searched first).
MODELS_ENV = "DRONE_PERCEPTION_MODELS"


def models_dirs() -> list[Path]:
    """Where the shipped models are looked for, in order: ``$DRONE_PERCEPTION_MODELS``; the repository's
    ``models/`` (a source checkout or editable install); ``<prefix>/share/drone-perception/models`` (a wheel
    install puts them there)."""
    out = [Path(os.environ[MODELS_ENV])] if os.environ.get(MODELS_ENV) else []
    out.append(Path(__file__).resolve().parents[2] / "models")
    out += [Path(p) / "share" / "drone-perception" / "models" for p in dict.fromkeys((sys.prefix, sys.base_prefix))]
    return out


def models_dir() -> Path:
    """The folder of the shipped models in use: the first of :func:`models_dirs` holding the default model."""
    return default_model_path().parent


def default_model_path() -> Path:
    dirs = models_dirs()
    for d in dirs:
        if (d / DEFAULT_MODEL_NAME).is_file():
            return d / DEFAULT_MODEL_NAME
    raise ModelError(f"shipped default model {DEFAULT_MODEL_NAME} not found in {', '.join(map(str, dirs))}; "
                     f"set {MODELS_ENV} to the folder that holds it, or give detector.model_path")


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
