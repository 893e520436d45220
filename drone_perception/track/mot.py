"""MOTChallenge text files: read detections (``det.txt``), write tracking results.

Format (one box per line, comma separated, frames 1-based, boxes top-left x, y, width, height in pixels):
``frame, id, bb_left, bb_top, bb_width, bb_height, conf, x, y, z`` (detections carry id -1; x, y, z are -1
in 2-D challenges). Confidences are passed through unchanged: some public detection sets (MOT17 DPM) are
not in [0, 1], so choose the tracker thresholds to match the detector.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drone_perception.errors import InvalidValueError, SourceError
from drone_perception.types import Detections, Tracks, TrackState

log = logging.getLogger(__name__)

#: Class id given to MOTChallenge detections (they are all pedestrians).
PERSON_CLASS_ID = 0


@dataclass(frozen=True)
class MotDetections:
    """All detections of one file. ``frame`` (M,) 1-based frame numbers, ``xyxy_px`` (M, 4), ``confidence``."""

    frame: np.ndarray
    xyxy_px: np.ndarray
    confidence: np.ndarray

    @property
    def last_frame(self) -> int:
        return int(self.frame.max()) if self.frame.size else 0

    def frames(self, fps: float, first_frame: int = 1) -> Iterator[tuple[int, Detections]]:
        """Every frame from ``first_frame`` to the last one (frames without detections give empty
        ``Detections``), stamped ``(frame - 1) / fps`` seconds."""
        if not fps > 0:
            raise InvalidValueError(f"fps: must be > 0, got {fps!r}")
        order = np.argsort(self.frame, kind="stable")
        fr, xy, cf = self.frame[order], self.xyxy_px[order], self.confidence[order]
        starts = np.searchsorted(fr, np.arange(first_frame, self.last_frame + 2))
        for k, f in enumerate(range(first_frame, self.last_frame + 1)):
            a, b = starts[k], starts[k + 1]
            stamp = (f - 1) / fps
            yield f, Detections(xy[a:b], cf[a:b], np.full(b - a, PERSON_CLASS_ID, np.int32), stamp)


def read_detections(path: str | Path) -> MotDetections:
    """Parse a MOTChallenge ``det.txt``. Raises ``SourceError`` for a missing file and ``InvalidValueError``
    naming the line for a malformed one (fewer than 7 fields, non-numbers, negative size, frame < 1)."""
    p = Path(path)
    if not p.is_file():
        raise SourceError(f"MOT detection file not found: {p}")
    rows: list[tuple[float, ...]] = []
    try:
        _parse_rows(p, rows)
    except UnicodeDecodeError as exc:
        raise InvalidValueError(f"{p} is not a text file (byte {exc.start} is not UTF-8): expected MOTChallenge "
                                "det.txt lines 'frame,id,x,y,w,h,conf,...'") from None
    return _as_detections(rows)


def _parse_rows(p: Path, rows: list[tuple[float, ...]]) -> None:
    with p.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            parts = [s for s in text.replace(" ", "").split(",") if s != ""]
            if len(parts) < 7:
                raise InvalidValueError(f"{p}:{lineno}: expected >= 7 comma-separated fields, got {len(parts)}")
            try:
                vals = tuple(float(s) for s in parts[:7])
            except ValueError as exc:
                raise InvalidValueError(f"{p}:{lineno}: not a number: {exc}") from exc
            if not np.all(np.isfinite(vals)):
                raise InvalidValueError(f"{p}:{lineno}: NaN or infinite value")
            if vals[0] < 1 or vals[0] != int(vals[0]):
                raise InvalidValueError(f"{p}:{lineno}: frame must be an integer >= 1, got {parts[0]}")
            if vals[4] < 0 or vals[5] < 0:
                raise InvalidValueError(f"{p}:{lineno}: box width/height must be >= 0, got {vals[4]}, {vals[5]}")
            rows.append(vals)


def _as_detections(rows: list[tuple[float, ...]]) -> MotDetections:
    if not rows:
        return MotDetections(np.zeros(0, np.int64), np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
    a = np.asarray(rows, dtype=np.float64)
    xyxy = np.column_stack([a[:, 2], a[:, 3], a[:, 2] + a[:, 4], a[:, 3] + a[:, 5]])
    return MotDetections(a[:, 0].astype(np.int64), xyxy.astype(np.float32), a[:, 6].astype(np.float32))


def result_lines(frame: int, tracks: Tracks, *, confirmed_only: bool = True) -> list[str]:
    """MOTChallenge result lines for one frame. By default only confirmed tracks matched in this frame
    (LOST tracks are predictions, not observations; tentative ones may be clutter)."""
    keep = tracks.state == TrackState.CONFIRMED
    if not confirmed_only:
        keep = keep | (tracks.state == TrackState.TENTATIVE)
    conf = tracks.confidence if tracks.confidence is not None else np.ones(len(tracks), np.float32)
    out = []
    for i in np.flatnonzero(keep):
        x1, y1, x2, y2 = (float(v) for v in tracks.xyxy_px[i])
        out.append(f"{frame},{int(tracks.track_id[i])},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},"
                   f"{float(conf[i]):.4f},-1,-1,-1")
    return out


def write_detections(path: str | Path, frames: list[tuple[int, Detections]]) -> None:
    """Write detections as a MOTChallenge ``det.txt`` (id -1); used by tests and the bench."""
    with Path(path).open("w", encoding="utf-8") as fh:
        for f, det in frames:
            for (x1, y1, x2, y2), c in zip(det.xyxy_px.tolist(), det.confidence.tolist()):
                fh.write(f"{f},-1,{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{c:.4f},-1,-1,-1\n")
