"""Issue 11 item 1: person recall and precision by height on the elevated video that ``make testdata`` fetches.

The frames are OpenCV's ``samples/data/vtest.avi`` (from the opencv-python sdist; ``tests/data/DATA_CARD.md``),
the boxes ``tests/data/vtest_labels.json`` (8 frames, 46 people plus 4 "partial"). The protocol is that of
``tools/eval_mot17_mini.py`` (whose ``FrameGT``/``summarize`` this imports): greedy matching by score at IoU >= 0.5,
recall binned by true box height, precision by detection box height; a "partial" person is don't-care. Each
detector runs through the stack's own code (``load_detector`` and ``RoiTilingDetector``) at its operating score.

    .venv/bin/python tools/eval_vtest.py --out models/vtest_recall.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from eval_mot17_mini import FrameGT, summarize  # noqa: E402

from drone_perception.config.perception import DetectorConfig  # noqa: E402
from drone_perception.detect import RoiTilingDetector, TilingConfig, load_detector  # noqa: E402
from drone_perception.detect.factory import models_dir  # noqa: E402

DATA = ROOT / "tests" / "data"
VIDEO = DATA / ".cache" / "vtest.avi"
LABELS = DATA / "vtest_labels.json"


def load_frames(video: Path = VIDEO, labels: Path = LABELS) -> tuple[list[np.ndarray], list[FrameGT]]:
    """The labelled frames (BGR) and their ground truth, in label order. ``FileNotFoundError`` when the video is
    not fetched (``make testdata``), ``ValueError`` when a labelled frame does not decode."""
    if not video.is_file():
        raise FileNotFoundError(f"{video}: not fetched; run `make testdata`")
    spec = json.loads(labels.read_text())
    wanted = {int(k): v for k, v in spec["frames"].items()}
    cap = cv2.VideoCapture(str(video))
    images: dict[int, np.ndarray] = {}
    i = 0
    while len(images) < len(wanted):
        ok, img = cap.read()
        if not ok:
            break
        if i in wanted:
            images[i] = img
        i += 1
    cap.release()
    missing = sorted(set(wanted) - set(images))
    if missing:
        raise ValueError(f"{video}: frames {missing} do not decode (the video has {i} frames)")
    frames, gts = [], []
    for k in sorted(wanted):
        img = images[k]
        if [img.shape[1], img.shape[0]] != spec["size_wh_px"]:
            raise ValueError(f"{video}: frame {k} is {img.shape[1]}x{img.shape[0]}, "
                             f"the labels are for {spec['size_wh_px']}")
        pos = np.array([p["xyxy_px"] for p in wanted[k] if not p["partial"]], np.float64).reshape(-1, 4)
        ign = np.array([p["xyxy_px"] for p in wanted[k] if p["partial"]], np.float64).reshape(-1, 4)
        frames.append(img)
        gts.append(FrameGT("vtest", video, pos, ign))
    return frames, gts


class _Tiled:
    def __init__(self, base, grid: tuple[int, int]) -> None:
        self.t = RoiTilingDetector(base, TilingConfig(tile_grid=grid))

    def detect_image(self, image_bgr: np.ndarray, stamp_s: float = 0.0):
        return self.t.detect(SimpleNamespace(image=image_bgr, stamp_s=stamp_s))  # type: ignore[arg-type]


def candidates() -> dict[str, object]:
    """The shipped default at its operating score (the in-flight policy: full frame), the opt-in long-range
    policy, and the older shipped models at the score the real-photo test uses."""
    default = load_detector()
    return {
        "yolox-nano full (default)": default,
        "yolox-nano full + tiles 2x2": _Tiled(default, (2, 2)),
        "yolov3-tiny full": load_detector(DetectorConfig(model_path=str(models_dir() / "yolov3_tiny_person.onnx"),
                                                         confidence_threshold=0.3)),
        "ssdlite full": load_detector(DetectorConfig(
            model_path=str(models_dir() / "ssdlite_mobilenet_v2_person.onnx"), confidence_threshold=0.3)),
    }


def evaluate(detector, frames: list[np.ndarray], gts: list[FrameGT], thr: float) -> dict:
    dets = []
    for img in frames:
        d = detector.detect_image(img)
        dets.append((np.asarray(d.xyxy_px, np.float64), np.asarray(d.confidence, np.float64)))
    return summarize(gts, dets, thr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    frames, gts = load_frames()
    res: dict[str, dict] = {}
    for name, det in candidates().items():
        thr = 0.35 if name.startswith("yolox") else 0.3
        res[name] = evaluate(det, frames, gts, thr)
        print(f"{name:30s} {json.dumps(res[name])}")
    n = sum(len(g.pos) for g in gts)
    out = {"data": "vtest.avi, 8 labelled frames (tests/data/vtest_labels.json)", "people": n, "results": res}
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
