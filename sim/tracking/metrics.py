"""Tracking quality on simulated scenarios: MOTA/IDF1 (py-motmetrics) and subject-lock retention.

``motmetrics`` is a dev/bench dependency and is imported only inside :func:`mot_metrics`.

Subject metrics (from the operator's lock onwards):
- ``retention``: share of frames where the subject is visible that the lock is LOCKED on a track that
  is the subject (matched to it with IoU >= 0.5);
- ``reacquire_s``: for each time the subject came back into view, seconds until the lock was LOCKED on
  it again (``reacquire_failures`` counts returns never re-acquired);
- ``wrong_lock_frames``: frames where the lock is LOCKED on a track matched to *another* person (must be 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from drone_perception.track.association import assign, iou_matrix
from drone_perception.track.bytetrack import ByteTracker
from drone_perception.track.lock import LockState, LockStatus, SubjectLock
from drone_perception.types import Tracks, TrackState
from sim.tracking.scenarios import Scenario

#: IoU at which a track box counts as covering a ground-truth person (MOTChallenge convention).
MATCH_IOU = 0.5


@dataclass(frozen=True)
class Run:
    tracks: list[Tracks]
    lock: list[LockStatus]


def run_scenario(sc: Scenario, tracker: ByteTracker, *, use_camera: bool = True,
                 lock: SubjectLock | None = None) -> Run:
    """Track every frame; at ``sc.lock_at_s`` the operator drags a box on the subject's true box."""
    tracker.reset()
    out: list[Tracks] = []
    statuses: list[LockStatus] = []
    locked_once = False
    for k, fr in enumerate(sc.frames):
        tr = tracker.update(fr.detections, fr.camera if use_camera else None, 0.0 if k == 0 else sc.dt_s)
        out.append(tr)
        if lock is None:
            continue
        if not locked_once and fr.stamp_s >= sc.lock_at_s:
            sub = np.flatnonzero(fr.gt_id == sc.subject_id)
            if sub.size:
                tid, _ = lock.lock_in_box(fr.gt_xyxy_px[sub[0]], tr)
                locked_once = tid is not None
        statuses.append(lock.update(tr, fr.stamp_s))
    return Run(out, statuses)


def _match(fr_gt_xyxy: np.ndarray, tr: Tracks) -> dict[int, int]:
    """Track row -> ground-truth row, for confirmed tracks seen in this frame."""
    rows = np.flatnonzero(tr.state == TrackState.CONFIRMED)
    iou = iou_matrix(tr.xyxy_px[rows], fr_gt_xyxy)
    r, c = assign(1.0 - iou, iou >= MATCH_IOU)
    return {int(rows[a]): int(b) for a, b in zip(r, c)}


def mot_metrics(sc: Scenario, run: Run) -> dict[str, float]:
    """MOTA, IDF1, id switches, fragmentations, FP, misses (confirmed tracks seen in the frame)."""
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=True)
    for fr, tr in zip(sc.frames, run.tracks):
        rows = np.flatnonzero(tr.state == TrackState.CONFIRMED)
        iou = iou_matrix(fr.gt_xyxy_px, tr.xyxy_px[rows])
        dist = np.where(iou >= MATCH_IOU, 1.0 - iou, np.nan)
        acc.update(fr.gt_id.tolist(), tr.track_id[rows].tolist(), dist)
    mh = mm.metrics.create()
    s = mh.compute(acc, metrics=["mota", "idf1", "num_switches", "num_fragmentations", "num_false_positives",
                                 "num_misses", "num_objects"], name="x")
    row = s.loc["x"]
    return {
        "mota": float(row["mota"]), "idf1": float(row["idf1"]), "id_switches": int(row["num_switches"]),
        "fragmentations": int(row["num_fragmentations"]), "false_positives": int(row["num_false_positives"]),
        "misses": int(row["num_misses"]), "objects": int(row["num_objects"]),
    }


def subject_metrics(sc: Scenario, run: Run) -> dict[str, Any]:
    visible_frames = kept = wrong = 0
    reacq: list[float] = []
    failures = 0
    started = False
    was_visible = True
    back_since: float | None = None
    for fr, tr, st in zip(sc.frames, run.tracks, run.lock):
        if not started:
            started = st.state != LockState.NONE
            if not started:
                continue
        sub = np.flatnonzero(fr.gt_id == sc.subject_id)
        visible = bool(sub.size)
        on_subject = False
        if st.state == LockState.LOCKED and st.row is not None:
            gt_row = _match(fr.gt_xyxy_px, tr).get(st.row)
            if gt_row is not None:
                if int(fr.gt_id[gt_row]) == sc.subject_id:
                    on_subject = True
                else:
                    wrong += 1
        if visible:
            visible_frames += 1
            kept += on_subject
            if not was_visible:
                back_since = fr.stamp_s
            if back_since is not None and on_subject:
                reacq.append(fr.stamp_s - back_since)
                back_since = None
        was_visible = visible
    if back_since is not None:
        failures += 1
    final = run.lock[-1].state.value if run.lock else LockState.NONE.value
    return {
        "retention": kept / visible_frames if visible_frames else math.nan,
        "reacquire_s": reacq,
        "reacquire_failures": failures,
        "wrong_lock_frames": wrong,
        "final_lock_state": final,
        "final_reason": run.lock[-1].reason if run.lock else "",
    }


def evaluate(name: str, *, seed: int = 0, rate_hz: float = 10.0, use_camera: bool = True) -> dict[str, Any]:
    """MOT and subject metrics of the default tracker and lock on one named scenario."""
    from sim.tracking.scenarios import scenario

    sc = scenario(name, seed=seed, rate_hz=rate_hz)
    run = run_scenario(sc, ByteTracker(), use_camera=use_camera, lock=SubjectLock())
    return {**mot_metrics(sc, run), **subject_metrics(sc, run)}
