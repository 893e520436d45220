"""ByteTrack-class multi-person tracker that also associates on the ground when the camera pose is known.

Per frame (``update(detections, camera, dt_s)``):

1. Every track is predicted ``dt_s`` seconds ahead: its image box with :class:`BoxKalmanFilter` and, when
   known, its foot point on the ground with :class:`GroundKalmanFilter`. When ``camera`` is given, a track
   with a ground estimate gets its predicted box by projecting that ground position through the *new*
   camera (``geometry.person_box``), so drone translation and yaw move the prediction with the image.
2. Detections are split by confidence: ``>= high_threshold`` (high), ``[low_threshold, high_threshold)``
   (low), below ``low_threshold`` (ignored).
3. Stage 1: high detections vs confirmed and lost tracks. Stage 2: low detections vs confirmed tracks
   still unmatched (IoU >= 0.5, as ByteTrack). Stage 3: remaining high detections vs tentative tracks.
   A pair is admissible when IoU >= ``match_iou``, the class ids agree and, where both the track and the
   detection have a ground position, their squared Mahalanobis distance is within ``ground_gate_chi2``.
   Cost = (1 - IoU) + 0.25 * d2 / ground_gate_chi2 (the ground term only where both are known).
4. Matched tracks are updated; a tentative track becomes confirmed after ``min_confirm_hits`` hits; a
   tentative track unmatched for more than ``tentative_max_lost_s`` is deleted (0: at its first miss, as
   ByteTrack; the default bridges two frames at 20 Hz, so a person a weak detector finds in only some frames can
   still be confirmed); an unmatched confirmed track becomes LOST and is deleted after
   ``max_lost_s`` seconds unseen. Unmatched high detections start tentative tracks. **Low-score detections
   that match nothing do not start tracks** (ByteTrack's rule); every detection's fate is reported in
   :attr:`ByteTracker.last_assignment`, so none is dropped silently.

Track ids come from a counter owned by the instance (1, 2, 3, ... after each ``reset``).
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass

import numpy as np

from drone_perception.config.perception import TrackerConfig
from drone_perception.errors import InvalidValueError
from drone_perception.geometry import locate_people, person_box
from drone_perception.track.association import assign, iou_matrix
from drone_perception.track.kalman import BoxKalmanFilter, GroundKalmanFilter, mahalanobis2_ne
from drone_perception.track.table import TrackTable
from drone_perception.types import CameraModel, Detections, Tracks, TrackState

log = logging.getLogger(__name__)

#: Minimum IoU for the second (low-score) stage, as in ByteTrack (cost threshold 0.5).
LOW_STAGE_MIN_IOU = 0.5
#: Weight of the normalised ground distance in the association cost.
GROUND_COST_WEIGHT = 0.25
#: Smoothing of the per-track metric width estimate (share of the new measurement).
WIDTH_SMOOTHING = 0.2


class DetectionFate(enum.IntEnum):
    """What became of one input detection in the last update."""

    MATCHED = 0  # updated an existing track
    NEW_TRACK = 1  # started a tentative track
    LOW_SCORE_UNMATCHED = 2  # low-score detection that matched no track (does not start one, by design)
    BELOW_LOW_THRESHOLD = 3  # confidence < low_threshold: not considered


# Plain-int copies of the enum members for the hot loop (an Enum attribute lookup costs a Python call).
_TENTATIVE, _CONFIRMED, _LOST = int(TrackState.TENTATIVE), int(TrackState.CONFIRMED), int(TrackState.LOST)
_FATE_MATCHED, _FATE_NEW_TRACK = int(DetectionFate.MATCHED), int(DetectionFate.NEW_TRACK)
_FATE_LOW_SCORE_UNMATCHED = int(DetectionFate.LOW_SCORE_UNMATCHED)
_FATE_BELOW_LOW_THRESHOLD = int(DetectionFate.BELOW_LOW_THRESHOLD)


@dataclass(frozen=True)
class Assignment:
    """Per input detection (row-aligned with the last ``Detections``): the track id it went to (-1 if
    none) and its :class:`DetectionFate`."""

    track_id: np.ndarray
    fate: np.ndarray


def _sigma_from_cov(cov_ne: np.ndarray) -> np.ndarray:
    """1-sigma horizontal uncertainty (sqrt of the largest eigenvalue) of (N, 2, 2) covariances."""
    if cov_ne.shape[0] == 0:
        return np.zeros(0)
    a, b, d = cov_ne[:, 0, 0], cov_ne[:, 0, 1], cov_ne[:, 1, 1]
    lam = (a + d) / 2.0 + np.sqrt(np.maximum(((a - d) / 2.0) ** 2 + b * b, 0.0))
    return np.asarray(np.sqrt(np.maximum(lam, 0.0)))


class ByteTracker:
    """Two-stage (high/low score) tracker with optional ground-plane association.

    ``config``: thresholds and timeouts (see :class:`TrackerConfig`). ``box_filter``/``ground_filter``:
    Kalman tuning; the defaults suit walking people seen from a drone.
    """

    def __init__(
        self,
        config: TrackerConfig | None = None,
        *,
        box_filter: BoxKalmanFilter | None = None,
        ground_filter: GroundKalmanFilter | None = None,
    ) -> None:
        self.config = config if config is not None else TrackerConfig.model_validate({})
        if self.config.low_threshold > self.config.high_threshold:
            raise InvalidValueError(
                f"low_threshold: must be <= high_threshold ({self.config.high_threshold}), "
                f"got {self.config.low_threshold}"
            )
        self.box_filter = box_filter if box_filter is not None else BoxKalmanFilter()
        self.ground_filter = ground_filter if ground_filter is not None else GroundKalmanFilter()
        self.reset()

    def reset(self) -> None:
        """Forget every track and restart ids at 1."""
        self._table = TrackTable.empty()
        self._next_id = 1
        self._now_s: float | None = None
        self.last_assignment = Assignment(np.zeros(0, np.int64), np.zeros(0, np.int8))

    # ----------------------------------------------------------------------------------------- queries
    def filter_state(self, track_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the box filter state ``x`` (8,) and covariance ``P`` (8, 8) of one track."""
        i = np.flatnonzero(self._table.track_id == track_id)
        if i.size == 0:
            raise InvalidValueError(f"track_id: no live track {track_id}")
        return self._table.x[i[0]].copy(), self._table.P[i[0]].copy()

    def __len__(self) -> int:
        return len(self._table)

    # ----------------------------------------------------------------------------------------- update
    def update(self, detections: Detections, camera: CameraModel | None, dt_s: float) -> Tracks:
        """Advance every track by ``dt_s`` seconds and associate ``detections`` (taken at
        ``detections.stamp_s`` by ``camera``; ``None`` = image-only tracking). Inputs are not mutated."""
        dt = float(dt_s)
        if not (math.isfinite(dt) and 0.0 <= dt <= 60.0):
            raise InvalidValueError(f"dt_s: must be finite and in [0, 60] s, got {dt_s!r}")
        cfg = self.config
        now = float(detections.stamp_s)
        self._now_s = now
        t = self._table
        # 1. predict
        if len(t):
            t.x, t.P = self.box_filter.predict(t.x, t.P, dt)
            g = t.ground_valid
            if g.all():  # (the common case: no row selection needed)
                t.gx, t.gP = self.ground_filter.predict(t.gx, t.gP, dt)
            elif g.any():
                gx, gP = self.ground_filter.predict(t.gx[g], t.gP[g], dt)
                t.gx[g], t.gP[g] = gx, gP
            if camera is not None and g.any():
                self._project_predictions(camera)
        # detections' ground fixes
        n_det = len(detections)
        det_xyxy = detections.xyxy_px.astype(np.float64)
        det_pos, det_cov, det_valid, det_range = self._locate(camera, det_xyxy)
        conf = detections.confidence
        high = np.flatnonzero(conf >= cfg.high_threshold)
        low = np.flatnonzero((conf >= cfg.low_threshold) & (conf < cfg.high_threshold))

        det_track = np.full(n_det, -1, np.int64)  # row in the table matched by each detection
        fate = np.full(n_det, _FATE_BELOW_LOW_THRESHOLD, np.int8)
        fate[low] = _FATE_LOW_SCORE_UNMATCHED
        matched_rows = np.zeros(len(t), bool)

        def stage(track_rows: np.ndarray, det_rows: np.ndarray, min_iou: float) -> np.ndarray:
            if track_rows.size == 0 or det_rows.size == 0:
                return det_rows
            boxes = self.box_filter.x_to_xyxy(t.x[track_rows])
            iou = iou_matrix(boxes, det_xyxy[det_rows])
            ok = (iou >= min_iou) & (t.class_id[track_rows][:, None] == detections.class_id[det_rows][None, :])
            cost = 1.0 - iou
            tg = t.ground_valid[track_rows]
            dg = det_valid[det_rows]
            if tg.any() and dg.any():
                d2 = np.zeros_like(iou)
                sub = mahalanobis2_ne(
                    t.gx[track_rows][tg, :2], t.gP[track_rows][tg, :2, :2],
                    det_pos[det_rows][dg, :2], det_cov[det_rows][dg, :2, :2],
                )
                d2[np.ix_(tg, dg)] = sub
                ok &= d2 <= cfg.ground_gate_chi2
                cost = cost + GROUND_COST_WEIGHT * np.minimum(d2, cfg.ground_gate_chi2) / cfg.ground_gate_chi2
            if ok.shape == (1, 1):  # one pair: the Hungarian solve is a formality (same result as assign)
                r = c = np.zeros(1 if ok[0, 0] else 0, np.int64)
            else:
                r, c = assign(cost, ok)
            tr, dr = track_rows[r], det_rows[c]
            det_track[dr] = tr
            matched_rows[tr] = True
            fate[dr] = _FATE_MATCHED
            left = np.ones(det_rows.size, dtype=bool)
            left[c] = False
            return det_rows[left]  # det_rows without the matched ones, order kept (as setdiff1d: sorted)

        confirmed_or_lost = np.flatnonzero(t.state != _TENTATIVE)
        high_left = stage(confirmed_or_lost, high, cfg.match_iou)
        tracked_left = np.flatnonzero((t.state == _CONFIRMED) & ~matched_rows)
        stage(tracked_left, low, max(LOW_STAGE_MIN_IOU, cfg.match_iou))
        tentative = np.flatnonzero(t.state == _TENTATIVE)
        high_left = stage(tentative, high_left, cfg.match_iou)

        # 4. update matched tracks
        dets_m = np.flatnonzero(det_track >= 0)
        rows_m = det_track[dets_m]
        if rows_m.size:
            t.x[rows_m], t.P[rows_m] = self.box_filter.update(t.x[rows_m], t.P[rows_m], det_xyxy[dets_m])
            t.hits[rows_m] += 1
            t.last_seen_s[rows_m] = now
            t.confidence[rows_m] = conf[dets_m]
            promote = rows_m[(t.hits[rows_m] >= cfg.min_confirm_hits)]
            t.state[rows_m] = np.where(t.state[rows_m] == _TENTATIVE, _TENTATIVE,
                                       _CONFIRMED)
            t.state[promote] = _CONFIRMED
            self._update_ground(rows_m, dets_m, det_pos, det_cov, det_valid, det_range, det_xyxy, camera)

        # unmatched tracks: tentative past tentative_max_lost_s deleted, confirmed -> lost, lost past max_lost_s deleted
        unmatched = ~matched_rows
        t.state[unmatched & (t.state == _CONFIRMED)] = _LOST
        keep = ~(unmatched & (t.state == _TENTATIVE) & (now - t.last_seen_s > cfg.tentative_max_lost_s))
        keep &= ~((t.state == _LOST) & (now - t.last_seen_s > cfg.max_lost_s))
        id_of_row = t.track_id.copy()
        if not keep.all():  # (select copies every column; nothing else holds these arrays)
            self._table = t = t.select(keep)

        # 5. births from unmatched high detections
        new_ids = np.arange(self._next_id, self._next_id + high_left.size, dtype=np.int64)
        if high_left.size:
            self._next_id += high_left.size
            x, P = self.box_filter.initiate(det_xyxy[high_left])
            state = np.full(high_left.size, _TENTATIVE, np.int8)
            if cfg.min_confirm_hits <= 1:
                state[:] = _CONFIRMED
            born = TrackTable.new(new_ids, x, P, state, now, conf[high_left], detections.class_id[high_left])
            gv = det_valid[high_left]
            if gv.any():
                gx, gP = self.ground_filter.initiate(det_pos[high_left][gv, :2], det_cov[high_left][gv, :2, :2])
                born.gx[gv], born.gP[gv] = gx, gP
                born.ground_valid[gv] = True
                born.down_m[gv] = det_pos[high_left][gv, 2]
                born.width_m[gv] = self._width_m(det_xyxy[high_left][gv], det_range[high_left][gv], camera)
            self._table = t = t.concat(born)
            fate[high_left] = _FATE_NEW_TRACK

        out_ids = np.full(n_det, -1, np.int64)
        out_ids[dets_m] = id_of_row[rows_m]
        out_ids[high_left] = new_ids
        self.last_assignment = Assignment(out_ids, fate)
        n_low_left = int(np.sum(fate == _FATE_LOW_SCORE_UNMATCHED))
        if n_low_left:
            log.debug("%d low-score detections matched no track (they do not start tracks)", n_low_left)
        return self._output(now)

    # ----------------------------------------------------------------------------------------- helpers
    def _locate(
        self, camera: CameraModel | None, det_xyxy: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = det_xyxy.shape[0]
        if camera is None or n == 0:
            return np.full((n, 3), np.nan), np.full((n, 3, 3), np.nan), np.zeros(n, bool), np.full(n, np.nan)
        fix = locate_people(camera, det_xyxy, person_height_m=self.config.person_height_m)
        valid = np.asarray(fix.valid, bool) & np.isfinite(fix.position_ned_m).all(axis=1)
        valid &= np.isfinite(fix.cov_ned_m2[:, :2, :2]).all(axis=(1, 2))
        return (np.asarray(fix.position_ned_m, float), np.asarray(fix.cov_ned_m2, float), valid,
                np.asarray(fix.range_m, float))

    def _width_m(self, xyxy: np.ndarray, range_m: np.ndarray, camera: CameraModel | None) -> np.ndarray:
        if camera is None:
            return np.full(xyxy.shape[0], np.nan)
        return np.asarray((xyxy[:, 2] - xyxy[:, 0]) * range_m / camera.intrinsics.fx_px)

    def _project_predictions(self, camera: CameraModel) -> None:
        """Replace the image prediction of ground-tracked people by the projection of their predicted foot
        point through the current camera (so the prediction follows the drone's own motion)."""
        t = self._table
        rows = np.flatnonzero(t.ground_valid & np.isfinite(t.width_m))
        if rows.size == 0:
            return
        foot = np.concatenate([t.gx[rows, :2], t.down_m[rows, None]], axis=1)
        xyxy, visible = person_box(camera, foot, self.config.person_height_m, t.width_m[rows])
        vis = np.asarray(visible, bool) & np.isfinite(xyxy).all(axis=1)
        if not vis.any():
            return
        z = self.box_filter.xyxy_to_z(np.asarray(xyxy, float)[vis])
        t.x[rows[vis], :4] = z

    def _update_ground(
        self, rows: np.ndarray, dets: np.ndarray, det_pos: np.ndarray, det_cov: np.ndarray,
        det_valid: np.ndarray, det_range: np.ndarray, det_xyxy: np.ndarray, camera: CameraModel | None,
    ) -> None:
        t = self._table
        ok = det_valid[dets]
        if not ok.any():
            return
        r, d = rows[ok], dets[ok]
        had = t.ground_valid[r]
        all_had = bool(had.all())
        if all_had or had.any():
            rr, dd = (r, d) if all_had else (r[had], d[had])
            t.gx[rr], t.gP[rr] = self.ground_filter.update(t.gx[rr], t.gP[rr], det_pos[dd, :2],
                                                           det_cov[dd, :2, :2])
        if not all_had:
            rr, dd = r[~had], d[~had]
            t.gx[rr], t.gP[rr] = self.ground_filter.initiate(det_pos[dd, :2], det_cov[dd, :2, :2])
            t.ground_valid[rr] = True
        t.down_m[r] = det_pos[d, 2]
        w_new = self._width_m(det_xyxy[d], det_range[d], camera)
        w_old = t.width_m[r]
        t.width_m[r] = np.where(np.isfinite(w_old), (1 - WIDTH_SMOOTHING) * w_old + WIDTH_SMOOTHING * w_new,
                                w_new)

    def _output(self, now_s: float) -> Tracks:
        t = self._table
        pos = np.full((len(t), 3), np.nan)
        sigma = np.full(len(t), np.nan)
        g = t.ground_valid
        if g.any():
            pos[g, :2] = t.gx[g, :2]
            pos[g, 2] = t.down_m[g]
            sigma[g] = _sigma_from_cov(t.gP[g, :2, :2])
        return Tracks(
            track_id=t.track_id,
            xyxy_px=self.box_filter.x_to_xyxy(t.x),
            state=t.state,
            age_s=now_s - t.born_s,
            position_ned_m=pos,
            position_sigma_m=sigma,
            stamp_s=now_s,
            confidence=t.confidence,
        )
