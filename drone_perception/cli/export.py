"""``drone-perception export``: user YOLO weights (.pt) -> ONNX (ultralytics, the ``export`` extra), or
ONNX -> TensorRT engine (``--engine``). Both tools are imported lazily, only here."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import cv2

from drone_perception.errors import ModelError

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("export", help="export .pt weights to ONNX, or build a TensorRT engine",
                              description=__doc__)
    p.add_argument("model", type=Path, help="WEIGHTS.pt (ultralytics) or MODEL.onnx (with --engine)")
    p.add_argument("--engine", action="store_true", help="build a TensorRT engine from an ONNX file")
    p.add_argument("--precision", default="fp16", choices=("fp32", "fp16", "int8"))
    p.add_argument("--calib", type=Path, default=None, help="directory of calibration images (int8)")
    p.add_argument("--imgsz", type=int, default=640, help="ONNX export input size in px (multiple of 32)")
    p.add_argument("--cache-dir", type=Path, default=None, help="engine cache (default ~/.cache/...)")
    p.set_defaults(func=run)


def export_onnx(weights: Path, imgsz: int) -> Path:
    """Export ultralytics weights to an ONNX whose metadata carries names + imgsz (NMS stays outside)."""
    if not weights.is_file():
        raise ModelError(f"weights file not found: {weights}")
    if imgsz % 32 or not 32 <= imgsz <= 4096:
        raise ModelError(f"imgsz = {imgsz}: must be a multiple of 32 in [32, 4096]")
    try:
        from ultralytics import YOLO
    except ImportError:
        raise ModelError("exporting .pt weights needs the 'export' extra: "
                         "pip install 'drone-perception[export]' (ultralytics + torch, offline)") from None
    out = YOLO(str(weights)).export(format="onnx", imgsz=imgsz, dynamic=False, simplify=False, nms=False)
    return Path(str(out))


def run(args: argparse.Namespace) -> int:
    path: Path = args.model
    if args.engine:
        if path.suffix.lower() != ".onnx":
            raise ModelError(f"--engine needs an .onnx file, got {path}")
        from drone_perception.detect.tensorrt_backend import build_engine

        calib = []
        if args.precision == "int8":
            if args.calib is None or not args.calib.is_dir():
                raise ModelError("--precision int8 needs --calib DIR with representative images")
            for f in sorted(args.calib.iterdir())[:500]:
                img = cv2.imread(str(f))
                if img is not None:
                    calib.append(img)
        out = build_engine(path, args.precision, cache_dir=args.cache_dir, calibration_images=calib)
    else:
        if path.suffix.lower() != ".pt":
            raise ModelError(f"expected ultralytics weights (.pt), got {path}; for ONNX -> TensorRT add --engine")
        out = export_onnx(path, args.imgsz)
    sys.stdout.write(f"{out}\n")
    return 0
