"""Backend-independent detector pipeline: letterbox -> run the network -> decode -> NMS -> frame pixels.

A backend supplies ``run(tensor) -> list of output arrays`` (in ``spec.output_names`` order); this
module does everything else, identically for ONNX Runtime and TensorRT.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from drone_perception.detect.model_spec import ModelSpec
from drone_perception.detect.postprocess import (
    decode_darknet_yolo,
    decode_tf_ssd,
    decode_ultralytics,
    decode_yolox,
    nms,
)
from drone_perception.detect.preprocess import (
    Letterbox,
    check_image,
    letterbox,
    letterbox_bgr255_topleft,
    letterbox_uint8_nhwc,
)
from drone_perception.errors import InvalidValueError
from drone_perception.types import Detections, Frame

#: Class id written into ``Detections.class_id`` for people (COCO id 0), whatever the model's own id.
PERSON_CLASS_ID = 0

Runner = Callable[[np.ndarray], Sequence[np.ndarray]]


@dataclass(frozen=True)
class DetectTiming:
    """Wall-clock seconds of the three stages of the last ``detect`` call."""

    preprocess_s: float
    inference_s: float
    postprocess_s: float


@dataclass(frozen=True)
class DetectorParams:
    """``confidence_threshold`` in [0, 1]: raise for fewer false alarms, lower for more recall.
    ``nms_iou`` in (0, 1]: boxes overlapping more than this are merged. ``max_det``: cap per frame."""

    confidence_threshold: float = 0.35
    nms_iou: float = 0.5
    max_det: int = 300

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence_threshold <= 1.0:
            raise InvalidValueError(f"confidence_threshold = {self.confidence_threshold}: allowed [0, 1]")
        if not 0.0 < self.nms_iou <= 1.0:
            raise InvalidValueError(f"nms_iou = {self.nms_iou}: allowed (0, 1]")
        if self.max_det < 1:
            raise InvalidValueError(f"max_det = {self.max_det}: must be >= 1")


class DetectorCore:
    """Runs one model described by ``spec`` through ``runner``. Not thread-safe (keeps ``last_timing``)."""

    def __init__(self, spec: ModelSpec, runner: Runner, params: DetectorParams) -> None:
        self.spec = spec
        self.params = params
        self._run = runner
        self.last_timing: DetectTiming | None = None

    def preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        if self.spec.layout == "nhwc_uint8":
            return letterbox_uint8_nhwc(image_bgr, self.spec.input_wh_px)
        if self.spec.layout == "nchw_bgr255":
            return letterbox_bgr255_topleft(image_bgr, self.spec.input_wh_px, self.spec.pad_value)
        return letterbox(image_bgr, self.spec.input_wh_px, self.spec.pad_value)

    def decode(self, outputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        thr = self.params.confidence_threshold
        s = self.spec
        if s.kind == "darknet-yolo":
            return decode_darknet_yolo(outputs, s.heads, thr)
        if s.kind == "ultralytics":
            return decode_ultralytics(outputs[0], s.person_class, thr)
        if s.kind == "yolox":
            return decode_yolox(outputs[0], s.input_wh_px, s.strides, s.person_class, thr)
        named = dict(zip(s.output_names, outputs))
        return decode_tf_ssd(named["detection_boxes:0"], named["detection_scores:0"],
                             named["detection_classes:0"], s.person_class, s.input_wh_px, thr)

    def detect_image(self, image_bgr: np.ndarray, stamp_s: float = 0.0) -> Detections:
        """Detect people in a BGR uint8 image; boxes in that image's pixels. The image is not modified."""
        t0 = time.perf_counter()
        tensor, lb = self.preprocess(check_image(image_bgr))
        t1 = time.perf_counter()
        outputs = self._run(tensor)
        t2 = time.perf_counter()
        xyxy_in, score = self.decode(outputs)
        if xyxy_in.shape[0] == 0:
            det = Detections.empty(stamp_s)
        else:
            keep = nms(xyxy_in, score, self.params.nms_iou, self.params.max_det)
            xyxy = lb.to_image_px(xyxy_in[keep])
            ok = (xyxy[:, 2] - xyxy[:, 0] >= 1.0) & (xyxy[:, 3] - xyxy[:, 1] >= 1.0)
            det = Detections(xyxy[ok], score[keep][ok], np.full(int(ok.sum()), PERSON_CLASS_ID, np.int32), stamp_s)
        self.last_timing = DetectTiming(t1 - t0, t2 - t1, time.perf_counter() - t2)
        return det

    def detect(self, frame: Frame) -> Detections:
        """:class:`~drone_perception.interfaces.Detector` entry point: boxes in frame pixels, ``xyxy_px``."""
        if not isinstance(frame, Frame):
            raise InvalidValueError(f"frame: expected a Frame, got {type(frame).__name__}")
        return self.detect_image(frame.image, frame.stamp_s)
