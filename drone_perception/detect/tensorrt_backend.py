"""Native TensorRT detector backend (NVIDIA GPUs / Jetson). Every GPU import is lazy.

* :func:`build_engine` parses an ONNX file and builds a serialized engine in FP32, FP16 or INT8 (entropy
  calibration on the caller's images, preprocessed exactly like inference frames).
* Engines are cached under ``cache_dir`` keyed by the ONNX file's sha256, the GPU name, the TensorRT
  version and the precision; a sidecar ``.json`` keeps the model's I/O layout and metadata, so an engine
  can be loaded without the ONNX file.
* :class:`TensorRTDetector` runs the engine with ``cuda-python`` buffers through the shared
  :class:`~drone_perception.detect.core.DetectorCore` (same letterbox, decoders and NMS as ONNX Runtime).

Not exercised on CPU-only machines: its tests are marked ``gpu`` and ``bench/gpu_checks.py`` runs them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from drone_perception.detect.core import DetectorCore, DetectorParams
from drone_perception.detect.model_spec import TensorInfo, spec_from_model
from drone_perception.detect.preprocess import letterbox
from drone_perception.errors import ModelError

log = logging.getLogger(__name__)
PRECISIONS = ("fp32", "fp16", "int8")


def tensorrt_available() -> bool:
    """True when ``tensorrt`` and ``cuda-python`` import and a CUDA device is visible."""
    try:
        _cuda()
        import tensorrt  # noqa: F401
    except Exception:
        return False
    return _gpu_name() != ""


def _cuda() -> Any:
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        from cuda import cudart  # older cuda-python
    return cudart


def _check(result: Any) -> Any:
    err, *rest = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise ModelError(f"CUDA call failed with error {err}")
    return rest[0] if len(rest) == 1 else rest


def _gpu_name() -> str:
    cudart = _cuda()
    count = _check(cudart.cudaGetDeviceCount())
    if not count:
        return ""
    props = _check(cudart.cudaGetDeviceProperties(0))
    name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
    return name.strip("\x00 ")


def onnx_io(onnx_path: Path) -> tuple[list[TensorInfo], list[TensorInfo], dict[str, str]]:
    """Inputs, outputs and metadata of an ONNX file (read with onnxruntime, CPU, no inference)."""
    from drone_perception.detect.onnx_backend import open_session

    sess = open_session(onnx_path, providers=["CPUExecutionProvider"])
    dt = {"tensor(float)": "float32", "tensor(uint8)": "uint8"}
    ins = [TensorInfo(i.name, tuple(i.shape), dt.get(i.type, i.type)) for i in sess.get_inputs()]
    outs = [TensorInfo(o.name, tuple(o.shape), dt.get(o.type, o.type)) for o in sess.get_outputs()]
    return ins, outs, dict(sess.get_modelmeta().custom_metadata_map)


def engine_cache_key(onnx_bytes: bytes, gpu_name: str, trt_version: str, precision: str) -> str:
    """File stem of a cached engine: model hash + GPU + TensorRT version + precision (all sanitised)."""
    gpu = re.sub(r"[^A-Za-z0-9]+", "-", gpu_name).strip("-").lower() or "gpu"
    return f"{hashlib.sha256(onnx_bytes).hexdigest()[:16]}_{gpu}_trt{trt_version}_{precision}"


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "drone_perception" / "engines"


def build_engine(onnx_path: str | Path, precision: str = "fp16", *, cache_dir: Path | None = None,
                 calibration_images: Sequence[np.ndarray] = (), workspace_bytes: int = 1 << 30) -> Path:
    """Build (or reuse from the cache) a TensorRT engine for ``onnx_path``; return the engine path."""
    if precision not in PRECISIONS:
        raise ModelError(f"precision = {precision!r}: allowed {PRECISIONS}")
    if precision == "int8" and not calibration_images:
        raise ModelError("precision int8 needs calibration_images (a few hundred representative frames)")
    try:
        import tensorrt as trt
    except ImportError:
        raise ModelError("TensorRT is not installed (install the 'jetson' extra or use JetPack)") from None
    path = Path(onnx_path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    data = path.read_bytes()
    ins, outs, meta = onnx_io(path)
    spec = spec_from_model(ins, outs, meta)
    cache = cache_dir or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    engine_path = cache / (engine_cache_key(data, _gpu_name(), trt.__version__, precision) + ".engine")
    if engine_path.is_file():
        log.info("engine cache hit: %s", engine_path)
        return engine_path
    major = _major(trt.__version__)
    if major >= 11 and precision != "fp32":
        # TensorRT 11 removed BuilderFlag.FP16/INT8 and the INT8 calibrators: networks are strongly typed.
        raise ModelError(
            f"TensorRT {trt.__version__} takes the precision from the ONNX itself (strong typing): convert the model "
            f"to FP16 (e.g. NVIDIA ModelOpt AutoCast) or add Q/DQ nodes for INT8, then build it with precision "
            f"'fp32' (= as typed in the file); or use TensorRT 10 (JetPack 6) for {precision} builds")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    # TensorRT 8.x needs the explicit-batch flag; 10 ignores it (deprecated) and 11 no longer has it.
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH) if major < 10 else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(data):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelError(f"TensorRT cannot parse {path}: {errs[:500]}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    w, h = spec.input_wh_px
    shape = (1, 3, h, w) if spec.layout == "nchw_float" else (1, h, w, 3)
    profile = builder.create_optimization_profile()
    profile.set_shape(spec.input_name, shape, shape, shape)
    config.add_optimization_profile(profile)
    # platform_has_fast_fp16 is deprecated since 10.5 (query CUDA instead): absent means "assume it does".
    if precision in ("fp16", "int8") and getattr(builder, "platform_has_fast_fp16", True):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = _make_calibrator(trt, spec.input_wh_px, spec.pad_value, calibration_images,
                                                  cache / (engine_path.stem + ".calib"))
        config.set_calibration_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelError(f"TensorRT engine build failed for {path} ({precision})")
    engine_path.write_bytes(bytes(serialized))
    sidecar = {"inputs": [asdict(i) for i in ins], "outputs": [asdict(o) for o in outs], "meta": meta,
               "precision": precision, "onnx_sha256": hashlib.sha256(data).hexdigest()}
    engine_path.with_suffix(".json").write_text(json.dumps(sidecar, indent=1))
    log.info("built %s engine %s", precision, engine_path)
    return engine_path


def _major(version: str) -> int:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        raise ModelError(f"cannot read the TensorRT version {version!r}") from None


def _make_calibrator(trt: Any, wh: tuple[int, int], pad: float, images: Sequence[np.ndarray], cache_file: Path) -> Any:
    cudart = _cuda()
    batches = [letterbox(img, wh, pad)[0] for img in images]

    class _Calibrator(trt.IInt8EntropyCalibrator2):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self._i = 0
            self._dev = _check(cudart.cudaMalloc(batches[0].nbytes))

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: list[str]) -> list[int] | None:
            if self._i >= len(batches):
                return None
            b = np.ascontiguousarray(batches[self._i])
            self._i += 1
            _check(cudart.cudaMemcpy(self._dev, b.ctypes.data, b.nbytes, cudart.cudaMemcpyKind.cudaMemcpyHostToDevice))
            return [int(self._dev)]

        def read_calibration_cache(self) -> bytes | None:
            return cache_file.read_bytes() if cache_file.is_file() else None

        def write_calibration_cache(self, cache: bytes) -> None:
            cache_file.write_bytes(bytes(cache))

    return _Calibrator()


class TensorRTDetector(DetectorCore):
    """Person detector on a TensorRT engine. ``model_path``: an ``.onnx`` (engine built/cached with
    ``precision``) or a cached ``.engine`` with its sidecar ``.json``."""

    def __init__(self, model_path: str | Path, params: DetectorParams | None = None, *,
                 precision: str = "fp16", cache_dir: Path | None = None) -> None:
        try:
            import tensorrt as trt
            cudart = _cuda()
        except ImportError:
            raise ModelError("TensorRT backend needs the 'tensorrt' and 'cuda-python' packages "
                             "(JetPack or the 'jetson' extra); use backend='onnxruntime' on this machine") from None
        path = Path(model_path)
        engine_path = path if path.suffix in (".engine", ".plan") else build_engine(path, precision,
                                                                                       cache_dir=cache_dir)
        sidecar_path = engine_path.with_suffix(".json")
        if not engine_path.is_file() or not sidecar_path.is_file():
            raise ModelError(f"engine {engine_path} or its sidecar {sidecar_path.name} is missing")
        side = json.loads(sidecar_path.read_text())
        ins = [TensorInfo(i["name"], tuple(i["shape"]), i["dtype"]) for i in side["inputs"]]
        outs = [TensorInfo(o["name"], tuple(o["shape"]), o["dtype"]) for o in side["outputs"]]
        spec = spec_from_model(ins, outs, side["meta"])
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self._engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if self._engine is None:
            raise ModelError(f"cannot deserialize {engine_path} (built for another GPU/TensorRT version?)")
        self._ctx = self._engine.create_execution_context()
        self._cudart = cudart
        self._stream = _check(cudart.cudaStreamCreate())
        self._host: dict[str, np.ndarray] = {}
        self._dev: dict[str, int] = {}
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        inputs = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        for name in inputs:  # fix dynamic input dimensions first: output shapes follow from them
            if any(d < 0 for d in self._engine.get_tensor_shape(name)):
                w, h = spec.input_wh_px
                self._ctx.set_input_shape(name, (1, 3, h, w) if spec.layout == "nchw_float" else (1, h, w, 3))
        for name in inputs + [n for n in names if n not in inputs]:
            shp = tuple(self._ctx.get_tensor_shape(name))
            if any(d < 0 for d in shp):
                raise ModelError(f"engine tensor {name!r} has an unresolved dynamic shape {shp}")
            dtype = np.dtype(trt.nptype(self._engine.get_tensor_dtype(name)))
            self._host[name] = np.empty(shp, dtype)
            self._dev[name] = int(_check(cudart.cudaMalloc(self._host[name].nbytes)))
            self._ctx.set_tensor_address(name, self._dev[name])
        super().__init__(spec, self._run_engine, params or DetectorParams())
        self.engine_path = engine_path

    def _run_engine(self, tensor: np.ndarray) -> list[np.ndarray]:
        cu = self._cudart
        h2d, d2h = cu.cudaMemcpyKind.cudaMemcpyHostToDevice, cu.cudaMemcpyKind.cudaMemcpyDeviceToHost
        src = np.ascontiguousarray(tensor, dtype=self._host[self.spec.input_name].dtype)
        _check(cu.cudaMemcpyAsync(self._dev[self.spec.input_name], src.ctypes.data, src.nbytes, h2d, self._stream))
        if not self._ctx.execute_async_v3(self._stream):
            raise ModelError("TensorRT execution failed")
        outs = []
        for name in self.spec.output_names:
            host = self._host[name]
            _check(cu.cudaMemcpyAsync(host.ctypes.data, self._dev[name], host.nbytes, d2h, self._stream))
            outs.append(host)
        _check(cu.cudaStreamSynchronize(self._stream))
        return [o.astype(np.float32, copy=True) for o in outs]

    def close(self) -> None:
        for ptr in self._dev.values():
            self._cudart.cudaFree(ptr)
        self._dev.clear()
