"""All GPU / TensorRT checks in one short script (``make bench-gpu``). Exits 0 with a clear
"skipped: no GPU" line on machines without an NVIDIA GPU.

With a GPU it: (1) runs the shipped model on onnxruntime's CUDA / TensorRT execution providers (when
that onnxruntime build has them) and compares boxes with the CPU result; (2) when ``tensorrt`` and
``cuda-python`` import, builds FP16 and INT8 engines (cache keyed by model sha256 + GPU + TensorRT
version), checks them against ONNX Runtime on a real photo and prints per-stage latency; (3) runs
the ``gpu``-marked pytest tests. Non-zero exit when a check that could run failed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drone_perception.detect.factory import default_model_path  # noqa: E402
from drone_perception.detect.onnx_backend import OnnxRuntimeDetector  # noqa: E402
from drone_perception.detect.postprocess import box_iou  # noqa: E402


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _gpu_present() -> str:
    if shutil.which("nvidia-smi") is None:
        return ""
    try:
        res = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return ""
    return res.stdout.strip().splitlines()[0] if res.returncode == 0 and res.stdout.strip() else ""


def _photo() -> np.ndarray:
    img = cv2.imread(str(ROOT / "tests/data/.cache/bus.jpg"))
    if img is None:
        say("note: bus.jpg not fetched (make testdata); using a seeded noise image")
        img = np.random.default_rng(0).integers(0, 255, (1080, 810, 3), dtype=np.uint8)
    return img


def _timed(det, img: np.ndarray, n: int = 50) -> str:
    det.detect_image(img)
    acc = np.zeros(3)
    for _ in range(n):
        det.detect_image(img)
        t = det.last_timing
        acc += (t.preprocess_s, t.inference_s, t.postprocess_s)
    pre, inf, post = 1e3 * acc / n
    return f"pre {pre:.2f} ms, infer {inf:.2f} ms, post {post:.2f} ms"


def main() -> int:
    gpu = _gpu_present()
    if not gpu:
        say("skipped: no GPU (nvidia-smi absent or reports no device)")
        return 0
    say(f"GPU: {gpu}")
    failures = 0
    img = _photo()
    model = default_model_path()
    cpu = OnnxRuntimeDetector(model, providers=["CPUExecutionProvider"])
    ref = cpu.detect_image(img)
    say(f"onnxruntime CPU: {len(ref)} people; {_timed(cpu, img, 10)}")
    import onnxruntime as ort

    for ep in ("CUDAExecutionProvider", "TensorrtExecutionProvider"):
        if ep not in ort.get_available_providers():
            say(f"skipped: {ep} (this onnxruntime build lacks it; install onnxruntime-gpu)")
            continue
        det = OnnxRuntimeDetector(model, providers=[ep, "CPUExecutionProvider"])
        out = det.detect_image(img)
        ok = len(out) == len(ref) and (not len(ref) or box_iou(ref.xyxy_px, out.xyxy_px).max(1).min() > 0.9)
        failures += not ok
        say(f"{'ok' if ok else 'FAIL'}: onnxruntime {ep}: {len(out)} people; {_timed(det, img)}")
    from drone_perception.detect.tensorrt_backend import TensorRTDetector, build_engine, tensorrt_available

    if not tensorrt_available():
        say("skipped: native TensorRT (tensorrt / cuda-python not importable)")
    else:
        import tensorrt as trt

        # TensorRT 11 takes precision from the ONNX (strong typing): only the as-typed (fp32) build applies there.
        precisions = ("fp16", "int8") if int(trt.__version__.split(".")[0]) < 11 else ("fp32",)
        with tempfile.TemporaryDirectory() as tmp:
            for precision in precisions:
                try:
                    calib = [img, cv2.flip(img, 1)] * 8 if precision == "int8" else []
                    path = build_engine(model, precision, cache_dir=Path(tmp), calibration_images=calib)
                    det = TensorRTDetector(path)
                    out = det.detect_image(img)
                    iou = box_iou(ref.xyxy_px, out.xyxy_px).max(1) if len(out) and len(ref) else np.zeros(0)
                    ok = len(out) >= max(1, len(ref) - 1) and (iou.size == 0 or np.median(iou) > 0.8)
                    say(f"{'ok' if ok else 'FAIL'}: TensorRT {precision}: {len(out)} people (CPU {len(ref)}); "
                        f"{_timed(det, img)}; engine {path.name}")
                    failures += not ok
                except Exception as exc:  # report and continue with the other checks
                    failures += 1
                    say(f"FAIL: TensorRT {precision}: {type(exc).__name__}: {exc}")
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:randomly",
                          str(ROOT / "tests/drone_perception/detect")], cwd=ROOT, timeout=600, check=False)
    failures += res.returncode not in (0, 5)
    say(f"gpu checks: {'all passed' if failures == 0 else f'{failures} failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
