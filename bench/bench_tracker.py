"""Tracker speed and quality at 10 / 100 / 500 detections per frame: ours beside supervision's ByteTrack
on the same simulated detections (time per frame, MOTA, IDF1, id switches, and the time ratio).

    .venv/bin/python bench/bench_tracker.py [--sizes 10 100 500] [--setup-ref]

The reference runs in its own venv, ``bench/.venv-ref`` (never in ``.venv``): create it once with
``--setup-ref`` (``python3 -m venv bench/.venv-ref && bench/.venv-ref/bin/pip install "supervision<0.27"``;
0.27+ moved ByteTrack out of supervision). Without it our figures are printed with a 'reference
unavailable' line. The script re-runs itself in that venv as a worker
(``--reference-worker IN.npz OUT.npz``) that imports only numpy and supervision.

ultralytics' BYTETracker (optional; needs ``torch==2.14.1 torchvision==0.29.1`` + ``lap``, several GB):
install ``ultralytics lap`` into another venv and feed it the same ``IN.npz`` with
``ultralytics.trackers.byte_tracker.BYTETracker``; not run by default.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REF_VENV = HERE / ".venv-ref"
REF_PY = REF_VENV / "bin" / "python"
RATE_HZ = 15.0
MAX_LOST_S = 2.0


def reference_worker(in_path: str, out_path: str) -> None:
    """Runs inside bench/.venv-ref: supervision ByteTrack over the frames in ``in_path``."""
    import supervision as sv

    data = np.load(in_path)
    n_frames = int(data["n_frames"])
    tracker = sv.ByteTrack(track_activation_threshold=0.5, lost_track_buffer=int(MAX_LOST_S * RATE_HZ),
                           minimum_matching_threshold=0.8, frame_rate=int(RATE_HZ), minimum_consecutive_frames=3)
    out_frame, out_id, out_xyxy = [], [], []
    elapsed = 0.0
    for k in range(n_frames):
        xyxy, conf = data[f"xyxy{k}"], data[f"conf{k}"]
        det = sv.Detections(xyxy=xyxy.astype(np.float32), confidence=conf.astype(np.float32),
                            class_id=np.zeros(len(conf), int))
        t0 = time.perf_counter()
        res = tracker.update_with_detections(det)
        elapsed += time.perf_counter() - t0
        out_frame += [k] * len(res)
        out_id += [int(i) for i in res.tracker_id]
        out_xyxy.append(res.xyxy.reshape(-1, 4))
    np.savez(out_path, frame=np.array(out_frame, int), track_id=np.array(out_id, int),
             xyxy=np.concatenate(out_xyxy) if out_xyxy else np.zeros((0, 4)), elapsed_s=elapsed,
             version=sv.__version__)


def setup_reference() -> None:
    subprocess.run([sys.executable, "-m", "venv", str(REF_VENV)], check=True, timeout=600)
    subprocess.run([str(REF_PY), "-m", "pip", "install", "--quiet", "supervision<0.27"], check=True, timeout=1800)


def _tracks_from(frame_idx: np.ndarray, ids: np.ndarray, xyxy: np.ndarray, k: int, stamp_s: float) -> Any:
    from drone_perception.types import Tracks, TrackState

    sel = frame_idx == k
    n = int(sel.sum())
    return Tracks(ids[sel], xyxy[sel], np.full(n, TrackState.CONFIRMED, np.int8), np.zeros(n),
                  np.full((n, 3), np.nan), np.full(n, np.nan), stamp_s)


def run_size(n_people: int, n_frames: int) -> list[tuple[str, dict[str, Any]]]:
    from drone_perception.track.bytetrack import ByteTracker
    from drone_perception.track.metrics import Run, mot_metrics
    from drone_perception.track.synth import crowd_frames

    sc = crowd_frames(n_people, n_frames, rate_hz=RATE_HZ)
    n_det = float(np.mean([len(f.detections) for f in sc.frames]))
    rows: list[tuple[str, dict[str, Any]]] = []
    for label, use_cam in (("ours (image only)", False), ("ours (ground+image)", True)):
        tracker = ByteTracker()
        outs, elapsed = [], 0.0
        for k, fr in enumerate(sc.frames):
            t0 = time.perf_counter()
            outs.append(tracker.update(fr.detections, fr.camera if use_cam else None, 0.0 if k == 0 else sc.dt_s))
            elapsed += time.perf_counter() - t0
        q = mot_metrics(sc, Run(outs, []))
        rows.append((label, {"ms": 1e3 * elapsed / n_frames, "dets": n_det, **q}))
    if not REF_PY.exists():
        rows.append(("supervision ByteTrack", {"unavailable": f"reference unavailable: no {REF_PY} "
                                                              "(run with --setup-ref)"}))
        return rows
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        arrays: dict[str, Any] = {"n_frames": np.array(n_frames)}
        for k, fr in enumerate(sc.frames):
            arrays[f"xyxy{k}"] = fr.detections.xyxy_px
            arrays[f"conf{k}"] = fr.detections.confidence
        np.savez(inp, **arrays)
        proc = subprocess.run([str(REF_PY), __file__, "--reference-worker", str(inp), str(out)],
                              capture_output=True, text=True, timeout=1200)
        if proc.returncode != 0:
            rows.append(("supervision ByteTrack", {"unavailable": "reference unavailable: worker failed: "
                                                                  + proc.stderr.strip().splitlines()[-1]}))
            return rows
        r = np.load(out)
        outs = [_tracks_from(r["frame"], r["track_id"], r["xyxy"], k, fr.stamp_s) for k, fr in enumerate(sc.frames)]
        q = mot_metrics(sc, Run(outs, []))
        label = f"supervision {r['version']} ByteTrack"
        rows.append((label, {"ms": 1e3 * float(r["elapsed_s"]) / n_frames, "dets": n_det, **q}))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 500], help="people in the crowd")
    ap.add_argument("--setup-ref", action="store_true", help="create bench/.venv-ref with supervision first")
    ap.add_argument("--reference-worker", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.reference_worker:
        reference_worker(*args.reference_worker)
        return 0
    if args.setup_ref:
        setup_reference()
    frames_for = {10: 150, 100: 90, 500: 30}
    print(f"{'tracker':34s} {'people':>6s} {'det/frm':>7s} {'ms/frame':>9s} {'MOTA':>6s} {'IDF1':>6s} "
          f"{'IDsw':>5s} {'ref/ours':>8s}")
    for n in args.sizes:
        rows = run_size(n, frames_for.get(n, 60))
        ref_ms = next((m["ms"] for lab, m in rows if lab.startswith("supervision") and "ms" in m), None)
        for label, m in rows:
            if "unavailable" in m:
                print(f"{label:34s} {n:6d}  {m['unavailable']}")
                continue
            ratio = f"{ref_ms / m['ms']:8.2f}" if ref_ms and not label.startswith("supervision") else f"{'':8s}"
            print(f"{label:34s} {n:6d} {m['dets']:7.0f} {m['ms']:9.3f} {m['mota']:6.3f} {m['idf1']:6.3f} "
                  f"{m['id_switches']:5d} {ratio}")
    print("ref/ours > 1: ours is faster. Same simulated detections (misses, jitter, low scores) for every tracker.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
