"""``drone-perception track --mot det.txt --out result.txt``: run the tracker on MOTChallenge detections.

Image-only tracking (MOT files carry no camera pose). The output is a MOTChallenge result file that the
standard tools (py-motmetrics, TrackEval) score against ``gt.txt``.
"""

from __future__ import annotations

import argparse
import configparser
import logging
from pathlib import Path

import numpy as np

from drone_perception.config.perception import TrackerConfig
from drone_perception.errors import ConfigError
from drone_perception.track.bytetrack import ByteTracker
from drone_perception.track.mot import MotDetections, read_detections, result_lines

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("track", help="track people in MOTChallenge detections (det.txt -> results)")
    p.add_argument("--mot", required=True, type=Path, help="MOTChallenge det.txt")
    p.add_argument("--out", required=True, type=Path, help="result file to write")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate of the sequence (default: frameRate of ../seqinfo.ini beside det/, else 30)")
    p.add_argument("--score-scale", type=float, default=1.0,
                   help="divide detection scores by this (clipped to [0, 1]) so the 0-1 thresholds fit detectors "
                   "on another scale (MOT15 public ACF: 100)")
    p.add_argument("--high-threshold", type=float, default=None, help="first-stage confidence threshold")
    p.add_argument("--low-threshold", type=float, default=None, help="second-stage confidence threshold")
    p.add_argument("--min-confirm-hits", type=int, default=None, help="hits before a track is reported")
    p.add_argument("--max-lost-s", type=float, default=None, help="seconds a lost track is kept")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    overrides = {
        k: getattr(args, k)
        for k in ("high_threshold", "low_threshold", "min_confirm_hits", "max_lost_s")
        if getattr(args, k) is not None
    }
    fps = args.fps if args.fps is not None else _seqinfo_fps(args.mot)
    if not fps > 0:
        raise ConfigError(f"--fps: must be > 0, got {fps}")
    if not args.score_scale > 0:
        raise ConfigError(f"--score-scale: must be > 0, got {args.score_scale}")
    try:
        config = TrackerConfig.model_validate(overrides)
    except ValueError as exc:
        raise ConfigError(f"tracker options: {exc}") from exc
    dets = read_detections(args.mot)
    if args.score_scale != 1.0:
        conf = np.clip(dets.confidence / np.float32(args.score_scale), 0.0, 1.0).astype(np.float32)
        dets = MotDetections(dets.frame, dets.xyxy_px, conf)
    tracker = ByteTracker(config)
    lines: list[str] = []
    prev_stamp: float | None = None
    for frame, det in dets.frames(fps):
        dt = 0.0 if prev_stamp is None else det.stamp_s - prev_stamp
        prev_stamp = det.stamp_s
        lines += result_lines(frame, tracker.update(det, None, dt))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    log.info("tracked %d frames, %d result lines -> %s", dets.last_frame, len(lines), args.out)
    return 0


def _seqinfo_fps(det_path: Path) -> float:
    """frameRate of a MOTChallenge ``SEQ/seqinfo.ini`` when ``det_path`` is ``SEQ/det/det.txt``, else 30."""
    ini = det_path.resolve().parent.parent / "seqinfo.ini"
    if ini.is_file():
        cp = configparser.ConfigParser()
        try:
            cp.read(ini, encoding="utf-8")
            if cp.has_option("Sequence", "frameRate"):
                fps = float(cp["Sequence"]["frameRate"])
                log.info("frame rate %g from %s", fps, ini)
                return fps
        except (configparser.Error, ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{ini}: cannot read its frameRate ({exc}); pass --fps") from None
    return 30.0
