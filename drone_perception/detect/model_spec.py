"""What a detector model expects and emits, read from its ONNX inputs/outputs and ``metadata_props``.

Three layouts are understood (``ModelSpec.kind``):

* ``darknet-yolo`` -- our converted yolov3-tiny (``models/``): raw person-only heads, anchors in the
  ``dp_heads`` metadata;
* ``ultralytics`` -- any ultralytics-exported YOLOv8/11 detect ONNX: output [1, 4 + nc, anchors]
  (or end-to-end [1, N, 6]); class names from ``names`` and input size from ``imgsz`` metadata;
* ``tf-ssd`` -- a TensorFlow Object Detection API SSD (uint8 NHWC input, normalised yxyx boxes);
* ``yolox`` -- a Megvii YOLOX export (the shipped default, ``tools/convert_yolox.py``): BGR 0..255 input placed
  in the top-left corner, output [1, N, 5 + nc] of raw grid offsets over strides 8/16/32, score = objectness x
  class probability. Recognised by ``dp_format=yolox`` metadata, or by that output shape.

The spec is pure data, shared by the ONNX Runtime and TensorRT backends.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from drone_perception.detect.postprocess import YoloHead
from drone_perception.errors import ModelError

Shape = Sequence[int | str | None]


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int | str | None, ...]
    dtype: str  # "float32" or "uint8"


@dataclass(frozen=True)
class ModelSpec:
    """Input layout and output decoding of one detector model.

    ``input_wh_px``: network input (width, height) in pixels. ``layout``: "nchw_float" (RGB in [0, 1]),
    "nhwc_uint8" (RGB 0..255) or "nchw_bgr255" (BGR 0..255, top-left placement). ``pad_value``: letterbox fill
    in [0, 1]. ``strides``: the grid strides of a ``yolox`` output.
    """

    kind: str
    input_name: str
    input_wh_px: tuple[int, int]
    layout: str
    output_names: tuple[str, ...]
    names: Mapping[int, str]
    person_class: int
    pad_value: float
    heads: tuple[YoloHead, ...] = ()
    strides: tuple[int, ...] = ()


def _parse_names(raw: str | None) -> dict[int, str]:
    if not raw:
        return {}
    try:
        value = ast.literal_eval(raw)  # literal_eval only parses literals, never executes code
    except (ValueError, SyntaxError) as exc:
        raise ModelError(f"metadata 'names' is not a dict/list literal: {raw[:80]!r} ({exc})") from None
    if isinstance(value, list):
        value = dict(enumerate(value))
    if not isinstance(value, dict):
        raise ModelError(f"metadata 'names' must be a dict or list, got {type(value).__name__}")
    return {int(k): str(v) for k, v in value.items()}


def _parse_imgsz(raw: str | None) -> tuple[int, int] | None:
    """ultralytics writes ``imgsz`` as "[h, w]" (or a single int)."""
    if not raw:
        return None
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        raise ModelError(f"metadata 'imgsz' is malformed: {raw!r}") from None
    if isinstance(value, int):
        return value, value
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return int(value[1]), int(value[0])
    raise ModelError(f"metadata 'imgsz' must be [h, w] or an int, got {raw!r}")


def _person_class(names: Mapping[int, str], num_classes: int | None) -> int:
    for k, v in names.items():
        if v.strip().lower() == "person":
            return k
    if num_classes == 1 or len(names) == 1:
        return next(iter(names), 0)
    raise ModelError(f"model has no 'person' class (names: {dict(list(names.items())[:10])}...)")


def _looks_like_yolox(outputs: Sequence[TensorInfo], wh: tuple[int, int]) -> bool:
    """One output [1, N, 85] with N the anchor count of strides 8/16/32 at this input: a YOLOX export."""
    if len(outputs) != 1 or len(outputs[0].shape) != 3:
        return False
    _, n, c = outputs[0].shape
    return n == sum((wh[0] // s) * (wh[1] // s) for s in (8, 16, 32)) and c == 85


def _static_hw(shape: Shape, h_axis: int, w_axis: int) -> tuple[int, int] | None:
    h, w = shape[h_axis], shape[w_axis]
    if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
        return w, h
    return None


def spec_from_model(
    inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo], meta: Mapping[str, str]
) -> ModelSpec:
    """Build a :class:`ModelSpec`; raise ``ModelError`` naming the mismatch for any unexpected layout."""
    if len(inputs) != 1:
        raise ModelError(f"expected exactly one model input, got {len(inputs)}: {[i.name for i in inputs]}")
    inp = inputs[0]
    if len(inp.shape) != 4:
        raise ModelError(f"input {inp.name!r}: expected a 4-D image tensor, got shape {list(inp.shape)}")
    batch = inp.shape[0]
    if isinstance(batch, int) and batch != 1:
        raise ModelError(f"input {inp.name!r}: batch must be 1 (or dynamic), got {batch}")
    fmt = meta.get("dp_format")
    names = _parse_names(meta.get("names"))
    imgsz = _parse_imgsz(meta.get("imgsz"))
    out_names = tuple(o.name for o in outputs)
    if fmt == "tf-ssd" or (inp.dtype == "uint8" and inp.shape[3] == 3):
        if inp.shape[3] != 3:
            raise ModelError(f"input {inp.name!r}: expected NHWC with 3 channels, got {list(inp.shape)}")
        wh = _static_hw(inp.shape, 1, 2) or imgsz
        if wh is None:
            raise ModelError(f"input {inp.name!r}: dynamic size and no 'imgsz' metadata")
        need = {"detection_boxes:0", "detection_scores:0", "detection_classes:0"}
        if not need <= set(out_names):
            raise ModelError(f"tf-ssd model: outputs {sorted(need)} required, got {list(out_names)}")
        return ModelSpec("tf-ssd", inp.name, wh, "nhwc_uint8", out_names, names or {1: "person"},
                         _person_class(names or {1: "person"}, None), 0.0)
    if inp.shape[1] != 3:
        raise ModelError(f"input {inp.name!r}: expected NCHW with 3 channels, got shape {list(inp.shape)}")
    if inp.dtype != "float32":
        raise ModelError(f"input {inp.name!r}: expected float32, got {inp.dtype}")
    static = _static_hw(inp.shape, 2, 3)
    if static and imgsz and static != imgsz:
        raise ModelError(f"input {inp.name!r}: shape {list(inp.shape)} disagrees with metadata imgsz {imgsz} (w, h)")
    wh = static or imgsz
    if wh is None:
        raise ModelError(f"input {inp.name!r}: dynamic height/width and no 'imgsz' metadata to fix them")
    if wh[0] % 32 or wh[1] % 32:
        raise ModelError(f"input {inp.name!r}: size {wh} (w, h) must be a multiple of 32")
    if fmt == "yolov3-darknet":
        try:
            heads = tuple(
                YoloHead(h["output"], int(h["stride_px"]), tuple((float(a), float(b)) for a, b in h["anchors_wh_px"]))
                for h in json.loads(meta["dp_heads"])
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelError(f"yolov3-darknet model: bad 'dp_heads' metadata ({exc})") from None
        by_name = {o.name: o for o in outputs}
        for h in heads:
            o = by_name.get(h.output)
            if o is None:
                raise ModelError(f"yolov3-darknet model: head output {h.output!r} missing; have {list(by_name)}")
            want = [1, 6 * len(h.anchors_wh_px), wh[1] // h.stride_px, wh[0] // h.stride_px]
            if list(o.shape) != want:
                raise ModelError(f"output {h.output!r}: expected shape {want}, got {list(o.shape)}")
        return ModelSpec("darknet-yolo", inp.name, wh, "nchw_float", tuple(h.output for h in heads),
                         names or {0: "person"}, 0, float(meta.get("dp_letterbox_pad", 0.5)), heads)
    if fmt == "yolox" or _looks_like_yolox(outputs, wh):
        strides = tuple(int(s) for s in meta.get("dp_strides", "8,16,32").split(","))
        anchors = sum((wh[0] // s) * (wh[1] // s) for s in strides)
        o = outputs[0] if outputs else None
        if o is None or len(o.shape) != 3 or (isinstance(o.shape[1], int) and o.shape[1] != anchors):
            raise ModelError(f"yolox model: expected an output [1, {anchors}, 5 + classes] for input {wh} (w, h), "
                             f"got {[list(x.shape) for x in outputs]}")
        width = o.shape[2]
        n_cls = width - 5 if isinstance(width, int) else None
        coco = names or {0: "person"}
        return ModelSpec("yolox", inp.name, wh, "nchw_bgr255", (o.name,), coco, _person_class(coco, n_cls),
                         114.0 / 255.0, (), strides)
    if len(outputs) < 1 or len(outputs[0].shape) != 3:
        shapes = [list(o.shape) for o in outputs]
        raise ModelError(f"expected an ultralytics detect output [1, 4+nc, anchors]; got outputs {shapes}")
    nc = outputs[0].shape[1]
    num_classes = nc - 4 if isinstance(nc, int) and outputs[0].shape[2] != 6 else None
    if num_classes is not None and names and num_classes != len(names):
        raise ModelError(f"output {outputs[0].name!r} has {num_classes} classes but metadata names has {len(names)}")
    return ModelSpec("ultralytics", inp.name, wh, "nchw_float", (outputs[0].name,), names,
                     _person_class(names, num_classes), 114.0 / 255.0)
