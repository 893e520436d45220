"""ultralytics references for bench_tracker.py and bench_detector.py, run only in ``bench/.venv-ultra``.

The project's own venv (``.venv``) never imports ultralytics or torch: the benches call
:func:`run_worker`, which starts this file as a worker in ``bench/.venv-ultra`` and exchanges files
(npz / json / onnx) through a temporary folder. Create that venv once with :func:`setup_venv`
(``bench_tracker.py --setup-ultra`` or ``bench_detector.py --setup-ultra``)::

    python3 -m venv bench/.venv-ultra
    bench/.venv-ultra/bin/pip install torch==2.14.1 torchvision==0.29.1
    bench/.venv-ultra/bin/pip install ultralytics lap onnxruntime "onnx>=1.12,<2"

(``onnx`` is what ultralytics' ONNX export needs; ``lap`` its tracker's assignment solver.)

Workers (``bench/.venv-ultra/bin/python bench/ultra_ref.py ...``):

* ``track IN.npz OUT.npz PARAMS_JSON``: ``ultralytics.trackers.byte_tracker.BYTETracker`` over the same
  frames of detections as our tracker; only ``update`` is timed.
* ``export DIR IMAGE``: a YOLOv8n ONNX (640x640, static) built from ultralytics' ``yolov8n.yaml`` with
  seeded random weights -- no pretrained weights exist offline and none are ever downloaded. Random
  weights do not change the work per frame, but a fresh network's activations fade to nothing through
  its depth (every output would be the head's bias), so before export the BatchNorm statistics are set
  from one forward pass over IMAGE (outputs then depend on the image) and the person logit is raised by
  3 (person is the top class, as in a frame full of people). The weights stay random.
* ``predict ONNX IMAGE OUT.json THREADS FRAMES CONF IOU``: ``YOLO(ONNX, task="detect").predict`` on
  IMAGE, timed per frame after warm-up, with ONNX Runtime and torch limited to THREADS (see
  :func:`predict`).

Nothing downloads: every worker runs with ``YOLO_OFFLINE=1`` (no update/online checks),
``YOLO_AUTOINSTALL=0`` (no pip installs of missing requirements), a throw-away ``YOLO_CONFIG_DIR``
(settings; ``sync`` off), ``ORT_DISABLE_TELEMETRY=1`` (onnxruntime 1.32's native telemetry thread
otherwise resolves mobile.events.data.microsoft.com a few seconds in; a C thread the socket guard
cannot see) and a socket guard that makes any Python connection attempt raise. Checked with
``strace -f -e trace=connect,sendto``: no DNS or internet connection from the benches or workers.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-ultra"
PY = VENV / "bin" / "python"
SETUP_STEPS = (
    ("torch==2.14.1", "torchvision==0.29.1"),
    ("ultralytics", "lap", "onnxruntime", "onnx>=1.12,<2"),
)
#: Logit added to the person class of the random-weight YOLOv8n (see the module docstring).
PERSON_LOGIT_BOOST = 3.0


# ------------------------------------------------------------------------------- parent side (.venv)

def setup_venv() -> None:
    """Create ``bench/.venv-ultra`` (several GB: torch). Run once, by hand; never at bench time."""
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=600)
    for pkgs in SETUP_STEPS:
        subprocess.run([str(PY), "-m", "pip", "install", "--quiet", *pkgs], check=True, timeout=3600)


def unavailable() -> str | None:
    """Why the reference cannot run (a line for the table), or None when it can."""
    if not PY.exists():
        return f"reference unavailable: no {PY.relative_to(HERE.parent)} (run with --setup-ultra)"
    return None


def run_worker(args: list[str], tmp: Path, *, threads: int | None = None, timeout_s: float = 1200.0) -> str | None:
    """Run one worker in the ultralytics venv with ``tmp`` as working and config folder.
    Returns None on success, else the last line of its error output."""
    env = dict(os.environ, YOLO_OFFLINE="1", YOLO_AUTOINSTALL="0", YOLO_VERBOSE="False",
               YOLO_CONFIG_DIR=str(tmp / "yolo-config"), ORT_DISABLE_TELEMETRY="1")
    env.pop("VIRTUAL_ENV", None)
    if threads is not None:  # read by torch at import: must be in the environment before it starts
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    try:
        proc = subprocess.run([str(PY), str(Path(__file__).resolve()), *args], cwd=tmp, env=env,
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"worker timed out after {timeout_s:.0f} s"
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}").splitlines()
        return lines[-1]
    return None


# ---------------------------------------------------------------------------- worker side (.venv-ultra)

def _offline() -> None:
    import socket

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"network access attempted in an offline benchmark worker: {args[:2]}")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    from ultralytics import settings

    settings.update({"sync": False})


def track(in_path: str, out_path: str, params_json: str) -> None:
    """ultralytics BYTETracker over the frames in ``in_path`` (xyxy{k}, conf{k}); writes what it returns."""
    from types import SimpleNamespace

    import numpy as np
    import ultralytics
    from ultralytics.engine.results import Boxes
    from ultralytics.trackers.byte_tracker import BYTETracker

    params = json.loads(params_json)
    data = np.load(in_path)
    n_frames = int(data["n_frames"])
    tracker = BYTETracker(SimpleNamespace(**params))
    out_frame, out_id, out_xyxy = [], [], []
    elapsed = 0.0
    for k in range(n_frames):
        xyxy, conf = data[f"xyxy{k}"].astype(np.float32), data[f"conf{k}"].astype(np.float32)
        rows = np.concatenate([xyxy.reshape(-1, 4), conf[:, None], np.zeros((len(conf), 1), np.float32)], axis=1)
        boxes = Boxes(rows, orig_shape=(1080, 1920))  # what ultralytics' own track callback passes (numpy)
        t0 = time.perf_counter()
        res = tracker.update(boxes)
        elapsed += time.perf_counter() - t0
        res = res.reshape(-1, 8)  # x1, y1, x2, y2, track_id, score, cls, idx
        out_frame += [k] * len(res)
        out_id += [int(i) for i in res[:, 4]]
        out_xyxy.append(res[:, :4].astype(np.float64))
    np.savez(out_path, frame=np.array(out_frame, int), track_id=np.array(out_id, int),
             xyxy=np.concatenate(out_xyxy) if out_xyxy else np.zeros((0, 4)), elapsed_s=elapsed,
             version=ultralytics.__version__)


def export(out_dir: str, image_path: str) -> None:
    """Random-weight YOLOv8n -> ``out_dir/yolov8n.onnx`` (+ ``export.json``); see the module docstring."""
    import cv2
    import numpy as np
    import torch
    import ultralytics
    from ultralytics import YOLO
    from ultralytics.utils import ROOT, YAML

    torch.manual_seed(0)
    yolo = YOLO("yolov8n.yaml")  # architecture only, from the installed package; no weights file
    net = yolo.model
    net.names = YAML.load(ROOT / "cfg/datasets/coco.yaml")["names"]  # COCO names (person = 0) into the metadata
    img = cv2.imread(image_path)
    if img is None:
        raise SystemExit(f"cannot read {image_path}")
    x = torch.from_numpy(np.ascontiguousarray(cv2.resize(img, (640, 640))[:, :, ::-1].transpose(2, 0, 1)))
    x = x[None].float() / 255.0
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = 1.0  # running stats := this pass's batch stats
    net.train()
    with torch.no_grad():
        net(x)
        head = net.model[-1]
        for branch in head.cv3:
            branch[-1].bias[0] += PERSON_LOGIT_BOOST
    net.eval()
    path = yolo.export(format="onnx", imgsz=640, simplify=False, dynamic=False, device="cpu", verbose=False)
    dst = Path(out_dir) / "yolov8n.onnx"
    Path(path).replace(dst)
    (Path(out_dir) / "export.json").write_text(json.dumps({
        "onnx": str(dst), "ultralytics": ultralytics.__version__, "torch": torch.__version__,
        "batchnorm_layers_calibrated": len(bns)}))


def predict(onnx_path: str, image_path: str, out_json: str, threads: int, frames: int, conf: float,
            iou: float) -> None:
    """Time ``YOLO(onnx).predict`` on one image: medians over ``frames`` calls of ultralytics' own
    per-stage speeds (``results[0].speed``) and of the wall time of the whole call.

    Threads: ultralytics has no option for ONNX Runtime's thread count (AutoBackend builds the session
    with default options, i.e. all cores), so after the first call its session is rebuilt on the same
    file with ``intra_op_num_threads = threads`` (``inter_op = 1``, CPU provider, as ours).
    torch (its pre/postprocess) gets ``OMP_NUM_THREADS`` from :func:`run_worker` and
    ``torch.set_num_threads(threads)`` after set-up, since ultralytics' ``select_device`` resets it.
    """
    import cv2
    import onnxruntime as ort
    import torch
    import ultralytics
    from ultralytics import YOLO

    img = cv2.imread(image_path)
    if img is None:
        raise SystemExit(f"cannot read {image_path}")
    model = YOLO(onnx_path, task="detect")
    kw = {"imgsz": 640, "device": "cpu", "verbose": False, "conf": conf, "iou": iou, "classes": [0],
          "max_det": 300}
    model.predict(img, **kw)  # builds the predictor and its ONNX Runtime session
    backend = model.predictor.model.backend
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    backend.session = ort.InferenceSession(onnx_path, sess_options=opts, providers=["CPUExecutionProvider"])
    torch.set_num_threads(threads)
    for _ in range(2):  # warm-up on the rebuilt session
        model.predict(img, **kw)
    pre, inf, post, wall = [], [], [], []
    kept = 0
    for _ in range(frames):
        t0 = time.perf_counter()
        res = model.predict(img, **kw)
        wall.append(1e3 * (time.perf_counter() - t0))
        s = res[0].speed  # ms, this call
        pre.append(s["preprocess"])
        inf.append(s["inference"])
        post.append(s["postprocess"])
        kept = len(res[0].boxes)
    pred = model.predictor
    raw = pred.inference(pred.preprocess([img]))
    raw = raw[0] if isinstance(raw, (list, tuple)) else raw
    scores = torch.as_tensor(raw)[0, 4:]
    best = scores.amax(0)
    candidates = int(((best > conf) & (scores.argmax(0) == 0)).sum())
    Path(out_json).write_text(json.dumps({
        "pre_ms": statistics.median(pre), "infer_ms": statistics.median(inf), "post_ms": statistics.median(post),
        "wall_ms": statistics.median(wall), "candidates": candidates, "kept": kept,
        "ultralytics": ultralytics.__version__, "onnxruntime": ort.__version__,
        "torch_threads": torch.get_num_threads(), "providers": backend.session.get_providers()}))


def main(argv: list[str]) -> int:
    _offline()
    cmd, rest = argv[0], argv[1:]
    if cmd == "track":
        track(*rest)
    elif cmd == "export":
        export(*rest)
    elif cmd == "predict":
        onnx_path, image_path, out_json, threads, frames, conf, iou = rest
        predict(onnx_path, image_path, out_json, int(threads), int(frames), float(conf), float(iou))
    else:
        raise SystemExit(f"unknown worker command {cmd!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
