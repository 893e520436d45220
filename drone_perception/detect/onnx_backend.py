"""ONNX Runtime detector backend (CPU; CUDA / TensorRT execution providers when the installed
onnxruntime build offers them)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from drone_perception.detect.core import DetectorCore, DetectorParams
from drone_perception.detect.model_spec import TensorInfo, spec_from_model
from drone_perception.errors import ModelError

log = logging.getLogger(__name__)

_DTYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8"}
_GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def choose_providers(use_gpu: bool = True) -> list[str]:
    """TensorRT, then CUDA, then CPU -- whichever this onnxruntime build has (always ends with CPU)."""
    available = set(ort.get_available_providers())
    chosen = [p for p in _GPU_PROVIDERS if use_gpu and p in available]
    return [*chosen, "CPUExecutionProvider"]


def open_session(model_path: str | Path, threads: int = 0,
                 providers: Sequence[str] | None = None) -> ort.InferenceSession:
    """Open an ONNX Runtime session; raise ``ModelError`` for a missing or unreadable/corrupt file."""
    path = Path(model_path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    if path.stat().st_size == 0:
        raise ModelError(f"model file is empty: {path}")
    opts = ort.SessionOptions()
    if threads < 0:
        raise ModelError(f"threads = {threads}: must be >= 0 (0 = runtime default)")
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=list(providers or choose_providers()))
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot load model {path}: corrupt or not an ONNX file ({first})") from None


class OnnxRuntimeDetector(DetectorCore):
    """Person detector on ONNX Runtime.

    ``model_path``: an ONNX file (our converted models or an ultralytics export). ``threads``: intra-op
    threads, 0 = onnxruntime default. ``providers``: execution providers; ``None`` = GPU ones if present.
    """

    def __init__(self, model_path: str | Path, params: DetectorParams | None = None, *, threads: int = 0,
                 providers: Sequence[str] | None = None) -> None:
        self.model_path = Path(model_path)
        self.session = open_session(self.model_path, threads, providers)
        inputs = [TensorInfo(i.name, tuple(i.shape), _DTYPES.get(i.type, i.type)) for i in self.session.get_inputs()]
        outputs = [TensorInfo(o.name, tuple(o.shape), _DTYPES.get(o.type, o.type))
                   for o in self.session.get_outputs()]
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        spec = spec_from_model(inputs, outputs, meta)
        super().__init__(spec, self._run_session, params or DetectorParams())
        self.providers = self.session.get_providers()
        log.info("loaded %s (%s, input %s) on %s", self.model_path.name, spec.kind, spec.input_wh_px, self.providers)

    def _run_session(self, tensor: np.ndarray) -> list[np.ndarray]:
        try:
            out = self.session.run(list(self.spec.output_names), {self.spec.input_name: tensor})
        except Exception as exc:
            raise ModelError(f"inference failed on {self.model_path.name}: {str(exc)[:300]}") from None
        return [np.asarray(o) for o in out]
