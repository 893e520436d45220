"""Issue 11 item 6: our tracker beside SORT and ByteTrack on public MOTChallenge sequences, same detections,
scored with py-motmetrics (MOTA, IDF1, IDsw, FP, FN, MT/ML) per sequence and overall.

    .venv/bin/python tools/eval_tracker_mot.py /tmp/h4data/MOT15-public --out /tmp/h4out/default.json \
        --ref-python /tmp/h4venv/bin/python --sort-src /tmp/h4ref/sort --bytetrack-src /tmp/h4ref \
        [--set min_confirm_hits=2 --set max_lost_s=1.0] [--score-map auto|raw|minmax|div:100] [--seqs A B]

Input: a folder of sequences ``SEQ/det/det.txt``, ``SEQ/gt/gt.txt``, ``SEQ/seqinfo.ini`` (frameRate, seqLength).

Trackers (each fed the same detections of every frame ``1..seqLength``):

* ``ours``: :class:`ByteTracker` through the library, image-only, ``dt_s`` from seqinfo's frameRate, results as the
  ``drone-perception track`` CLI writes them (``result_lines``: confirmed tracks matched this frame). TrackerConfig
  defaults unless ``--set FIELD=VALUE`` (repeatable) overrides them.
* ``ours-cli``: exactly what ``drone-perception track --mot det.txt`` does today: raw scores, ``--fps`` default 30.
* ``sort``: Bewley et al. 2016, the authors' ``sort.py`` (abewley/sort, GPL-3.0: run from ``--sort-src`` outside this
  repo, never vendored) with its published defaults max_age=1, min_hits=3, iou_threshold=0.3, fed every detection
  (as its own main does; SORT ignores the score).
* ``bytetrack``: Zhang et al. 2022, the official ``yolox/tracker`` (ifzhang/ByteTrack, MIT) from ``--bytetrack-src``,
  with the defaults of its MOT evaluation script ``tools/track.py``: track_thresh 0.6 (new tracks at 0.7), low 0.1,
  track_buffer 30 at frame_rate 30 (the evaluator does not pass the sequence rate), match_thresh 0.9, score fusion on
  (mot20 off); outputs filtered as its evaluator does (area > 100 px^2, w/h <= 1.6).

The references run in a separate interpreter (``--ref-python``, needs numpy, scipy, filterpy, lap): this script
re-runs itself there as a worker that imports only those, with stubs for the modules the reference files import but
do not use here (matplotlib, skimage, torch, cv2; cython_bbox is replaced by a numpy box-overlap with its +1 pixel
convention). Without ``--ref-python`` the reference rows are skipped.

Scores: MOT15's public (ACF) detections are not in [0, 1] (about -1..140; on the 7 MOT15 train sequences a detection
is right about half the time at 25-30 and 90 % of the time above 60). ``--score-map auto`` (default) keeps scores in
[0, 1] and maps others by ``div:100`` (ByteTrack's 0.6 high threshold then sits at precision ~0.9), the same for every
tracker (``ours-cli`` always gets the raw scores); ``raw`` passes them through; ``div:K`` divides by K and clips to
[0, 1]; ``minmax`` rescales each sequence's range to [0, 1].

Scoring (MOTChallenge conventions, as TrackEval / the motmetrics MOTChallenge app): gt rows with the "considered"
flag 0 are dropped; for 9-column gt (MOT16/17) only class 1 (pedestrian) is kept, and tracker boxes matched (IoU >=
0.5, Hungarian) to a distractor (classes 2, 7, 8, 12) are removed first. Distance 1 - IoU, matches need IoU >= 0.5.
``FN@birth``: misses of a gt object before its first match (the confirmation delay shows here).
"""

from __future__ import annotations

import argparse
import configparser
import json
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

DISTRACTOR_CLASSES = (2, 7, 8, 12)
SORT_PARAMS = {"max_age": 1, "min_hits": 3, "iou_threshold": 0.3}
BYTETRACK_PARAMS = {"track_thresh": 0.6, "track_buffer": 30, "match_thresh": 0.9, "mot20": False,
                    "frame_rate": 30, "min_box_area": 100.0, "max_aspect_wh": 1.6}
METRICS = ["mota", "idf1", "num_switches", "num_false_positives", "num_misses", "mostly_tracked", "mostly_lost",
           "num_unique_objects", "recall", "precision", "num_fragmentations"]


# ------------------------------------------------------------------------------------------------ data
def read_seqinfo(seq: Path) -> tuple[float, int]:
    cp = configparser.ConfigParser()
    cp.read(seq / "seqinfo.ini", encoding="utf-8")
    return float(cp["Sequence"]["frameRate"]), int(cp["Sequence"]["seqLength"])


def load_rows(path: Path) -> np.ndarray:
    a = np.loadtxt(path, delimiter=",", ndmin=2)
    return a if a.size else np.zeros((0, 10))


def map_scores(score: np.ndarray, how: str) -> np.ndarray:
    s = score.astype(np.float64)
    if how == "raw" or s.size == 0:
        return s
    if how == "auto":
        if s.min() >= 0.0 and s.max() <= 1.0:
            return s
        how = "div:100"
    if how == "minmax":
        lo, hi = float(s.min()), float(s.max())
        return (s - lo) / (hi - lo) if hi > lo else np.ones_like(s)
    if how.startswith("div:"):
        return np.clip(s / float(how[4:]), 0.0, 1.0)
    raise SystemExit(f"--score-map: expected auto, raw, minmax or div:K, got {how!r}")


# ------------------------------------------------------------------------------------------------ ours
def run_ours(det: np.ndarray, score: np.ndarray, fps: float, n_frames: int, overrides: dict[str, Any]) -> np.ndarray:
    """(K, 6) rows frame, id, x, y, w, h from the library tracker, written as the CLI writes them."""
    from drone_perception.config.perception import TrackerConfig
    from drone_perception.track.bytetrack import ByteTracker
    from drone_perception.track.mot import MotDetections, result_lines

    xyxy = np.column_stack([det[:, 2], det[:, 3], det[:, 2] + det[:, 4], det[:, 3] + det[:, 5]])
    dets = MotDetections(det[:, 0].astype(np.int64), xyxy.astype(np.float32), score.astype(np.float32))
    tracker = ByteTracker(TrackerConfig.model_validate(overrides))
    rows: list[list[float]] = []
    prev: float | None = None
    for frame, d in dets.frames(fps):
        if frame > n_frames:
            break
        dt = 0.0 if prev is None else d.stamp_s - prev
        prev = d.stamp_s
        for line in result_lines(frame, tracker.update(d, None, dt)):
            rows.append([float(v) for v in line.split(",")[:6]])
    return np.asarray(rows, np.float64).reshape(-1, 6)


# ------------------------------------------------------------------------------------------------ references
def _stub_modules() -> None:
    """Modules the reference files import at top level but never use on this path."""
    if not hasattr(np, "float"):  # the official ByteTrack files use np.float (removed in numpy 1.24): = float
        setattr(np, "float", float)  # noqa: B010
    mpl = types.ModuleType("matplotlib")
    mpl.use = lambda *a, **k: None  # type: ignore[attr-defined]
    for name in ("matplotlib.pyplot", "matplotlib.patches", "skimage", "skimage.io", "torch",
                 "torch.nn", "torch.nn.functional", "cv2"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules.setdefault("matplotlib", mpl)
    sys.modules["skimage"].io = sys.modules["skimage.io"]  # type: ignore[attr-defined]
    sys.modules["torch"].Tensor = type("Tensor", (), {})  # type: ignore[attr-defined]  # (scipy probes torch.Tensor)
    cb = types.ModuleType("cython_bbox")

    def bbox_overlaps(boxes: np.ndarray, query: np.ndarray) -> np.ndarray:
        # cython_bbox.bbox_overlaps: IoU with the +1 pixel convention of the original Cython code
        b, q = np.asarray(boxes, float), np.asarray(query, float)
        iw = np.minimum(b[:, None, 2], q[None, :, 2]) - np.maximum(b[:, None, 0], q[None, :, 0]) + 1
        ih = np.minimum(b[:, None, 3], q[None, :, 3]) - np.maximum(b[:, None, 1], q[None, :, 1]) + 1
        inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
        area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
        area_q = (q[:, 2] - q[:, 0] + 1) * (q[:, 3] - q[:, 1] + 1)
        union = area_b[:, None] + area_q[None, :] - inter
        return np.where(inter > 0, inter / np.where(union > 0, union, 1), 0.0)

    cb.bbox_overlaps = bbox_overlaps  # type: ignore[attr-defined]
    sys.modules.setdefault("cython_bbox", cb)


def reference_worker(in_path: str, out_path: str, sort_src: str, bytetrack_src: str) -> None:
    """Runs under --ref-python: SORT and official ByteTrack over the frames in ``in_path``."""
    _stub_modules()
    data = np.load(in_path)
    n_frames = int(data["n_frames"])
    frame, xyxy, score = data["frame"], data["xyxy"], data["score"]
    per_frame = [np.flatnonzero(frame == f) for f in range(1, n_frames + 1)]
    out: dict[str, np.ndarray] = {}
    if sort_src:
        sys.path.insert(0, sort_src)
        import sort as sort_mod  # type: ignore[import-not-found]

        sort_mod.KalmanBoxTracker.count = 0
        trk = sort_mod.Sort(**SORT_PARAMS)
        rows, t0 = [], time.perf_counter()
        for f, idx in enumerate(per_frame, start=1):
            dets = np.column_stack([xyxy[idx], score[idx]]) if idx.size else np.empty((0, 5))
            for d in trk.update(dets):
                rows.append([f, d[4], d[0], d[1], d[2] - d[0], d[3] - d[1]])
        out["sort"] = np.asarray(rows, float).reshape(-1, 6)
        out["sort_s"] = np.array(time.perf_counter() - t0)
    if bytetrack_src:
        sys.path.insert(0, bytetrack_src)
        from yolox.tracker.basetrack import BaseTrack  # type: ignore[import-not-found]
        from yolox.tracker.byte_tracker import BYTETracker  # type: ignore[import-not-found]

        p = BYTETRACK_PARAMS
        BaseTrack._count = 0
        args = types.SimpleNamespace(track_thresh=p["track_thresh"], track_buffer=p["track_buffer"],
                                     match_thresh=p["match_thresh"], mot20=p["mot20"])
        bt = BYTETracker(args, frame_rate=p["frame_rate"])
        h_w = (10_000.0, 10_000.0)  # img_info == img_size: scale 1, boxes stay in pixels
        rows, t0 = [], time.perf_counter()
        for f, idx in enumerate(per_frame, start=1):
            dets = np.column_stack([xyxy[idx], score[idx]]).astype(np.float64) if idx.size else np.empty((0, 5))
            for t in bt.update(dets.copy(), h_w, h_w):
                x, y, w, h = (float(v) for v in t.tlwh)
                if w * h > float(p["min_box_area"]) and not w / h > float(p["max_aspect_wh"]):
                    rows.append([f, t.track_id, x, y, w, h])
        out["bytetrack"] = np.asarray(rows, float).reshape(-1, 6)
        out["bytetrack_s"] = np.array(time.perf_counter() - t0)
    np.savez(out_path, **out)  # type: ignore[arg-type]


def run_references(args: argparse.Namespace, det: np.ndarray, score: np.ndarray, n_frames: int,
                   tmp: Path) -> dict[str, np.ndarray]:
    if not args.ref_python:
        return {}
    inp, outp = tmp / "in.npz", tmp / "out.npz"
    xyxy = np.column_stack([det[:, 2], det[:, 3], det[:, 2] + det[:, 4], det[:, 3] + det[:, 5]])
    np.savez(inp, frame=det[:, 0].astype(np.int64), xyxy=xyxy, score=score, n_frames=np.array(n_frames))
    cmd = [args.ref_python, str(Path(__file__).resolve()), "--reference-worker", str(inp), str(outp),
           args.sort_src or "", args.bytetrack_src or ""]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"reference worker failed:\n{proc.stderr[-3000:]}")
    r = np.load(outp)
    return {k: r[k] for k in r.files}


# ------------------------------------------------------------------------------------------------ scoring
def _iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    ax2, ay2, bx2, by2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.asarray(inter / np.maximum(union, 1e-12))


def score_sequence(gt: np.ndarray, res: np.ndarray, n_frames: int) -> tuple[dict[str, float], Any]:
    """py-motmetrics accumulator of one sequence (MOTChallenge preprocessing, IoU 0.5) and FN@birth."""
    import motmetrics as mm
    from scipy.optimize import linear_sum_assignment

    mot17 = gt.shape[1] == 9
    acc = mm.MOTAccumulator(auto_id=False)
    for f in range(1, n_frames + 1):
        g = gt[gt[:, 0] == f]
        h = res[res[:, 0] == f]
        if mot17 and len(g) and len(h):
            iou = _iou_xywh(g[:, 2:6], h[:, 2:6])
            r, c = linear_sum_assignment(-iou)
            ok = iou[r, c] >= 0.5 - 1e-9
            distractor = np.isin(g[r[ok], 7], DISTRACTOR_CLASSES)
            h = np.delete(h, c[ok][distractor], axis=0)
        keep = g[:, 6] != 0
        if mot17:
            keep &= g[:, 7] == 1
        g = g[keep]
        # = mm.distances.iou_matrix(g, h, max_iou=0.5), which calls np.asfarray (gone in numpy 2)
        dist = 1.0 - _iou_xywh(g[:, 2:6], h[:, 2:6])
        dist[dist > 0.5] = np.nan
        acc.update(g[:, 1].astype(int).tolist(), h[:, 1].astype(int).tolist(), dist, frameid=f)
    ev = acc.mot_events
    ev = ev[ev["Type"].isin(["MATCH", "SWITCH", "MISS"])]
    birth = 0
    for _, grp in ev.groupby("OId"):
        hit = np.flatnonzero(grp["Type"].to_numpy() != "MISS")
        birth += int(hit[0]) if hit.size else len(grp)
    return {"fn_birth": float(birth)}, acc


# ------------------------------------------------------------------------------------------------ main
def parse_set(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for it in items:
        k, _, v = it.partition("=")
        if not v:
            raise SystemExit(f"--set: expected FIELD=VALUE, got {it!r}")
        out[k.strip()] = int(v) if v.strip().lstrip("-").isdigit() else float(v)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", nargs="?", type=Path, help="folder of MOTChallenge sequences")
    ap.add_argument("--seqs", nargs="*", default=None, help="only these sequence folders")
    ap.add_argument("--out", type=Path, default=None, help="JSON file for every figure")
    ap.add_argument("--set", action="append", default=[], help="TrackerConfig override FIELD=VALUE for 'ours'")
    ap.add_argument("--score-map", default="auto", help="auto (default), raw, minmax, div:K")
    ap.add_argument("--ref-python", default="", help="interpreter with numpy, scipy, filterpy, lap (references)")
    ap.add_argument("--sort-src", default="", help="folder holding abewley/sort's sort.py")
    ap.add_argument("--bytetrack-src", default="", help="folder holding ByteTrack's yolox/tracker package")
    ap.add_argument("--no-cli-row", action="store_true", help="skip the 'ours-cli' row")
    ap.add_argument("--reference-worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.reference_worker:
        reference_worker(*args.reference_worker)
        return 0
    if args.root is None:
        ap.error("root is required")
    import motmetrics as mm

    overrides = parse_set(args.set)
    seqs = sorted(p for p in args.root.iterdir()
                  if (p / "det" / "det.txt").is_file() and (p / "gt" / "gt.txt").is_file())
    if args.seqs:
        seqs = [p for p in seqs if p.name in set(args.seqs)]
    accs: dict[str, list[Any]] = {}
    extra: dict[str, dict[str, dict[str, float]]] = {}
    names: list[str] = []
    with tempfile.TemporaryDirectory() as tmpd:
        for seq in seqs:
            fps, n_frames = read_seqinfo(seq)
            det, gt = load_rows(seq / "det" / "det.txt"), load_rows(seq / "gt" / "gt.txt")
            score = map_scores(det[:, 6], args.score_map)
            results: dict[str, np.ndarray] = {"ours": run_ours(det, score, fps, n_frames, overrides)}
            if not args.no_cli_row:
                results["ours-cli"] = run_ours(det, det[:, 6], 30.0, n_frames, {})
            refs = run_references(args, det, score, n_frames, Path(tmpd))
            results.update({k: v for k, v in refs.items() if not k.endswith("_s")})
            names.append(seq.name)
            for tracker, res in results.items():
                ex, acc = score_sequence(gt, res, n_frames)
                accs.setdefault(tracker, []).append(acc)
                extra.setdefault(tracker, {})[seq.name] = ex
    mh = mm.metrics.create()
    table: dict[str, Any] = {}
    for tracker, acc_list in accs.items():
        df = mh.compute_many(acc_list, metrics=METRICS, names=names, generate_overall=True)
        rows = {}
        for name, r in df.iterrows():
            d = {k: float(r[k]) for k in METRICS}
            d["fn_birth"] = (sum(e["fn_birth"] for e in extra[tracker].values()) if name == "OVERALL"
                             else extra[tracker][str(name)]["fn_birth"])
            rows[str(name)] = d
        table[tracker] = rows
    hdr = (f"{'sequence':16s} {'tracker':10s} {'MOTA':>6s} {'IDF1':>6s} {'IDsw':>5s} {'FP':>6s} {'FN':>6s} "
           f"{'FN@birth':>8s} {'MT':>4s} {'ML':>4s} {'GT':>4s} {'Rcll':>5s} {'Prcn':>5s}")
    print(hdr)
    for name in [*names, "OVERALL"]:
        for tracker in table:
            m = table[tracker][name]
            print(f"{name:16s} {tracker:10s} {100 * m['mota']:6.1f} {100 * m['idf1']:6.1f} {m['num_switches']:5.0f} "
                  f"{m['num_false_positives']:6.0f} {m['num_misses']:6.0f} {m['fn_birth']:8.0f} "
                  f"{m['mostly_tracked']:4.0f} {m['mostly_lost']:4.0f} {m['num_unique_objects']:4.0f} "
                  f"{100 * m['recall']:5.1f} {100 * m['precision']:5.1f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        meta = {"root": str(args.root), "overrides": overrides, "score_map": args.score_map,
                "sort_params": SORT_PARAMS, "bytetrack_params": BYTETRACK_PARAMS}
        args.out.write_text(json.dumps({"meta": meta, "results": table}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
