"""Camera in the loop: world -> rendered frame -> the real detector -> the real tracker and stack -> autopilot.

The loop of :func:`sim.runners.direct.run_scenario` (same control loop, world, crew, pipeline, ground-truth figures
in a :class:`~sim.runners.truth.ScenarioResult`) with perception from rendered frames (:mod:`sim.sensing.render`)
through the shipped ONNX detector (``config.detector``). Control runs at ``config.control_rate_hz``; a frame is
rendered and handed to ``Pipeline.step(frame=...)`` only on detector ticks (``detector_rate_hz``, default 5 Hz), the
other periods pass no perception. Detection latency is not modelled (the boxes carry the frame's stamp).

The detector is the shipped model wrapped in :class:`~drone_perception.detect.RoiTilingDetector`: full frame
plus crops around the current tracks (locked subject first); while no subject is locked, a 3x2 tile grid as
well (acquisition). People inside a sensor blackout window of the scenario (``World.hidden_s``) are not
drawn. Recall is measured on every detector frame against the renderer's ground truth: a person counts when
at least half of its sprite is visible, and is found by a detection with IoU >= 0.5 with its visible box.

Each run writes ``camera.mp4`` in H.264 at the detector rate (see :class:`AnnotatedVideo` for the fallbacks when
no H.264 encoder is installed, and ``CameraRunResult.video_codec`` for the one used), annotated with the
detections, tracks, the locked subject, the governor verdict and the true separation, next to the record,
audit report and trajectory plot that ``drone-perception sim`` writes.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np

from drone_perception.config import StackConfig
from drone_perception.detect import RoiTilingDetector, TilingConfig, load_detector
from drone_perception.detect.tiling import ImageDetector
from drone_perception.interfaces import NullRecorder, Recorder
from drone_perception.loop import ControlLoop, Period, Sensed
from drone_perception.pipeline import Pipeline, PipelineOutput
from drone_perception.record.header import record_run_header
from drone_perception.selection import PipelineTrackingHandler
from drone_perception.track.association import iou_matrix
from drone_perception.track.bytetrack import ByteTracker
from drone_perception.track.lock import LockState
from drone_perception.types import Detections, Frame, Tracks, TrackState
from sim.runners.crew import ConsoleHands, OperatorScript, ScriptedCrew
from sim.runners.direct import periods_for
from sim.runners.parts import WorldClock, WorldVehicleLink
from sim.runners.truth import ScenarioResult, TruthMeter, TruthObserver
from sim.sensing.person_sprites import SpriteBank, load_video_sprites
from sim.sensing.render import PersonView, SceneRenderer, poses_from_world
from sim.world.scenarios import get_scenario
from sim.world.world import World

log = logging.getLogger(__name__)

#: Person-height bins (px, lower edges) of the recall table.
HEIGHT_BINS_PX = (0.0, 20.0, 30.0, 40.0, 60.0, 80.0, 120.0, 200.0)
#: A person is ground truth on a frame when at least this share of its sprite is visible.
MIN_VISIBLE_SHARE = 0.5
MATCH_IOU = 0.5


#: Detection policies of the camera loop: ``flight`` is the in-flight policy (full frame only, every detector
#: frame: what the live pipeline and ``detect`` do, chosen by measurement in models/MODEL_CARD.md); ``tiles`` adds a
#: 3x2 tile grid while acquiring and crops round the tracks while tracking (4-7 passes a frame, opt-in).
CAMERA_POLICIES = ("flight", "tiles")


class TrackRoiDetector:
    """``Detector`` for the pipeline under one of :data:`CAMERA_POLICIES`. With ``tiles``: full frame + crops
    around ``rois_xyxy_px`` (set by the loop before each frame), and a 3x2 tile grid while ``acquire`` is set (no
    locked subject: there may be people too small for the full-frame pass and no track to crop around). With
    ``flight``: the full frame only, whatever the ROIs. Keeps the last call's time in seconds and its passes."""

    def __init__(self, base: ImageDetector, max_rois: int = 3, *, policy: str = "flight") -> None:
        if policy not in CAMERA_POLICIES:
            raise ValueError(f"policy: expected one of {CAMERA_POLICIES}, got {policy!r}")
        self.policy = policy
        self.full = RoiTilingDetector(base, TilingConfig())
        self.tracking = RoiTilingDetector(base, TilingConfig(max_rois=max_rois))
        self.acquiring = RoiTilingDetector(base, TilingConfig(tile_grid=(3, 2)))
        self.rois_xyxy_px: np.ndarray = np.zeros((0, 4))
        self.acquire = True
        self.last_detect_s = 0.0
        self.last_passes = 0

    def detect(self, frame: Frame) -> Detections:
        t0 = time.perf_counter()
        h, w = frame.image.shape[:2]
        if self.policy == "flight":
            tiler, rois = self.full, None
        else:
            tiler = self.acquiring if self.acquire or not len(self.rois_xyxy_px) else self.tracking
            rois = self.rois_xyxy_px
        det = tiler.detect(frame, rois)
        self.last_passes = len(tiler.windows((w, h), rois))
        self.last_detect_s = time.perf_counter() - t0
        return det


def rois_from_tracks(tracks: Tracks | None, subject_id: int | None) -> np.ndarray:
    """Boxes (N, 4) of the live tracks, the locked subject's first, then by confidence/age order."""
    if tracks is None or not len(tracks):
        return np.zeros((0, 4))
    order = sorted(range(len(tracks)), key=lambda i: (int(tracks.track_id[i]) != subject_id,
                                                      int(tracks.state[i]) != int(TrackState.CONFIRMED)))
    return np.asarray(tracks.xyxy_px, np.float64)[order]


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


#: Codecs :class:`AnnotatedVideo` may write, best first; only H.264 plays in browsers.
VIDEO_CODECS = ("h264", "mpeg4", "mjpeg")


class _PyAvH264Writer:
    """H.264 (libx264, yuv420p, High profile) in mp4 through PyAV, whose wheels bundle FFmpeg with libx264:
    nothing is downloaded at run time. Raises when PyAV or its libx264 encoder is missing."""

    def __init__(self, path: Path, fps: float, size_wh_px: tuple[int, int]) -> None:
        import av  # optional: without it the video falls back to OpenCV's codecs

        av.codec.Codec("libx264", "w")  # raises when this FFmpeg build has no libx264
        self._av = av
        # +faststart puts the index first, so a browser starts playing before it has the whole file.
        self._container = av.open(str(path), mode="w", options={"movflags": "+faststart"})
        try:
            stream = self._container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height = size_wh_px
            stream.pix_fmt = "yuv420p"  # browsers decode 4:2:0 only
            stream.options = {"crf": "23", "preset": "veryfast"}
        except Exception:
            self._container.close()
            raise
        self._stream = stream

    def write(self, image: np.ndarray) -> None:
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def release(self) -> None:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()


def _opencv_h264_works(directory: Path, fps: float) -> str | None:
    """The fourcc under which this OpenCV writes H.264 that it can read back, or None (PyPI's opencv wheels
    have no H.264 encoder; a system OpenCV built against an FFmpeg with libx264 has)."""
    probe = directory / ".h264-probe.mp4"
    try:
        for fourcc in ("avc1", "H264"):
            writer = cv2.VideoWriter(str(probe), cv2.VideoWriter.fourcc(*fourcc), fps, (64, 64))
            if not writer.isOpened():
                continue
            for _ in range(2):
                writer.write(np.zeros((64, 64, 3), np.uint8))
            writer.release()
            cap = cv2.VideoCapture(str(probe))
            ok = cap.isOpened() and cap.read()[0]
            cap.release()
            if ok:
                return fourcc
        return None
    finally:
        probe.unlink(missing_ok=True)


class AnnotatedVideo:
    """Writes annotated frames at ``fps`` (the detector rate: one frame per rendered camera frame).

    Codec, best first, and ``codec`` says which was used: H.264 mp4 through PyAV (``pip install av``), else
    through OpenCV when its FFmpeg has an H.264 encoder; else, with a warning, MPEG-4 Part 2 mp4 (``mp4v``: VLC
    and ffplay play it, browsers do not); else Motion-JPEG avi. ``browser_playable`` is True only for H.264.
    Frames of odd width or height are padded by one pixel (4:2:0 H.264 needs even sizes)."""

    def __init__(self, path_stem: Path, fps: float, size_wh_px: tuple[int, int]) -> None:
        path_stem.parent.mkdir(parents=True, exist_ok=True)
        w, h = size_wh_px
        self._size_wh_px = (w + w % 2, h + h % 2)
        self.fps = fps
        self.path = path_stem.with_suffix(".mp4")
        self._writer: Any = None
        try:
            self._writer = _PyAvH264Writer(self.path, fps, self._size_wh_px)
            self.codec = "h264"
            log.info("camera video %s: H.264 (libx264 through PyAV), %.1f fps", self.path, fps)
            return
        except Exception as exc:  # ImportError without PyAV, av.FFmpegError / ValueError without libx264
            why = f"PyAV's H.264 encoder is unavailable ({type(exc).__name__}: {exc})"
        fourcc = _opencv_h264_works(path_stem.parent, fps)
        if fourcc is not None:
            self._open_cv2(fourcc)
            self.codec = "h264"
            log.info("camera video %s: H.264 (OpenCV fourcc %s), %.1f fps", self.path, fourcc, fps)
            return
        for suffix, fourcc, codec in ((".mp4", "mp4v", "mpeg4"), (".avi", "MJPG", "mjpeg")):
            self.path = path_stem.with_suffix(suffix)
            if self._open_cv2(fourcc):
                self.codec = codec
                log.warning("camera video %s: %s and OpenCV has none either; writing %s (fourcc %s), which "
                            "browsers do not play (pip install av for H.264)", self.path, why,
                            "MPEG-4 Part 2" if codec == "mpeg4" else "Motion-JPEG", fourcc)
                return
        raise OSError(f"cannot open a video writer for {path_stem} (no H.264, mp4v nor MJPG encoder)")

    def _open_cv2(self, fourcc: str) -> bool:
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*fourcc), self.fps, self._size_wh_px)
        if writer.isOpened():
            self._writer = writer
            return True
        writer.release()
        return False

    @property
    def browser_playable(self) -> bool:
        return self.codec == "h264"

    def write(self, image: np.ndarray) -> None:
        w, h = self._size_wh_px
        if image.shape[1] != w or image.shape[0] != h:
            image = cv2.copyMakeBorder(image, 0, h - image.shape[0], 0, w - image.shape[1], cv2.BORDER_REPLICATE)
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
    #: The video's codec (one of :data:`VIDEO_CODECS`; only "h264" plays in browsers), None without a video.
    video_codec: str | None = None



class RenderedFrames:
    """``PerceptionSource``: on every ``every``-th period a frame rendered from the world's true camera (people
    inside a blackout window of the scenario are not drawn), for the pipeline's detector; nothing in between.
    Before each frame it points ``roi_detector`` at the pipeline's current tracks (locked subject first) and
    switches it to acquisition while nothing is locked."""

    def __init__(self, world: World, renderer: SceneRenderer, roi_detector: TrackRoiDetector, pipeline: Pipeline,
                 every: int) -> None:
        self.world = world
        self.renderer = renderer
        self.roi_detector = roi_detector
        self.pipeline = pipeline
        self.every = every
        self.index = 0
        #: The last frame's ground truth: who is drawn where, and how much of each is visible.
        self.views: tuple[PersonView, ...] = ()
        self.render_s: list[float] = []
        self._visible_subject = False

    def sense(self, now_s: float) -> Sensed:
        step, self.index = self.index, self.index + 1
        if step % self.every:
            return Sensed()
        world = self.world
        camera = world.camera_model()
        hidden = world.hidden_mask().tolist()
        poses = [p for p, h in zip(poses_from_world(world), hidden) if not h]
        t0 = time.perf_counter()
        rendered = self.renderer.render(camera, poses, world.trees)
        self.render_s.append(time.perf_counter() - t0)
        self.views = rendered.people
        self.roi_detector.rois_xyxy_px = rois_from_tracks(self.pipeline.tracks, self.pipeline.lock.track_id)
        self.roi_detector.acquire = self.pipeline.lock.state != LockState.LOCKED
        subject_id = world.subject.id
        self._visible_subject = any(v.person_id == subject_id and v.visible_share >= MIN_VISIBLE_SHARE
                                    for v in self.views)
        return Sensed(image=rendered.image, seq=step)

    def subject_in_view(self) -> bool:
        """Ground truth of the last frame: at least half of the subject's sprite was visible."""
        return self._visible_subject


class ProgressObserver:
    """Tells ``progress(text)`` every ``every_s`` of wall time how far the run is (a camera run takes minutes)."""

    def __init__(self, world: World, progress: Callable[[str], None], every_s: float = 10.0) -> None:
        self.world, self.progress, self.every_s = world, progress, every_s
        self._t0 = self._next = time.monotonic()

    def on_period(self, period: Period) -> None:
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.every_s
            self.progress(f"t={self.world.t_s:.0f} s simulated after {now - self._t0:.0f} s")


class CameraObserver:
    """Per detector frame: detector time and passes, recall against the renderer's ground truth, and (with
    ``video``) the annotated frame."""

    def __init__(self, name: str, world: World, frames: RenderedFrames, standoff_m: float,
                 video: AnnotatedVideo | None) -> None:
        self.name = name
        self.world = world
        self.frames = frames
        self.standoff_m = standoff_m
        self.video = video
        self.recall = RecallCounter()
        self.detect_s: list[float] = []
        self.passes: list[int] = []

    def on_period(self, period: Period) -> None:
        out, frame = period.output, period.frame
        if out is None or frame is None:
            return
        roi = self.frames.roi_detector
        self.detect_s.append(roi.last_detect_s)
        self.passes.append(roi.last_passes)
        dets = out.detections if out.detections is not None else Detections.empty(period.now_s)
        self.recall.add(self.frames.views, dets, self.world.subject.id)
        if self.video is None:
            return
        sep_min = self.world.min_separation_m()[0]
        limits = ",".join(sorted(out.safe.limits_applied)) or "-"
        est = out.governor.min_separation_m
        self.video.write(annotate(frame.image, out, [
            f"{self.name}  t={period.now_s:5.1f} s  lock {out.lock.state.value} {out.lock.track_id}  "
            f"engaged {out.send}",
            f"governor {out.safe.verdict.value} [{limits}]  est. sep {'-' if est is None else f'{est:.1f}'} m",
            f"true min sep {sep_min:.1f} m (standoff {self.standoff_m:.0f} m) "
            f"{'OK' if sep_min >= self.standoff_m else 'BROKEN'}",
        ]))


def run_camera_scenario(
    name: str,
    config: StackConfig | None = None,
    *,
    seed: int = 0,
    sprites: SpriteBank | None = None,
    detector: ImageDetector | None = None,
    detector_rate_hz: float = 5.0,
    policy: str = "flight",
    duration_s: float | None = None,
    recorder: Recorder | None = None,
    video_path_stem: Path | None = None,
    operator_script: OperatorScript | None = None,
    progress: Callable[[str], None] | None = None,
) -> CameraRunResult:
    """Run scenario ``name`` with camera perception. ``sprites`` default: the people cut from the elevated test
    video (raises ``SpriteSourceError`` without it); ``detector`` default: ``load_detector(config.detector)``;
    ``policy``: one of :data:`CAMERA_POLICIES` (default the in-flight policy, full frame only)."""
    spec = get_scenario(name)
    config = config or StackConfig()
    if not (math.isfinite(detector_rate_hz) and 0.0 < detector_rate_hz <= config.control_rate_hz):
        raise ValueError(f"detector_rate_hz: allowed (0, {config.control_rate_hz}], got {detector_rate_hz!r}")
    renderer = SceneRenderer(sprites if sprites is not None else load_video_sprites(), seed=seed)
    base = detector if detector is not None else cast(ImageDetector, load_detector(config.detector))
    roi_detector = TrackRoiDetector(base, policy=policy)
    rng = np.random.default_rng(seed)
    world = spec.build(rng, config)
    config = world.stack_config(config)
    rec: Recorder = recorder if recorder is not None else NullRecorder()
    pipeline = Pipeline(config, tracker=ByteTracker(config.tracker), detector=roi_detector, recorder=rec)
    dt_s = 1.0 / config.control_rate_hz
    every = max(1, round(config.control_rate_hz / detector_rate_hz))
    standoff = config.safety.min_standoff_m
    record_run_header(rec, config, stamp_s=0.0, scenario=name, link="sim", seed=seed, perception="camera")
    k = world.intrinsics
    video = AnnotatedVideo(video_path_stem, config.control_rate_hz / every, k.size_wh_px) if video_path_stem else None
    frames = RenderedFrames(world, renderer, roi_detector, pipeline, every)
    meter = TruthMeter(world, standoff, follow=config.follow)
    camera_obs = CameraObserver(name, world, frames, standoff, video)
    crew = ScriptedCrew(world, ConsoleHands(PipelineTrackingHandler(pipeline, k)), operator_script)
    loop = ControlLoop(pipeline, clock=WorldClock(world, dt_s), vehicle=WorldVehicleLink(world), perception=frames,
                       operator=crew, observers=[camera_obs, TruthObserver(meter, rec, frames.subject_in_view),
                                                 *([ProgressObserver(world, progress)] if progress else [])])
    try:
        loop.run(periods_for(duration_s if duration_s is not None else spec.duration_s, dt_s))
    finally:
        if video is not None:
            video.close()
    result = meter.result(name, seed, dt_s, redesignations=crew.redesignations)

    def mean_ms(xs: list[float]) -> float:
        return 1e3 * float(np.mean(xs)) if xs else math.nan

    return CameraRunResult(result, camera_obs.recall.table(), mean_ms(frames.render_s), mean_ms(camera_obs.detect_s),
                           float(np.mean(camera_obs.passes)) if camera_obs.passes else math.nan,
                           len(frames.render_s), video.path if video is not None else None,
                           video.codec if video is not None else None)


__all__ = ["CAMERA_POLICIES", "VIDEO_CODECS", "AnnotatedVideo", "CameraRunResult", "RecallCounter", "TrackRoiDetector",
           "annotate", "rois_from_tracks", "run_camera_scenario"]
