"""Person detection: ONNX Runtime / TensorRT backends behind the ``Detector`` protocol.

Use :func:`load_detector` (``model_path=None`` = the shipped YOLOX-nano 960x544, see ``models/MODEL_CARD.md``)
and :class:`RoiTilingDetector` for small people (full frame + crops around predicted people).
"""

from drone_perception.detect.core import DetectorParams, DetectTiming
from drone_perception.detect.factory import default_model_path, load_detector
from drone_perception.detect.tiling import RoiTilingDetector, TilingConfig

__all__ = ["DetectTiming", "DetectorParams", "RoiTilingDetector", "TilingConfig", "default_model_path",
           "load_detector"]
