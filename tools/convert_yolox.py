"""Convert a YOLOX ONNX export (Megvii YOLOX demo layout: BGR 0-255 input, output [1, N, 5 + 80] with raw grid
offsets) into the stack's shipped detector: re-target the input to W x H (the network is fully convolutional:
only the input shape and the Reshape constants that carry the feature-map size change; the weights are
untouched) and add the metadata the loader reads (``dp_format=yolox``, ``names``, ``dp_strides``).

    python tools/convert_yolox.py yolox_nano.onnx models/yolox_nano_person_960x544.onnx --base 416 --wh 960 544

Needs only ``onnx`` (a dev dependency), not torch. Deterministic: the same input gives the same bytes.
Source of the shipped model: see models/MODEL_CARD.md.
"""

from __future__ import annotations

import argparse

import numpy as np
import onnx
from onnx import numpy_helper

COCO = ["person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
        "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
        "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
        "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
        "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
        "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
        "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
        "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
        "scissors", "teddy bear", "hair drier", "toothbrush"]
STRIDES = (8, 16, 32)


def convert(src: str, dst: str, base: int, w: int, h: int) -> None:
    if w % 32 or h % 32:
        raise SystemExit(f"--wh {w} {h}: both must be multiples of 32")
    m = onnx.load(src)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    fmap = {base // s: s for s in STRIDES}

    def fix(arr: np.ndarray) -> np.ndarray:
        a = arr.copy()
        if a.ndim == 1 and a.size >= 4 and int(a[-1]) in fmap and int(a[-2]) == int(a[-1]):
            s = fmap[int(a[-1])]
            a[-2], a[-1] = h // s, w // s
        return a

    for n in g.node:
        if n.op_type != "Reshape":
            continue
        name = n.input[1]
        if name in inits:
            inits[name].CopyFrom(numpy_helper.from_array(fix(numpy_helper.to_array(inits[name])), name))
        else:
            for c in g.node:
                if c.op_type == "Constant" and c.output[0] == name:
                    c.attribute[0].t.CopyFrom(numpy_helper.from_array(fix(numpy_helper.to_array(c.attribute[0].t)),
                                                                      ""))
    # Old exporters list initializers as graph inputs too; that blocks ONNX Runtime's constant folding.
    kept = [onnx.ValueInfoProto.FromString(i.SerializeToString()) for i in g.input if i.name not in inits]
    del g.input[:]
    g.input.extend(kept)
    dims = g.input[0].type.tensor_type.shape.dim
    dims[2].dim_value, dims[3].dim_value = h, w
    del g.value_info[:]
    for o in g.output:
        for d in o.type.tensor_type.shape.dim:
            d.Clear()
            d.dim_param = "n"
    m = onnx.shape_inference.infer_shapes(m)
    del m.metadata_props[:]
    for key, value in (("dp_format", "yolox"), ("names", repr(dict(enumerate(COCO)))),
                       ("dp_strides", ",".join(map(str, STRIDES))), ("imgsz", f"[{h}, {w}]"),
                       ("dp_source", "Megvii YOLOX-nano (Apache-2.0), via Kazuhito00/YOLOX-ONNX-TFLite-Sample "
                                     "model/yolox_nano.onnx")):
        p = m.metadata_props.add()
        p.key, p.value = key, value
    onnx.checker.check_model(m)
    onnx.save(m, dst)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--base", type=int, default=416, help="input size the export was made for")
    ap.add_argument("--wh", type=int, nargs=2, default=(960, 544), metavar=("W", "H"))
    a = ap.parse_args()
    convert(a.src, a.dst, a.base, a.wh[0], a.wh[1])


if __name__ == "__main__":
    main()
