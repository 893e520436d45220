"""Camera in the loop: world -> rendered frame -> the real detector -> the real tracker and stack -> autopilot.

The loop of :func:`sim.runner.run_scenario` (same world, operator, pipeline, ground-truth figures in a
:class:`~sim.runner.ScenarioResult`) with perception from rendered frames (:mod:`sim.render`) through the
shipped ONNX detector (``config.detector``). Control runs at ``config.control_rate_hz``; a frame is rendered and
handed to ``Pipeline.step(frame=...)`` only on detector ticks (``detector_rate_hz``, default 5 Hz), the other
periods pass no perception. Detection latency is not modelled (the boxes carry the frame's stamp).

The detector is the shipped model wrapped in :class:`~drone_perception.detect.RoiTilingDetector`: full frame
plus crops around the current tracks (locked subject first); while no subject is locked, a 3x2 tile grid as
well (acquisition). People inside a sensor blackout window of the scenario (``World.hidden_s``) are not
drawn. Recall is measured on every detector frame against the renderer's ground truth: a person counts when
at least half of its sprite is visible, and is found by a detection with IoU >= 0.5 with its visible box.

Each run writes ``camera.mp4`` (or ``camera.avi`` when no mp4 encoder is available), annotated with the
detections, tracks, the locked subject, the governor verdict and the true separation, next to the record,
audit report and trajectory plot that ``drone-perception sim`` writes.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np

from drone_perception.config import StackConfig
from drone_perception.detect import RoiTilingDetector, TilingConfig, load_detector
from drone_perception.detect.tiling import ImageDetector
from drone_perception.interfaces import NullRecorder, Recorder
from drone_perception.pipeline import Pipeline, PipelineOutput
from drone_perception.record import topics
from drone_perception.track.bytetrack import ByteTracker
from drone_perception.track.lock import LockState
from drone_perception.types import Detections, Frame, Tracks, TrackState
from sim.operator import OperatorScript, ScriptedOperator
from sim.person_sprites import SpriteBank, load_photo_sprites, procedural_sprites
from sim.render import PersonView, SceneRenderer, poses_from_world
from sim.runner import ScenarioResult, TruthMeter, record_run_header
from sim.scenarios import get_scenario

log = logging.getLogger(__name__)

#: Person-height bins (px, lower edges) of the recall table.
HEIGHT_BINS_PX = (0.0, 20.0, 30.0, 40.0, 60.0, 80.0, 120.0, 200.0)
#: A person is ground truth on a frame when at least this share of its sprite is visible.
MIN_VISIBLE_SHARE = 0.5
MATCH_IOU = 0.5


class TrackRoiDetector:
    """``Detector`` for the pipeline: full frame + crops around ``rois_xyxy_px`` (set by the loop before
    each frame); a 3x2 tile grid is added while ``acquire`` is set (no locked subject: there may be people
    too small for the full-frame pass and no track to crop around). Keeps the last call's time in seconds."""

    def __init__(self, base: ImageDetector, max_rois: int = 3) -> None:
        self.tracking = RoiTilingDetector(base, TilingConfig(max_rois=max_rois))
        self.acquiring = RoiTilingDetector(base, TilingConfig(tile_grid=(3, 2)))
        self.rois_xyxy_px: np.ndarray = np.zeros((0, 4))
        self.acquire = True
        self.last_detect_s = 0.0
        self.last_passes = 0

    def detect(self, frame: Frame) -> Detections:
        t0 = time.perf_counter()
        h, w = frame.image.shape[:2]
        tiler = self.acquiring if self.acquire or not len(self.rois_xyxy_px) else self.tracking
        det = tiler.detect(frame, self.rois_xyxy_px)
        self.last_passes = len(tiler.windows((w, h), self.rois_xyxy_px))
        self.last_detect_s = time.perf_counter() - t0
        return det


def rois_from_tracks(tracks: Tracks | None, subject_id: int | None) -> np.ndarray:
    """Boxes (N, 4) of the live tracks, the locked subject's first, then by confidence/age order."""
    if tracks is None or not len(tracks):
        return np.zeros((0, 4))
    order = sorted(range(len(tracks)), key=lambda i: (int(tracks.track_id[i]) != subject_id,
                                                      int(tracks.state[i]) != int(TrackState.CONFIRMED)))
    return np.asarray(tracks.xyxy_px, np.float64)[order]


def iou_matrix(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """IoU (N, M) of boxes ``a`` (N, 4) and ``b`` (M, 4), xyxy pixels."""
    a = np.asarray(a_xyxy, np.float64).reshape(-1, 4)[:, None, :]
    b = np.asarray(b_xyxy, np.float64).reshape(-1, 4)[None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return np.asarray(inter / np.maximum(area_a + area_b - inter, 1e-9))


@dataclass
class RecallCounter:
    """Ground-truth people found / present per height bin, and unmatched detections, over frames."""

    found: Counter[int] = field(default_factory=Counter)
    present: Counter[int] = field(default_factory=Counter)
    subject_found: int = 0
    subject_present: int = 0
    false_positives: int = 0
    detections: int = 0

    def add(self, views: tuple[PersonView, ...], detections: Detections, subject_id: int) -> None:
        gt = [v for v in views if v.visible_xyxy_px is not None and v.visible_share >= MIN_VISIBLE_SHARE]
        boxes = np.array([v.visible_xyxy_px for v in gt], np.float64).reshape(-1, 4)
        iou = iou_matrix(boxes, detections.xyxy_px)
        matched_gt: set[int] = set()
        matched_det: set[int] = set()
        # Greedy by IoU, best pairs first.
        for flat in np.argsort(-iou, axis=None):
            g, d = np.unravel_index(flat, iou.shape)
            if iou[g, d] < MATCH_IOU:
                break
            if g in matched_gt or d in matched_det:
                continue
            matched_gt.add(int(g))
            matched_det.add(int(d))
        for g, view in enumerate(gt):
            b = int(np.searchsorted(HEIGHT_BINS_PX, view.height_px, side="right") - 1)
            self.present[b] += 1
            self.found[b] += int(g in matched_gt)
            if view.person_id == subject_id:
                self.subject_present += 1
                self.subject_found += int(g in matched_gt)
        self.detections += len(detections)
        self.false_positives += len(detections) - len(matched_det)

    def table(self) -> dict[str, Any]:
        bins = {}
        for b, lo in enumerate(HEIGHT_BINS_PX):
            hi = HEIGHT_BINS_PX[b + 1] if b + 1 < len(HEIGHT_BINS_PX) else math.inf
            if self.present[b]:
                label = f"{lo:.0f}-{hi:.0f}px" if math.isfinite(hi) else f">={lo:.0f}px"
                bins[label] = {"recall": round(self.found[b] / self.present[b], 3), "n": self.present[b]}
        n_present = sum(self.present.values())
        return {
            "recall": round(sum(self.found.values()) / n_present, 3) if n_present else None,
            "subject_recall": round(self.subject_found / self.subject_present, 3) if self.subject_present else None,
            "by_height": bins,
            "people_frames": n_present,
            "detections": self.detections,
            "false_positives": self.false_positives,
        }


class AnnotatedVideo:
    """Writes annotated frames; mp4 (mp4v) when OpenCV can encode it, else Motion-JPEG avi."""

    def __init__(self, path_stem: Path, fps: float, size_wh_px: tuple[int, int]) -> None:
        path_stem.parent.mkdir(parents=True, exist_ok=True)
        for suffix, codec in ((".mp4", "mp4v"), (".avi", "MJPG")):
            self.path = path_stem.with_suffix(suffix)
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*codec), fps, size_wh_px)
            if self._writer.isOpened():
                return
        raise OSError(f"cannot open a video writer for {path_stem} (neither mp4v nor MJPG)")

    def write(self, image: np.ndarray) -> None:
        self._writer.write(image)

    def close(self) -> None:
        self._writer.release()


def annotate(image: np.ndarray, out: PipelineOutput, lines: list[str]) -> np.ndarray:
    """A copy of ``image`` with detections (thin yellow), tracks (green confirmed / grey other, with ids), the
    locked subject (thick red) and ``lines`` of status text."""
    img = image.copy()
    if out.detections is not None:
        for x1, y1, x2, y2 in np.round(out.detections.xyxy_px).astype(int).tolist():
            cv2.rectangle(img, (x1, y1), (x2, y2), (0, 230, 255), 1)
    subject = out.lock.track_id
    t = out.tracks
    for i in range(len(t)):
        x1, y1, x2, y2 = np.round(t.xyxy_px[i]).astype(int).tolist()
        tid = int(t.track_id[i])
        if tid == subject:
            colour, thick, label = (0, 0, 255), 3, f"SUBJECT {tid}"
        else:
            confirmed = int(t.state[i]) == int(TrackState.CONFIRMED)
            colour, thick, label = ((0, 200, 0) if confirmed else (160, 160, 160)), 2, str(tid)
        cv2.rectangle(img, (x1, y1), (x2, y2), colour, thick)
        cv2.putText(img, label, (x1, max(y1 - 5, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    cv2.rectangle(img, (0, 0), (img.shape[1], 18 * len(lines) + 8), (0, 0, 0), -1)
    for j, text in enumerate(lines):
        cv2.putText(img, text, (8, 18 * j + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return img


@dataclass
class CameraRunResult:
    """The ground-truth result of the run plus what the camera path measured."""

    result: ScenarioResult
    recall: dict[str, Any]
    render_ms_mean: float
    detect_ms_mean: float
    detector_passes_mean: float
    detector_frames: int
    video_path: Path | None


def run_camera_scenario(
    name: str,
    config: StackConfig | None = None,
    *,
    seed: int = 0,
    sprites: SpriteBank | None = None,
    detector: ImageDetector | None = None,
    detector_rate_hz: float = 5.0,
    duration_s: float | None = None,
    recorder: Recorder | None = None,
    video_path_stem: Path | None = None,
    operator_script: OperatorScript | None = None,
) -> CameraRunResult:
    """Run scenario ``name`` with camera perception. ``sprites`` default: the photo sprites (raises
    ``SpriteSourceError`` without the test photos); ``detector`` default: ``load_detector(config.detector)``."""
    spec = get_scenario(name)
    config = config or StackConfig()
    if not (math.isfinite(detector_rate_hz) and 0.0 < detector_rate_hz <= config.control_rate_hz):
        raise ValueError(f"detector_rate_hz: allowed (0, {config.control_rate_hz}], got {detector_rate_hz!r}")
    renderer = SceneRenderer(sprites if sprites is not None else load_photo_sprites(), seed=seed)
    base = detector if detector is not None else cast(ImageDetector, load_detector(config.detector))
    roi_detector = TrackRoiDetector(base)
    rng = np.random.default_rng(seed)
    world = spec.build(rng, config)
    config = world.stack_config(config)
    rec: Recorder = recorder if recorder is not None else NullRecorder()
    pipeline = Pipeline(config, tracker=ByteTracker(config.tracker), detector=roi_detector, recorder=rec)
    operator = ScriptedOperator(operator_script)
    dt_s = 1.0 / config.control_rate_hz
    every = max(1, round(config.control_rate_hz / detector_rate_hz))
    steps = round((duration_s if duration_s is not None else spec.duration_s) / dt_s)
    standoff = config.safety.min_standoff_m
    record_run_header(rec, config, name, seed, link="sim", perception="camera")
    k = world.intrinsics
    video = AnnotatedVideo(video_path_stem, config.control_rate_hz / every, k.size_wh_px) if video_path_stem else None

    recall = RecallCounter()
    render_s: list[float] = []
    detect_s: list[float] = []
    passes: list[int] = []
    meter = TruthMeter(world, standoff)
    subject_id = world.subject.id
    visible_subject = False
    try:
        for step in range(steps):
            world.step(dt_s)
            now = world.t_s
            camera = world.camera_model()
            frame = None
            views: tuple[PersonView, ...] = ()
            if step % every == 0:
                hidden = world.hidden_mask().tolist()
                poses = [p for p, h in zip(poses_from_world(world), hidden) if not h]
                t0 = time.perf_counter()
                rendered = renderer.render(camera, poses, world.trees)
                render_s.append(time.perf_counter() - t0)
                views = rendered.people
                frame = Frame(rendered.image, now, step, camera)
                roi_detector.rois_xyxy_px = rois_from_tracks(pipeline.tracks, pipeline.lock.track_id)
                roi_detector.acquire = pipeline.lock.state != LockState.LOCKED
                visible_subject = any(v.person_id == subject_id and v.visible_share >= MIN_VISIBLE_SHARE
                                      for v in views)
            subject = world.subject
            lock_lost = pipeline.lock.state in (LockState.LOST, LockState.NONE)
            op = operator.step(now, pipeline.tracks, camera, subject.position_ned_m, subject.height_m,
                               lock_lost=lock_lost)
            out = pipeline.step(now_s=now, vehicle=world.vehicle_state(), operator=op, camera=camera, frame=frame)
            if frame is not None:
                detect_s.append(roi_detector.last_detect_s)
                passes.append(roi_detector.last_passes)
                dets = out.detections if out.detections is not None else Detections.empty(now)
                recall.add(views, dets, subject_id)
            if out.send and not out.safe.expired(now):
                world.command(out.safe.command)
                meter.command(out.safe, op)
            truth = meter.update(now, engaged=op.engaged, sending=out.send, limits=out.safe.limits_applied,
                                 subject_in_view=visible_subject, mode_request=out.safe.mode_request is not None)
            rec.record(topics.TRUTH, now, truth)
            sep_min = meter.world.min_separation_m()[0]
            if video is not None and frame is not None:
                limits = ",".join(sorted(out.safe.limits_applied)) or "-"
                est = out.governor.min_separation_m
                video.write(annotate(frame.image, out, [
                    f"{name}  t={now:5.1f} s  lock {out.lock.state.value} {out.lock.track_id}  "
                    f"engaged {out.send}",
                    f"governor {out.safe.verdict.value} [{limits}]  est. sep "
                    f"{'-' if est is None else f'{est:.1f}'} m",
                    f"true min sep {sep_min:.1f} m (standoff {standoff:.0f} m) "
                    f"{'OK' if sep_min >= standoff else 'BROKEN'}",
                ]))
    finally:
        if video is not None:
            video.close()
    result = meter.result(name, seed, dt_s, redesignations=operator.redesignations)

    def mean_ms(xs: list[float]) -> float:
        return 1e3 * float(np.mean(xs)) if xs else math.nan

    return CameraRunResult(result, recall.table(), mean_ms(render_s), mean_ms(detect_s),
                           float(np.mean(passes)) if passes else math.nan, len(render_s),
                           video.path if video is not None else None)


def _sprites_from_args(args: argparse.Namespace) -> SpriteBank:
    """``args.sprites``: "photos" (default) or "procedural" (explicit choice only)."""
    mode = getattr(args, "sprites", "photos") or "photos"
    if mode == "procedural":
        return procedural_sprites(int(getattr(args, "seed", 0)))
    return load_photo_sprites()


def run_camera_one(name: str, config: StackConfig, args: argparse.Namespace, sprites: SpriteBank) -> dict[str, Any]:
    """One scenario with camera perception: record, audit report, trajectory plot and annotated video in
    ``args.out/name``; returns the summary (``ScenarioResult.summary()`` plus a ``camera`` block)."""
    from drone_perception.cli.sim import run_and_report

    out_dir = Path(args.out) / name

    def run_it(recorder: Recorder | None) -> CameraRunResult:
        return run_camera_scenario(
            name, config, seed=args.seed, sprites=sprites, recorder=recorder,
            detector_rate_hz=float(getattr(args, "detector_rate_hz", None) or 5.0),
            duration_s=getattr(args, "duration_s", None), video_path_stem=out_dir / "camera")

    summary, run = run_and_report(out_dir, args, run_it)
    summary["camera"] = {
        "sprites": sprites.mode, "detector_frames": run.detector_frames, "video": str(run.video_path),
        "render_ms_mean": round(run.render_ms_mean, 1), "detect_ms_mean": round(run.detect_ms_mean, 1),
        "detector_passes_mean": round(run.detector_passes_mean, 2), **run.recall,
    }
    return summary


def run_camera_scenarios(names: list[str], config: StackConfig, args: argparse.Namespace) -> int:
    """``drone-perception sim --perception camera``: exit code 0 when every run kept its invariants."""
    from drone_perception.cli.sim import _print_summaries

    sprites = _sprites_from_args(args)
    summaries = [run_camera_one(name, config, args, sprites) for name in names]
    _print_summaries(summaries, as_json=args.json)
    if not args.json:
        for s in summaries:
            c = s["camera"]
            print(f"   camera ({c['sprites']} sprites): {c['detector_frames']} detector frames, render "
                  f"{c['render_ms_mean']} ms, detect {c['detect_ms_mean']} ms ({c['detector_passes_mean']} passes)")
            print(f"   recall {c['recall']} (subject {c['subject_recall']}), false positives "
                  f"{c['false_positives']}/{c['detections']}; by height: " + ", ".join(
                      f"{k} {v['recall']} (n={v['n']})" for k, v in c["by_height"].items()))
            print(f"   video: {c['video']}")
    return 0 if all(s["passed"] for s in summaries) else 1
