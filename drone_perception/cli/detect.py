"""``drone-perception detect IMAGE|VIDEO|DIR --out DIR``: annotated images/video + ``detections.json``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drone_perception.errors import InvalidValueError, SourceError
from drone_perception.types import Detections

log = logging.getLogger(__name__)
IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXT = {".mp4", ".avi", ".mov", ".mkv", ".webm"}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("detect", help="detect people in an image, a video or a folder of images",
                              description=__doc__)
    p.add_argument("input", type=Path, help="image, video or directory of images")
    p.add_argument("--out", type=Path, required=True, help="output directory (created)")
    p.add_argument("--model", default=None, help="ONNX/engine file (default: the shipped YOLOX-nano 960x544)")
    p.add_argument("--backend", default="onnxruntime", choices=("onnxruntime", "tensorrt", "auto"))
    p.add_argument("--conf", type=float, default=0.35, help="confidence threshold in [0, 1]")
    p.add_argument("--tiles", default="0x0",
                   help="extra tiles COLSxROWS for people under ~60 px, e.g. 2x2 (each tile is one more network "
                   "pass); 0x0 = full frame only, the in-flight policy (models/MODEL_CARD.md)")
    p.add_argument("--threads", type=int, default=0, help="inference threads (0 = runtime default)")
    p.add_argument("--max-frames", type=int, default=0, help="stop a video after this many frames (0 = all)")
    p.set_defaults(func=run)


def _draw(image: np.ndarray, det: Detections) -> np.ndarray:
    out = image.copy()
    for (x1, y1, x2, y2), c in zip(det.xyxy_px.round().astype(int), det.confidence):
        cv2.rectangle(out, (int(x1), int(y1)), (int(x2), int(y2)), (0, 200, 255), 2)
        cv2.putText(out, f"person {c:.2f}", (int(x1), max(12, int(y1) - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 200, 255), 1, cv2.LINE_AA)
    return out


def _record(source: str, index: int, det: Detections) -> dict[str, Any]:
    return {"source": source, "frame": index, "stamp_s": det.stamp_s,
            "detections": [{"xyxy_px": [round(float(v), 1) for v in b], "confidence": round(float(c), 4)}
                           for b, c in zip(det.xyxy_px, det.confidence)]}


def _images(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield from sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXT)
    else:
        yield path


def _parse_tiles(text: str) -> tuple[int, int]:
    try:
        cols, rows = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InvalidValueError(f"--tiles = {text!r}: expected COLSxROWS such as 3x2 (0x0 = off)") from None
    return cols, rows


def run(args: argparse.Namespace) -> int:
    from drone_perception.config.perception import DetectorConfig
    from drone_perception.detect.factory import default_model_path, load_detector
    from drone_perception.detect.tiling import RoiTilingDetector, TilingConfig
    from drone_perception.record.header import file_sha256
    from drone_perception.types import CameraIntrinsics, CameraModel, Frame

    src: Path = args.input
    if not src.exists():
        raise SourceError(f"input not found: {src}")
    cfg = DetectorConfig(model_path=args.model, backend=args.backend, confidence_threshold=args.conf,
                         nms_iou=0.5, threads=args.threads)
    base = load_detector(cfg)
    tiled = RoiTilingDetector(base, TilingConfig(tile_grid=_parse_tiles(args.tiles)))  # type: ignore[arg-type]
    args.out.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    t0 = time.monotonic()

    def detect(image: np.ndarray, stamp_s: float, seq: int) -> Detections:
        h, w = image.shape[:2]
        cam = CameraModel(CameraIntrinsics.from_hfov(1.2, (w, h)), np.eye(3), np.zeros(3))
        return tiled.detect(Frame(image=image, stamp_s=stamp_s, seq=seq, camera=cam))

    if src.is_file() and src.suffix.lower() in VIDEO_EXT:
        cap = cv2.VideoCapture(str(src))
        if not cap.isOpened():
            raise SourceError(f"cannot open video {src}")
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if args.max_frames:
            total = min(total, args.max_frames) if total else args.max_frames
        writer = None
        i = 0
        try:
            while not args.max_frames or i < args.max_frames:
                ok, image = cap.read()
                if not ok or image is None:
                    break  # the video ended: a clean stop
                det = detect(image, i / fps, i)
                if writer is None:
                    h, w = image.shape[:2]
                    writer = cv2.VideoWriter(str(args.out / (src.stem + "_detections.mp4")),
                                             cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
                writer.write(_draw(image, det))
                records.append(_record(src.name, i, det))
                i += 1
                if i % PROGRESS_EVERY == 0:
                    _progress(f"{i}/{total or '?'} frames", t0)
        finally:
            cap.release()
            if writer is not None:
                writer.release()
    else:
        files = list(_images(src))
        if not files:
            raise SourceError(f"no images ({', '.join(sorted(IMAGE_EXT))}) in {src}")
        for i, f in enumerate(files):
            still = cv2.imread(str(f))
            if still is None:
                if len(files) == 1:
                    raise SourceError(f"cannot decode image {f} (corrupt or not an image)")
                log.warning("skipping %s: cannot decode (corrupt or not an image)", f)
                records.append({"source": f.name, "frame": i, "error": "cannot decode image"})
                continue
            det = detect(still, 0.0, i)
            cv2.imwrite(str(args.out / (f.stem + "_detections.jpg")), _draw(still, det))
            records.append(_record(f.name, i, det))
            if (i + 1) % PROGRESS_EVERY == 0:
                _progress(f"{i + 1}/{len(files)} images", t0)
    model = Path(args.model) if args.model else default_model_path()
    model_sha = file_sha256(model)
    out_json = args.out / "detections.json"
    out_json.write_text(json.dumps(
        {"schema": "drone-perception/detections/1", "input": str(src),
         "model": {"path": str(model), "sha256": model_sha, "backend": args.backend},
         "confidence_threshold": args.conf, "tiles": args.tiles, "frames": records}, indent=1) + "\n")
    n = sum(len(r.get("detections", [])) for r in records)
    bad = sum("error" in r for r in records)
    print(f"detect: {len(records)} frame(s), {n} detection(s)" + (f", {bad} undecodable" if bad else "")
          + f" in {time.monotonic() - t0:.1f} s; model {model.name} (sha256 {model_sha[:12]}); "
          f"output: {out_json}")
    return 0


#: A progress line on stderr every this many frames.
PROGRESS_EVERY = 25


def _progress(text: str, t0: float) -> None:
    print(f"detect: {text} ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)

