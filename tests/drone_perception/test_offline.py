"""Offline by design: importing the detector backend switches ONNX Runtime's telemetry off before onnxruntime
is imported (the variable is read at import; setting it later has no effect)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_onnxruntime_telemetry_is_off_before_onnxruntime_is_imported() -> None:
    code = ("import sys, os\n"
            "import drone_perception.detect.onnx_backend\n"
            "print(os.environ.get('ORT_DISABLE_TELEMETRY'))\n")
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_the_package_sets_it_before_any_submodule_imports_onnxruntime() -> None:
    code = ("import sys, os\n"
            "import drone_perception\n"
            "assert 'onnxruntime' not in sys.modules\n"
            "print(os.environ.get('ORT_DISABLE_TELEMETRY'))\n")
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
