"""Issue 11 item 3: choose the in-flight detection policy by measurement on real MOT17 frames.

Every policy runs the shipped default model (``load_detector()``, YOLOX-nano 960x544) through the stack's own
``RoiTilingDetector``; only the windows per frame differ:

* ``full``: the whole frame (today's ``drone-perception detect`` default, ``--tiles 0x0``);
* ``full+tilesCxR``: the whole frame plus a CxR grid of fixed tiles (``TilingConfig.tile_overlap`` 0.2);
* ``full+roiN``: the whole frame plus up to N square crops around the previous frame's detections (score >=
  ``--roi-score``, the same policy's own output, reset at each sequence start): the tracked-people crop policy
  ("subject and known bystanders get crops, the full frame finds new ones"); ``roi`` order = by score, ``roiS``
  = smallest first (the people the full frame resolves worst);
* ``alt A/B``: policy A on even frames of a sequence, B on odd ones (a rate policy). Per-frame detections and
  per-frame cost are exactly those of A and B on those frames, so it is composed from their runs.

Recall counts every pedestrian in the ground truth (all bystanders, not one subject), by true box height
(<60, 60-120, >=120 px) at IoU 0.5, with the matcher and "don't care" handling of ``tools/eval_mot17_mini.py``.

    .venv/bin/python tools/eval_detect_policy.py --data /tmp/r11data/MOT17-mini/train \
        --out /tmp/policy_results.json --rounds 3

CPU cost: the accuracy pass times every frame; then ``--rounds`` interleaved timing rounds replay each
policy's windows on a fixed subset of 1080p frames beside a bare ``detect_image`` full-frame pass in the same
process, so the ratio to the full frame is meaningful on a loaded machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from eval_mot17_mini import BIN_NAMES, FrameGT, load_mot, summarize

from drone_perception.config.perception import DetectorConfig
from drone_perception.detect import RoiTilingDetector, TilingConfig, load_detector
from drone_perception.types import CameraIntrinsics, CameraModel, Frame

#: Score at which the stack operates (``drone-perception detect --conf`` default) and feeds ROIs.
OPERATING_THR = 0.35
THRESHOLDS = (0.25, 0.35, 0.5)


@dataclass(frozen=True)
class Policy:
    """``tiling``: windows per frame; ``roi_order``: "" = no ROI crops, "score" or "small" = crops around
    the previous frame's detections, in that order, up to ``tiling.max_rois``."""

    name: str
    tiling: TilingConfig
    roi_order: str = ""
    roi_score: float | None = None  # feed threshold; None = --roi-score


@dataclass
class Run:
    """One policy over all frames: per-frame boxes/scores, the ROIs it was given, windows and ms."""

    dets: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    rois: list[np.ndarray | None] = field(default_factory=list)
    passes: list[int] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)


def policies(roi_max: int) -> list[Policy]:
    return [
        Policy("full", TilingConfig()),
        Policy("full+tiles2x1", TilingConfig(tile_grid=(2, 1))),
        Policy("full+tiles2x2", TilingConfig(tile_grid=(2, 2))),
        Policy("full+tiles3x2", TilingConfig(tile_grid=(3, 2))),
        Policy("full+roi3", TilingConfig(max_rois=3), "score"),  # the camera sim's tracking mode
        Policy(f"full+roi{roi_max}", TilingConfig(max_rois=roi_max), "score"),
        Policy(f"full+roiS{roi_max}", TilingConfig(max_rois=roi_max), "small"),
        # crops also for weak detections (a tracker keeps low-score tracks alive): small people first
        Policy(f"full+roiS{roi_max} feed>=0.15", TilingConfig(max_rois=roi_max), "small", 0.15),
    ]


ALTERNATING = (("full", "full+tiles2x2"), ("full", "full+tiles3x2"))


def _frame(image: np.ndarray, seq: int) -> Frame:
    h, w = image.shape[:2]
    cam = CameraModel(CameraIntrinsics.from_hfov(1.2, (w, h)), np.eye(3), np.zeros(3))
    return Frame(image=image, stamp_s=0.0, seq=seq, camera=cam)


def _rois(prev: tuple[np.ndarray, np.ndarray] | None, order: str, score_thr: float) -> np.ndarray | None:
    if prev is None or not order:
        return None
    b, s = prev
    keep = s >= score_thr
    b, s = b[keep], s[keep]
    key = -s if order == "score" else (b[:, 3] - b[:, 1])
    return b[np.argsort(key, kind="stable")]


def run_policy(det: RoiTilingDetector, pol: Policy, frames: Sequence[FrameGT], images: Sequence[np.ndarray],
               roi_score: float) -> Run:
    out = Run()
    prev: tuple[np.ndarray, np.ndarray] | None = None
    for i, (fr, img) in enumerate(zip(frames, images)):
        if i == 0 or frames[i - 1].seq != fr.seq:
            prev = None  # a new sequence: nothing tracked yet
        rois = _rois(prev, pol.roi_order, roi_score if pol.roi_score is None else pol.roi_score)
        f = _frame(img, i)
        t0 = time.perf_counter()
        d = det.detect(f, rois)
        out.ms.append((time.perf_counter() - t0) * 1e3)
        cur = (d.xyxy_px.astype(np.float64), d.confidence.astype(np.float64))
        out.dets.append(cur)
        out.rois.append(rois)
        out.passes.append(len(det.windows((img.shape[1], img.shape[0]), rois)))
        prev = cur
    return out


def alternate(frames: Sequence[FrameGT], even: Run, odd: Run) -> Run:
    out = Run()
    k = 0
    for i, fr in enumerate(frames):
        k = 0 if i == 0 or frames[i - 1].seq != fr.seq else k + 1
        src = even if k % 2 == 0 else odd
        out.dets.append(src.dets[i])
        out.rois.append(src.rois[i])
        out.passes.append(src.passes[i])
        out.ms.append(src.ms[i])
    return out


def timing_rounds(base: object, dets: dict[str, RoiTilingDetector], runs: dict[str, Run],
                  images: Sequence[np.ndarray], subset: Sequence[int], rounds: int) -> dict[str, dict[str, float]]:
    """Interleaved rounds: per round, the bare full-frame pass then every policy on the same frames.
    Returns per policy the min and median over rounds of the per-round median ms, and the median ratio."""
    bare: Callable[[np.ndarray], object] = base.detect_image  # type: ignore[attr-defined]
    host_ms: list[float] = []  # letterbox + decode + NMS of one pass (DetectorCore.last_timing): CPU even on a GPU
    per_round: dict[str, list[float]] = {"bare full-frame detect_image": []}
    per_round.update({k: [] for k in dets})
    ratios: dict[str, list[float]] = {k: [] for k in dets}
    for _ in range(rounds):
        ms_bare = []
        for i in subset:
            t0 = time.perf_counter()
            bare(images[i])
            ms_bare.append((time.perf_counter() - t0) * 1e3)
            lt = getattr(base, "last_timing", None)
            if lt is not None:
                host_ms.append((lt.preprocess_s + lt.postprocess_s) * 1e3)
        ref = statistics.median(ms_bare)
        per_round["bare full-frame detect_image"].append(ref)
        for name, det in dets.items():
            ms = []
            for i in subset:
                f = _frame(images[i], i)
                t0 = time.perf_counter()
                det.detect(f, runs[name].rois[i])
                ms.append((time.perf_counter() - t0) * 1e3)
            m = statistics.median(ms)
            per_round[name].append(m)
            ratios[name].append(m / ref)
    out = {}
    for name, vals in per_round.items():
        out[name] = {"ms_min": round(min(vals), 1), "ms_median": round(statistics.median(vals), 1),
                     "ratio_median": round(statistics.median(ratios[name]), 2) if name in ratios else 1.0}
    if host_ms:
        out["bare full-frame detect_image"]["host_pre_post_ms_median"] = round(statistics.median(host_ms), 1)
    return out


def _loadavg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/tmp/r11data/MOT17-mini/train"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--roi-max", type=int, default=4, help="ROI crops per frame (TilingConfig.max_rois)")
    ap.add_argument("--roi-score", type=float, default=OPERATING_THR, help="score of a detection that gets a crop")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    ap.add_argument("--timing-every", type=int, default=2, help="time every Nth 1080p frame (not a first one)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/policy_results.json"))
    a = ap.parse_args()

    protos = {"vis>=0.5": load_mot(a.data, 0.5), "all": load_mot(a.data, 0.0)}
    frames = protos["all"]
    images: list[np.ndarray] = []
    for f in frames:
        img = cv2.imread(str(f.path))
        if img is None:
            raise SystemExit(f"cannot read {f.path}")
        images.append(img)
    # the detector keeps boxes down to 0.05 so the summary can sweep the threshold; the ROI feed uses roi_score
    base = load_detector(DetectorConfig(confidence_threshold=0.05, threads=a.threads))
    base.detect_image(images[0])  # type: ignore[attr-defined]  # warm-up
    results: dict[str, object] = {"loadavg_start": _loadavg(), "frames": len(frames),
                                  "frames_1080p": sum(img.shape[1] == 1920 for img in images)}
    dets: dict[str, RoiTilingDetector] = {}
    runs: dict[str, Run] = {}
    for pol in policies(a.roi_max):
        det = RoiTilingDetector(base, pol.tiling)  # type: ignore[arg-type]
        dets[pol.name] = det
        runs[pol.name] = run_policy(det, pol, frames, images, a.roi_score)
        print(f"ran {pol.name} (load {_loadavg()})", flush=True)
    for ev, od in ALTERNATING:
        runs[f"alt {ev} / {od}"] = alternate(frames, runs[ev], runs[od])

    big = [i for i, img in enumerate(images) if img.shape[1] == 1920]
    # not a sequence's first frame: there the ROI policies have nothing to crop around yet
    subset = [i for i in big if i > 0 and frames[i - 1].seq == frames[i].seq][:: a.timing_every]
    timing = timing_rounds(base, dets, runs, images, subset, a.rounds)
    results["loadavg_end"] = _loadavg()
    results["timing_subset_frames"] = len(subset)
    results["timing"] = timing
    ref = timing["bare full-frame detect_image"]["ms_median"]
    table = {}
    for name, run in runs.items():
        entry: dict[str, object] = {
            "passes_per_frame_mean": round(float(np.mean([run.passes[i] for i in big])), 2),
            "ms_per_1080p_frame_accuracy_pass": {"median": round(statistics.median([run.ms[i] for i in big]), 1),
                                                 "mean": round(statistics.fmean([run.ms[i] for i in big]), 1)},
        }
        if name in timing:
            entry["timing"] = timing[name]
        else:  # alternating: the mean of its two policies' interleaved medians
            ev, od = name[4:].split(" / ")
            ms = (timing[ev]["ms_median"] + timing[od]["ms_median"]) / 2
            entry["timing"] = {"ms_median": round(ms, 1), "ratio_median": round(
                (timing[ev]["ratio_median"] + timing[od]["ratio_median"]) / 2, 2)}
        for pname, fr in protos.items():
            entry[pname] = [summarize(fr, run.dets, t) for t in THRESHOLDS]
        table[name] = entry
        r = next(x for x in entry["vis>=0.5"] if x["thr"] == OPERATING_THR)  # type: ignore[attr-defined]
        tm = entry["timing"]
        print(f"{name:34s} passes {entry['passes_per_frame_mean']:4.2f}  "
              + " ".join(f"R{b} {r[f'R{b}']}" for b in BIN_NAMES)
              + f"  R>=60 {r['R>=60']} R_all {r['R_all']}  P>=60 {r['P>=60']} P_all {r['P_all']}"
              f"  ms {tm['ms_median']} (x{tm['ratio_median']} of bare {ref})", flush=True)  # type: ignore[index]
    results["policies"] = table
    a.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {a.out}; load {results['loadavg_start']} -> {results['loadavg_end']}")


if __name__ == "__main__":
    main()
