"""Tracker speed and quality at 10 / 100 / 500 detections per frame: ours beside two references on the
same simulated detections, supervision's ByteTrack and ultralytics' BYTETracker (time per frame, MOTA,
IDF1, id switches, and each reference's time over ours).

    .venv/bin/python bench/bench_tracker.py [--sizes 10 100 500] [--setup-ref] [--setup-ultra]

Each reference runs in its own venv, never in ``.venv``; the script writes the detections to ``IN.npz``
once per size and each worker returns its tracks in an npz. Only the trackers' update calls are timed.

* supervision (``bench/.venv-ref``): create once with ``--setup-ref`` (``python3 -m venv bench/.venv-ref
  && bench/.venv-ref/bin/pip install "supervision<0.27"``; 0.27+ moved ByteTrack out of supervision).
  The script re-runs itself there as a worker (``--reference-worker IN.npz OUT.npz``) importing only
  numpy and supervision.
* ultralytics (``bench/.venv-ultra``, several GB): create once with ``--setup-ultra`` (``python3 -m venv
  bench/.venv-ultra && pip install torch==2.14.1 torchvision==0.29.1 && pip install ultralytics lap
  onnxruntime "onnx>=1.12,<2"``). The worker is ``bench/ultra_ref.py track``:
  ``ultralytics.trackers.byte_tracker.BYTETracker`` fed ultralytics ``Boxes`` (numpy), offline
  (``YOLO_OFFLINE=1``, no auto-install, sockets refused).

Matched parameters: high/first-stage threshold 0.5, low 0.1, lost tracks kept ``MAX_LOST_S * RATE_HZ`` =
30 frames, association cost threshold 0.8 with the score fused into the IoU cost (supervision's ByteTrack
always fuses; ultralytics ``fuse_score=True``). What cannot be matched: supervision starts a track above
0.6 (its activation threshold + 0.1, fixed) and confirms after 3 consecutive frames; ultralytics starts
one at ``new_track_thresh`` = 0.5 (as ours) and confirms on its second match (every detection of the
first frame at once); ours confirms after 3 hits and gates the first stage at IoU >= 0.3 without score
fusion. Without a venv its row reads 'reference unavailable' and the rest still runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import ultra_ref  # bench/ultra_ref.py (the script's folder is on sys.path); imports only the standard library

HERE = Path(__file__).resolve().parent
REF_VENV = HERE / ".venv-ref"
REF_PY = REF_VENV / "bin" / "python"
RATE_HZ = 15.0
MAX_LOST_S = 2.0
#: ultralytics BYTETracker arguments (its ``cfg/trackers/bytetrack.yaml`` keys), matched to ours/supervision.
ULTRA_PARAMS = {"track_high_thresh": 0.5, "track_low_thresh": 0.1, "new_track_thresh": 0.5,
                "track_buffer": int(MAX_LOST_S * RATE_HZ), "match_thresh": 0.8, "fuse_score": True}


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
    from sim.tracking.metrics import Run, mot_metrics
    from sim.tracking.scenarios import crowd_frames

    sc = crowd_frames(n_people, n_frames, rate_hz=RATE_HZ)
    n_det = float(np.mean([len(f.detections) for f in sc.frames]))
    rows: list[tuple[str, dict[str, Any]]] = []
    from drone_perception.config.perception import TrackerConfig

    # The third row matches ultralytics' confirmation (on the 2nd match) so quality is compared at equal policy.
    for label, use_cam, hits in (("ours (image only)", False, 3), ("ours (ground+image)", True, 3),
                                 ("ours (image only, confirm 2)", False, 2)):
        tracker = ByteTracker(TrackerConfig(min_confirm_hits=hits))
        outs, elapsed = [], 0.0
        for k, fr in enumerate(sc.frames):
            t0 = time.perf_counter()
            outs.append(tracker.update(fr.detections, fr.camera if use_cam else None, 0.0 if k == 0 else sc.dt_s))
            elapsed += time.perf_counter() - t0
        q = mot_metrics(sc, Run(outs, []))
        rows.append((label, {"ms": 1e3 * elapsed / n_frames, "dets": n_det, **q}))
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "in.npz"
        arrays: dict[str, Any] = {"n_frames": np.array(n_frames)}
        for k, fr in enumerate(sc.frames):
            arrays[f"xyxy{k}"] = fr.detections.xyxy_px
            arrays[f"conf{k}"] = fr.detections.confidence
        np.savez(inp, **arrays)

        def scored(name: str, kind: str, out: Path) -> tuple[str, dict[str, Any]]:
            r = np.load(out)
            outs = [_tracks_from(r["frame"], r["track_id"], r["xyxy"], k, fr.stamp_s)
                    for k, fr in enumerate(sc.frames)]
            q = mot_metrics(sc, Run(outs, []))
            return f"{name} {r['version']} {kind}", {"ms": 1e3 * float(r["elapsed_s"]) / n_frames, "dets": n_det, **q}

        out = Path(tmp) / "sv.npz"
        if not REF_PY.exists():
            rows.append(("supervision ByteTrack", {"unavailable": f"reference unavailable: no {REF_PY} "
                                                                  "(run with --setup-ref)"}))
        else:
            proc = subprocess.run([str(REF_PY), __file__, "--reference-worker", str(inp), str(out)],
                                  capture_output=True, text=True, timeout=1200)
            if proc.returncode != 0:
                rows.append(("supervision ByteTrack", {"unavailable": "reference unavailable: worker failed: "
                                                                      + proc.stderr.strip().splitlines()[-1]}))
            else:
                rows.append(scored("supervision", "ByteTrack", out))
        out = Path(tmp) / "ul.npz"
        why = ultra_ref.unavailable() or ultra_ref.run_worker(
            ["track", str(inp), str(out), json.dumps(ULTRA_PARAMS)], Path(tmp))
        if why:
            rows.append(("ultralytics BYTETracker", {"unavailable": why if why.startswith("reference unavailable")
                                                     else f"reference unavailable: worker failed: {why}"}))
        else:
            rows.append(scored("ultralytics", "BYTETracker", out))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 500], help="people in the crowd")
    ap.add_argument("--setup-ref", action="store_true", help="create bench/.venv-ref with supervision first")
    ap.add_argument("--setup-ultra", action="store_true",
                    help="create bench/.venv-ultra with torch + ultralytics first (several GB)")
    ap.add_argument("--reference-worker", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.reference_worker:
        reference_worker(*args.reference_worker)
        return 0
    if args.setup_ref:
        setup_reference()
    if args.setup_ultra:
        ultra_ref.setup_venv()
    frames_for = {10: 150, 100: 90, 500: 30}
    refs = ("supervision", "ultralytics")
    print(f"{'tracker':34s} {'people':>6s} {'det/frm':>7s} {'ms/frame':>9s} {'MOTA':>6s} {'IDF1':>6s} "
          f"{'IDsw':>5s} {'sv/ours':>8s} {'ul/ours':>8s}")
    for n in args.sizes:
        rows = run_size(n, frames_for.get(n, 60))
        ref_ms = {r: next((m["ms"] for lab, m in rows if lab.startswith(r) and "ms" in m), None) for r in refs}
        for label, m in rows:
            if "unavailable" in m:
                print(f"{label:34s} {n:6d}  {m['unavailable']}")
                continue
            ratios = "".join(f" {ref_ms[r] / m['ms']:8.2f}" if ref_ms[r] and label.startswith("ours") else f" {'':8s}"
                             for r in refs)
            print(f"{label:34s} {n:6d} {m['dets']:7.0f} {m['ms']:9.3f} {m['mota']:6.3f} {m['idf1']:6.3f} "
                  f"{m['id_switches']:5d}{ratios}")
    print("sv/ours, ul/ours: reference time over ours; > 1: ours is faster. Same simulated detections (misses, "
          "jitter, low scores) for every tracker; only the update calls are timed.")
    print("MOTA/IDF1 count a track's frames before confirmation as misses: ours confirms after 3 hits, "
          "supervision after 3 frames, ultralytics on its 2nd match (at once on the first frame).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
