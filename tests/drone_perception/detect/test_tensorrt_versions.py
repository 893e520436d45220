"""build_engine against the API surface of TensorRT 8, 10 and 11, on the CPU, with a stand-in ``tensorrt``
module that has only what each major version exposes (NVIDIA's 8->10 and 10->11 migration notes): 8 needs the
explicit-batch flag, 10 ignores it and has deprecated platform_has_fast_fp16, 11 removed the flag, the
FP16/INT8 builder flags and the INT8 calibrators (strong typing). This checks our version handling, not
TensorRT: the real builds run in bench/gpu_checks.py on a GPU."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from drone_perception.detect import tensorrt_backend as tb
from drone_perception.detect.factory import default_model_path
from drone_perception.errors import ModelError


class _Recorder:
    def __init__(self) -> None:
        self.network_flags: int | None = None
        self.builder_flags: list[str] = []


def _fake_trt(version: str, rec: _Recorder) -> types.ModuleType:
    major = int(version.split(".")[0])
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version  # type: ignore[attr-defined]

    class Logger:
        WARNING = 2

        def __init__(self, level: int) -> None:
            self.level = level

    class Config:
        int8_calibrator: Any = None

        def set_memory_pool_limit(self, pool: Any, size: int) -> None: ...

        def add_optimization_profile(self, profile: Any) -> None: ...

        def set_flag(self, flag: str) -> None:
            rec.builder_flags.append(flag)

        def set_calibration_profile(self, profile: Any) -> None: ...

    class Profile:
        def set_shape(self, name: str, *shapes: Any) -> None: ...

    class Builder:
        def __init__(self, logger: Logger) -> None: ...

        def create_network(self, flags: int) -> object:
            rec.network_flags = flags
            return object()

        def create_builder_config(self) -> Config:
            return Config()

        def create_optimization_profile(self) -> Profile:
            return Profile()

        def build_serialized_network(self, network: object, config: Config) -> bytes:
            return b"engine"

    if major < 11:
        Builder.platform_has_fast_fp16 = True  # type: ignore[attr-defined]

    class OnnxParser:
        num_errors = 0

        def __init__(self, network: object, logger: Logger) -> None: ...

        def parse(self, data: bytes) -> bool:
            return True

    trt.Logger, trt.Builder, trt.OnnxParser = Logger, Builder, OnnxParser  # type: ignore[attr-defined]
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE=0)  # type: ignore[attr-defined]
    flags = {"FP16": "FP16", "INT8": "INT8"} if major < 11 else {"DIRECT_IO": "DIRECT_IO"}
    trt.BuilderFlag = types.SimpleNamespace(**flags)  # type: ignore[attr-defined]
    creation = {"EXPLICIT_BATCH": 0} if major < 11 else {"STRONGLY_TYPED": 1}
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace(**creation)  # type: ignore[attr-defined]
    return trt


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(version: str) -> _Recorder:
        rec = _Recorder()
        monkeypatch.setitem(sys.modules, "tensorrt", _fake_trt(version, rec))
        monkeypatch.setattr(tb, "_gpu_name", lambda: "Fake GPU")
        return rec
    return install


@pytest.mark.parametrize(("version", "network_flags"), [("8.6.1", 1), ("10.3.0", 0)])
def test_fp16_build_on_tensorrt_8_and_10(fake: Any, tmp_path: Path, version: str, network_flags: int) -> None:
    rec = fake(version)
    path = tb.build_engine(default_model_path(), "fp16", cache_dir=tmp_path)
    assert rec.network_flags == network_flags and rec.builder_flags == ["FP16"]
    assert path.read_bytes() == b"engine" and path.with_suffix(".json").is_file()
    assert f"trt{version}_fp16" in path.name


def test_tensorrt_11_builds_as_typed_and_refuses_precision_flags(fake: Any, tmp_path: Path) -> None:
    rec = fake("11.4.0")
    for precision in ("fp16", "int8"):
        with pytest.raises(ModelError, match="strong typing"):
            tb.build_engine(default_model_path(), precision, cache_dir=tmp_path, calibration_images=[object()])
    path = tb.build_engine(default_model_path(), "fp32", cache_dir=tmp_path)
    assert rec.network_flags == 0 and rec.builder_flags == [] and path.is_file()
