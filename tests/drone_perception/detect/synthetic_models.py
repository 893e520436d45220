"""Tiny ONNX models built with the onnx helper API, for backend tests (no downloads, no weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

#: Anchor boxes (cx, cy, w, h) in input pixels of the synthetic ultralytics-style model.
BOXES_CXCYWH = np.array([[32, 32, 20, 40], [33, 32, 20, 40], [10, 10, 8, 8]], np.float32)
#: Person score of each anchor = mean image brightness in [0, 1] times this weight.
PERSON_WEIGHT = np.array([1.0, 0.9, 0.2], np.float32)


def ultralytics_like(path: Path, *, size: int = 64, dynamic: bool = False, imgsz: str | None = None,
                     names: str = "{0: 'person', 1: 'car'}", channels: int = 3) -> Path:
    """An ultralytics-v8-style detect model: output0 [1, 4 + 2, 3] (cx, cy, w, h, person, car)."""
    a = BOXES_CXCYWH.shape[0]
    inits = [
        numpy_helper.from_array(BOXES_CXCYWH.T[None].copy(), "boxes"),  # [1, 4, A]
        numpy_helper.from_array(PERSON_WEIGHT.reshape(1, 1, a), "w_person"),
        numpy_helper.from_array(np.ones((1, 1, a), np.float32), "ones"),
        numpy_helper.from_array(np.array([1, 1, 1], np.int64), "shape111"),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Reshape", ["mean", "shape111"], ["mean3"]),
        helper.make_node("Mul", ["mean3", "w_person"], ["person"]),
        helper.make_node("Sub", ["ones", "mean3"], ["car0"]),
        helper.make_node("Mul", ["car0", "ones"], ["car"]),
        helper.make_node("Concat", ["boxes", "person", "car"], ["output0"], axis=1),
    ]
    in_shape: list[int | str] = ["batch", channels, "height", "width"] if dynamic else [1, channels, size, size]
    graph = helper.make_graph(
        nodes, "synthetic_v8",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 6, a])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    meta = {"names": names, "imgsz": imgsz if imgsz is not None else f"[{size}, {size}]", "task": "detect"}
    for k, v in meta.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    onnx.save(model, str(path))
    return path
