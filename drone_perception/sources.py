"""Frame sources at the edge: a camera device, a video file, an image or a directory of images.

Each source yields uint8 BGR images with a monotonic stamp. A corrupt frame raises ``SourceError``; the end of
a finite source raises ``SourceExhausted`` (a clean stop, not a fault). Every read takes ``timeout_s``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from drone_perception.errors import SourceError, SourceExhausted

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v"})


@dataclass(frozen=True)
class RawFrame:
    """An image as read, before the stack attaches a camera pose. ``name`` identifies it for outputs."""

    image: np.ndarray
    stamp_s: float
    seq: int
    name: str


def _check_image(img: object, where: str) -> np.ndarray:
    if not isinstance(img, np.ndarray) or img.size == 0:
        raise SourceError(f"{where}: empty or unreadable frame")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise SourceError(f"{where}: unsupported frame {img.dtype} {img.shape}; expected 8-bit colour")
    return img


class _Source:
    """Iterating a source yields frames until it is exhausted (a clean stop); other errors propagate."""

    def read(self, timeout_s: float = 2.0) -> RawFrame:
        raise NotImplementedError

    def __iter__(self) -> Iterator[RawFrame]:
        while True:
            try:
                yield self.read()
            except SourceExhausted:
                return


class ImageSource(_Source):
    """One image file or every image in a directory (sorted by name)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        p = Path(path)
        if p.is_dir():
            self.paths = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
            if not self.paths:
                raise SourceError(f"{p}: directory holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        elif p.is_file():
            self.paths = [p]
        else:
            raise SourceError(f"{p}: no such file or directory")
        self._clock = clock
        self._i = 0

    def read(self, timeout_s: float = 5.0) -> RawFrame:
        del timeout_s  # local files: reading is bounded by the file size
        if self._i >= len(self.paths):
            raise SourceExhausted("no more images")
        path = self.paths[self._i]
        self._i += 1
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        return RawFrame(_check_image(img, str(path)), self._clock(), self._i - 1, path.name)

    def close(self) -> None:
        return None


class VideoSource(_Source):
    """A video file or a camera device (an integer index or a GStreamer/RTSP URL)."""

    def __init__(self, spec: str | int | Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        is_device = isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit())
        if not is_device and isinstance(spec, (str, Path)) and "://" not in str(spec) and not Path(spec).exists():
            raise SourceError(f"{spec}: no such video file")
        self._cap = cv2.VideoCapture(int(str(spec)) if is_device else str(spec))
        if not self._cap.isOpened():
            raise SourceError(f"{spec}: cannot open video source")
        self.is_file = not is_device and "://" not in str(spec)
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._clock = clock
        self._seq = 0

    def read(self, timeout_s: float = 2.0) -> RawFrame:
        deadline = self._clock() + timeout_s
        while True:
            ok, img = self._cap.read()
            if ok:
                break
            if self.is_file:
                raise SourceExhausted(f"{self.spec}: end of video after {self._seq} frames")
            if self._clock() >= deadline:
                raise SourceError(f"{self.spec}: no frame within {timeout_s:.1f} s")
            time.sleep(0.005)
        self._seq += 1
        return RawFrame(_check_image(img, f"{self.spec} frame {self._seq - 1}"), self._clock(), self._seq - 1,
                        f"frame_{self._seq - 1:06d}")

    def close(self) -> None:
        self._cap.release()


def open_source(spec: str | Path) -> ImageSource | VideoSource:
    """Pick the source type from ``spec``: a directory or image -> images; a number/URL/video -> video."""
    s = str(spec)
    p = Path(s)
    if p.is_dir() or p.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(p)
    return VideoSource(s)
