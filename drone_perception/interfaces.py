"""Protocols between the pure cores and the shells. The pipeline depends on these, not on backends."""

from __future__ import annotations

from typing import Any, Protocol

from drone_perception.types import CameraModel, Detections, Frame, Tracks


class Detector(Protocol):
    """Finds people in a frame. Must raise ``ModelError``/``InvalidValueError`` on bad input, never
    return garbage; must not mutate the frame."""

    def detect(self, frame: Frame) -> Detections: ...


class Tracker(Protocol):
    def update(self, detections: Detections, camera: CameraModel | None, dt_s: float) -> Tracks: ...

    def reset(self) -> None: ...


class Recorder(Protocol):
    """Append-only flight record. ``message`` is a value type or a JSON-compatible dict."""

    def record(self, topic: str, stamp_s: float, message: Any) -> None: ...

    def close(self) -> None: ...


class NullRecorder:
    """Records nothing (for benchmarks of the bare loop)."""

    def record(self, topic: str, stamp_s: float, message: Any) -> None:
        return None

    def close(self) -> None:
        return None
