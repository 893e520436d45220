"""Issue 11 research prototype: person recall/precision by box height and CPU ms/frame on real MOT17 frames.

Compares the shipped default (``drone_perception.detect.load_detector()``, yolov3-tiny 416) with permissive
candidate detectors whose ONNX files are kept in public GitHub trees (YOLOX-nano, PP-PicoDet-S, NanoDet-m),
at their native 416 input and re-targeted to larger inputs by ``tools/convert_yolox.py``.

    .venv/bin/python tools/eval_mot17_mini.py --data /tmp/r11data/MOT17-mini/train --models /tmp/r11models \
        --out research11/results.json

Ground truth (MOT17 gt.txt: frame,id,x,y,w,h,flag,class,visibility): positives = class 1 (pedestrian) with
flag 1. "Don't care" = classes 2 (person on vehicle), 7 (static person), 8 (distractor), 12 (reflection),
13 (crowd), flag-0 pedestrians and, in the ``vis>=0.5`` protocol, pedestrians under 50 % visible: a detection
matching one of those (IoU >= 0.5) is neither a TP nor an FP. Matching: greedy by score, IoU >= 0.5.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import onnxruntime as ort

from drone_perception.config.perception import DetectorConfig
from drone_perception.detect import RoiTilingDetector, TilingConfig, load_detector
from drone_perception.detect.postprocess import nms
from drone_perception.types import Detections

BINS = ((0, 60), (60, 120), (120, 10_000))
BIN_NAMES = ("<60", "60-120", ">=120")
IGNORE_CLASSES = {2, 7, 8, 12, 13}


# ------------------------------------------------------------------------------------------------ models
def _session(path: Path, threads: int) -> ort.InferenceSession:
    o = ort.SessionOptions()
    o.log_severity_level = 3
    if threads:
        o.intra_op_num_threads = threads
        o.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])


class CandidateDetector:
    """One COCO detector ONNX, person class only; ``detect_image`` like DetectorCore (boxes in image px)."""

    def __init__(
        self, kind: str, path: Path, threads: int = 2, conf: float = 0.05, nms_iou: float = 0.5, rgb: bool = False
    ) -> None:
        self.kind, self.path, self.conf, self.nms_iou, self.rgb = kind, path, conf, nms_iou, rgb
        self.sess = _session(path, threads)
        inp = self.sess.get_inputs()[0]
        self.input_name = inp.name
        self.h, self.w = int(inp.shape[2]), int(inp.shape[3])
        self.out_names = [o.name for o in self.sess.get_outputs()]
        strides = (8, 16, 32) if kind in ("yolox", "nanodet") else (8, 16, 32, 64)
        self.strides = strides
        self.grids = []
        for s in strides:
            gh, gw = math.ceil(self.h / s), math.ceil(self.w / s)
            xv, yv = np.meshgrid(np.arange(gw), np.arange(gh))
            self.grids.append(np.stack([xv.ravel(), yv.ravel()], 1).astype(np.float32))

    # preprocessing: keep-ratio resize into the top-left corner, pad, per-model normalisation
    def _prep(self, img: np.ndarray) -> tuple[np.ndarray, float]:
        ih, iw = img.shape[:2]
        r = min(self.w / iw, self.h / ih)
        nw, nh = round(iw * r), round(ih * r)
        canvas = np.full((self.h, self.w, 3), 114, np.uint8)
        canvas[:nh, :nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
        x: np.ndarray = canvas.astype(np.float32)
        if self.kind in ("picodet", "nanodet"):
            if self.rgb:
                x = x[:, :, ::-1]
                mean, std = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
            else:
                mean, std = (103.53, 116.28, 123.675), (57.375, 57.12, 58.395)
            x = (x - np.array(mean, np.float32)) / np.array(std, np.float32)
        # yolox: BGR 0..255, no normalisation (YOLOX >= 0.1.1 export)
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None]), r

    def _decode(self, outs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "yolox":
            p = outs[0][0]
            grid = np.concatenate(self.grids)
            st = np.concatenate([np.full((g.shape[0], 1), s, np.float32) for g, s in zip(self.grids, self.strides)])
            cxy = (p[:, :2] + grid) * st
            wh = np.exp(np.clip(p[:, 2:4], -10, 10)) * st
            score = p[:, 4] * p[:, 5]  # objectness x P(person)
            xyxy = np.concatenate([cxy - wh / 2, cxy + wh / 2], 1)
            return xyxy, score
        # GFL heads (PicoDet / NanoDet): n cls outputs [1, HW, 80] (sigmoid applied), then n [1, HW, 4*(R+1)]
        n = len(self.strides)
        cls, reg = outs[:n], outs[n:]
        boxes, scores = [], []
        for s, grid, c, r in zip(self.strides, self.grids, cls, reg):
            c, r = c[0], r[0]
            sc = c[:, 0]
            keep = sc >= self.conf
            if not keep.any():
                continue
            rr = r[keep].reshape(-1, 4, r.shape[1] // 4)
            e = np.exp(rr - rr.max(-1, keepdims=True))
            dist = (e / e.sum(-1, keepdims=True)) @ np.arange(rr.shape[-1], dtype=np.float32) * s
            ctr = grid[keep] * s + 0.5 * (s - 1)
            boxes.append(np.concatenate([ctr - dist[:, :2], ctr + dist[:, 2:]], 1))
            scores.append(sc[keep])
        if not boxes:
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
        return np.concatenate(boxes), np.concatenate(scores)

    def detect_image(self, image_bgr: np.ndarray, stamp_s: float = 0.0) -> Detections:
        x, r = self._prep(image_bgr)
        outs = self.sess.run(self.out_names, {self.input_name: x})
        xyxy, score = self._decode(outs)
        m = score >= self.conf
        xyxy, score = xyxy[m], score[m]
        if not len(score):
            return Detections.empty(stamp_s)
        keep = nms(xyxy, score, self.nms_iou, 300)
        ih, iw = image_bgr.shape[:2]
        b = xyxy[keep] / r
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, iw)
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, ih)
        ok = (b[:, 2] - b[:, 0] >= 1) & (b[:, 3] - b[:, 1] >= 1)
        return Detections(
            b[ok].astype(np.float32), score[keep][ok].astype(np.float32), np.zeros(int(ok.sum()), np.int32), stamp_s
        )


class Tiled:
    """Full frame + fixed tiles through the stack's own RoiTilingDetector."""

    def __init__(self, base, grid=(3, 2)) -> None:
        self.t = RoiTilingDetector(base, TilingConfig(tile_grid=grid))

    def detect_image(self, image_bgr: np.ndarray, stamp_s: float = 0.0) -> Detections:
        # RoiTilingDetector reads only .image and .stamp_s of the frame
        return self.t.detect(SimpleNamespace(image=image_bgr, stamp_s=stamp_s))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ data
@dataclass
class FrameGT:
    seq: str
    path: Path
    pos: np.ndarray  # (N, 4) xyxy, positives under the protocol
    ign: np.ndarray  # (M, 4) xyxy, don't care


def load_mot(root: Path, min_vis: float) -> list[FrameGT]:
    out = []
    for seq in sorted(p for p in root.iterdir() if (p / "gt" / "gt.txt").is_file()):
        gt = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
        for img in sorted((seq / "img1").glob("*.jpg")):
            f = int(img.stem)
            g = gt[gt[:, 0] == f]
            xyxy = np.c_[g[:, 2], g[:, 3], g[:, 2] + g[:, 4], g[:, 3] + g[:, 5]]
            ped = (g[:, 7] == 1) & (g[:, 6] == 1)
            pos = ped & (g[:, 8] >= min_vis)
            ign = np.isin(g[:, 7], list(IGNORE_CLASSES)) | ((g[:, 7] == 1) & ~pos)
            out.append(FrameGT(seq.name, img, xyxy[pos], xyxy[ign]))
    return out


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter + 1e-9)


def match(det_xyxy, det_score, gt: FrameGT, thr: float):
    """Returns (gt_found bool[N], det_status int[K] 1=TP 0=FP -1=ignored, det_height) at score >= thr."""
    m = det_score >= thr
    d, s = det_xyxy[m], det_score[m]
    order = np.argsort(-s, kind="stable")
    d = d[order]
    found = np.zeros(len(gt.pos), bool)
    status = np.zeros(len(d), int)
    ip, ii = iou(d, gt.pos), iou(d, gt.ign)
    for k in range(len(d)):
        if len(gt.pos):
            cand = np.where(~found, ip[k], -1)
            j = int(cand.argmax())
            if cand[j] >= 0.5:
                found[j] = True
                status[k] = 1
                continue
        if len(gt.ign) and ii[k].max() >= 0.5:
            status[k] = -1
    return found, status, d[:, 3] - d[:, 1]


def summarize(frames: list[FrameGT], dets: list[tuple[np.ndarray, np.ndarray]], thr: float) -> dict:
    nb = len(BINS)
    gt_n, gt_f = np.zeros(nb), np.zeros(nb)
    tp_b, fp_b = np.zeros(nb), np.zeros(nb)
    for fr, (b, s) in zip(frames, dets):
        found, status, dh = match(b, s, fr, thr)
        gh = fr.pos[:, 3] - fr.pos[:, 1]
        for i, (lo, hi) in enumerate(BINS):
            sel = (gh >= lo) & (gh < hi)
            gt_n[i] += sel.sum()
            gt_f[i] += found[sel].sum()
            dsel = (dh >= lo) & (dh < hi)
            tp_b[i] += (status[dsel] == 1).sum()
            fp_b[i] += (status[dsel] == 0).sum()
    r = lambda f, n: round(float(f / n), 3) if n else None  # noqa: E731
    res: dict[str, float | int | None] = {"thr": thr}
    for i, nm in enumerate(BIN_NAMES):
        res[f"R{nm}"] = r(gt_f[i], gt_n[i])
        res[f"P{nm}"] = r(tp_b[i], tp_b[i] + fp_b[i])
        res[f"n{nm}"] = int(gt_n[i])
    res["R>=60"] = r(gt_f[1:].sum(), gt_n[1:].sum())
    res["P>=60"] = r(tp_b[1:].sum(), tp_b[1:].sum() + fp_b[1:].sum())
    res["R_all"] = r(gt_f.sum(), gt_n.sum())
    res["P_all"] = r(tp_b.sum(), tp_b.sum() + fp_b.sum())
    return res


# ------------------------------------------------------------------------------------------------ main
def build(models: Path, threads: int) -> dict:
    def cand(kind, name, **kw):
        return lambda: CandidateDetector(kind, models / name, threads, **kw)

    shipped = lambda: load_detector(DetectorConfig(confidence_threshold=0.05, threads=threads))  # noqa: E731
    cfgs = {
        "shipped default full": shipped,
        "shipped default full+tiles3x2": lambda: Tiled(shipped()),
    }
    for kind, stem in (("yolox", "yolox_nano"), ("picodet", "picodet_s"), ("nanodet", "nanodet_m")):
        for wh in ("416x416", "640x384", "960x544", "1280x736"):
            cfgs[f"{stem} {wh} full"] = cand(kind, f"{stem}_{wh}.onnx")
    cfgs["yolox_nano 416x416 full+tiles3x2"] = lambda: Tiled(
        CandidateDetector("yolox", models / "yolox_nano_416x416.onnx", threads)
    )
    cfgs["picodet_s 416x416 full+tiles3x2"] = lambda: Tiled(
        CandidateDetector("picodet", models / "picodet_s_416x416.onnx", threads)
    )
    cfgs["picodet_s 416x416 RGB full"] = cand("picodet", "picodet_s_416x416.onnx", rgb=True)
    cfgs["nanodet_m 416x416 RGB full"] = cand("nanodet", "nanodet_m_416x416.onnx", rgb=True)
    return cfgs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("/tmp/r11data/MOT17-mini/train"))
    ap.add_argument("--models", type=Path, default=Path("/tmp/r11models"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="", help="substring filter on config names")
    ap.add_argument("--out", type=Path, default=Path("/tmp/mot17_mini_results.json"))
    a = ap.parse_args()
    protos = {"vis>=0.5": load_mot(a.data, 0.5), "all": load_mot(a.data, 0.0)}
    frames = protos["all"]
    images = [cv2.imread(str(f.path)) for f in frames]
    results = json.loads(a.out.read_text()) if a.out.is_file() else {}
    for name, make in build(a.models, a.threads).items():
        if a.only and a.only not in name:
            continue
        det = make()
        det.detect_image(images[0])  # warm-up
        dets, ms = [], []
        for img in images:
            t0 = time.perf_counter()
            d = det.detect_image(img)
            ms.append((time.perf_counter() - t0) * 1e3)
            dets.append((d.xyxy_px.astype(np.float64), d.confidence.astype(np.float64)))
        big = [m for m, f in zip(ms, frames) if "MOT17-05" not in f.seq]
        entry: dict = {"ms_per_1080p_frame_median": round(statistics.median(big), 1)}
        for pname, fr in protos.items():
            rows = [summarize(fr, dets, t) for t in (0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7)]
            ok = [r for r in rows if (r["P>=60"] or 0) >= 0.9]
            entry[pname] = {"by_thr": rows, "best_R>=60_at_P>=0.9": max(ok, key=lambda r: r["R>=60"]) if ok else None}
        results[name] = entry
        r35 = entry["vis>=0.5"]["by_thr"][2]
        print(
            f"{name:40s} {entry['ms_per_1080p_frame_median']:7.1f} ms  thr .35: R<60 {r35['R<60']} "
            f"R60-120 {r35['R60-120']} R>=120 {r35['R>=120']} R>=60 {r35['R>=60']} P>=60 {r35['P>=60']}",
            flush=True,
        )
        a.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
