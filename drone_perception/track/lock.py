"""The operator's subject lock: which track is the subject, and whether we still know it.

States: ``NONE`` (nothing locked), ``LOCKED`` (the locked track is seen now), ``SEARCHING`` (not seen for
at most ``lock_reacquire_s``), ``LOST`` (gave up; stays lost until the operator locks again: the follow
controller must hold).

Re-acquisition (while SEARCHING) accepts exactly one *candidate*: the locked id seen again, or a confirmed
track **born after the subject disappeared** (older tracks coexisted with the subject, so they are other
people) whose ground position lies inside the ``lock_gate_sigma`` gate of the predicted subject position,
whose box height is within ``lock_size_ratio_max`` of the subject's last one and, when appearance is known,
whose colour histogram matches (``lock_appearance_min``). Two or more fitting candidates mean ambiguity:
LOST, never a silent switch to a look-alike; a candidate that fitted within the last
``AMBIGUITY_MEMORY_S`` as a confirmed track and vanished still counts. While a fitting candidate is
tentative the lock waits.
After a gap longer than ``REACQUIRE_SETTLE_S`` (or once any other confirmed track fitted) the single
candidate must stay the only fit that long; a tentative that fitted and died unconfirmed does not count.

While LOCKED, a locked track whose ground position jumps outside the gate is treated as a possible id
switch inside the tracker: LOST.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from drone_perception.config.perception import TrackerConfig
from drone_perception.track.appearance import color_histograms, similarity
from drone_perception.track.association import iou_matrix
from drone_perception.types import Frame, Tracks, TrackState

#: Speed uncertainty (m/s, 1 sigma per axis) of the lock's own prediction when the caller gives none.
FALLBACK_SPEED_SIGMA_MPS = 1.0
#: Minimum IoU between an operator's drag box and a track box to lock it.
LOCK_BOX_MIN_IOU = 0.3
#: A track that fitted the subject's gate this recently (s) still counts towards ambiguity after it vanished.
AMBIGUITY_MEMORY_S = 1.0
#: After a gap longer than this (s), a candidate must stay the only fit this long before it is taken.
REACQUIRE_SETTLE_S = 0.5
#: Smoothing of the subject's reference histogram while locked (share of the new observation).
APPEARANCE_SMOOTHING = 0.1


class LockState(enum.Enum):
    NONE = "none"
    LOCKED = "locked"
    SEARCHING = "searching"
    LOST = "lost"


@dataclass(frozen=True)
class LockStatus:
    """``track_id`` is the locked id (None when nothing is locked); ``row`` its index in the ``Tracks``
    given to ``update`` when LOCKED (else None); ``reason`` says why in words; ``stamp_s`` seconds."""

    state: LockState
    track_id: int | None
    row: int | None
    reason: str
    stamp_s: float


class SubjectLock:
    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config if config is not None else TrackerConfig.model_validate({})
        self.release()

    # ----------------------------------------------------------------------------------- operator side
    def release(self) -> None:
        """Drop the lock (state NONE)."""
        self._state = LockState.NONE
        self._track_id: int | None = None
        self.reason = "no subject locked"
        self._last_seen_s = math.nan
        self._last_h_px = math.nan
        self._last_pos = np.full(3, np.nan)
        self._last_sigma_m = math.nan
        self._vel_ne = np.zeros(2)
        self._ref_hist: np.ndarray | None = None
        # candidate id -> (first fit stamp, last fit stamp, ever confirmed while fitting)
        self._fit_seen: dict[int, tuple[float, float, bool]] = {}

    @property
    def state(self) -> LockState:
        return self._state

    @property
    def track_id(self) -> int | None:
        return self._track_id

    def lock(self, track_id: int, tracks: Tracks, *, appearance: np.ndarray | None = None,
             frame: Frame | None = None) -> bool:
        """Lock a confirmed, currently seen track. Returns False (reason in ``self.reason``) otherwise."""
        row = tracks.index_of(int(track_id))
        if row is None:
            self.reason = f"refused: no track {track_id} (known: {tracks.track_id.tolist()})"
            return False
        if tracks.state[row] != TrackState.CONFIRMED:
            self.reason = f"refused: track {track_id} is {TrackState(int(tracks.state[row])).name}, not CONFIRMED"
            return False
        self.release()
        self._state = LockState.LOCKED
        self._track_id = int(track_id)
        hists = self._appearance(tracks, appearance, frame)
        self._remember(tracks, row, hists, reset_hist=True)
        self.reason = f"locked track {track_id} by operator"
        return True

    def lock_at_pixel(self, u_px: float, v_px: float, tracks: Tracks, **kw: object) -> tuple[int | None, str]:
        """Lock the confirmed track whose box contains pixel (u, v) (an operator's click)."""
        seen = self._seen_confirmed(tracks)
        b = tracks.xyxy_px
        inside = seen & (b[:, 0] <= u_px) & (u_px <= b[:, 2]) & (b[:, 1] <= v_px) & (v_px <= b[:, 3])
        hits = np.flatnonzero(inside)
        if hits.size == 0:
            return None, f"refused: no confirmed track at pixel ({u_px:.0f}, {v_px:.0f})"
        if hits.size > 1:
            ids = tracks.track_id[hits].tolist()
            return None, f"refused: ambiguous click, tracks {ids} contain ({u_px:.0f}, {v_px:.0f}); drag a box"
        return self._lock_row(tracks, int(hits[0]), **kw)

    def lock_in_box(self, xyxy_px: np.ndarray, tracks: Tracks, **kw: object) -> tuple[int | None, str]:
        """Lock the confirmed track that best overlaps the operator's box (IoU >= 0.3, unambiguous)."""
        seen = np.flatnonzero(self._seen_confirmed(tracks))
        if seen.size == 0:
            return None, "refused: no confirmed track to lock"
        iou = iou_matrix(np.asarray(xyxy_px, float).reshape(1, 4), tracks.xyxy_px[seen])[0]
        order = np.argsort(-iou)
        best = float(iou[order[0]])
        if best < LOCK_BOX_MIN_IOU:
            return None, f"refused: no track overlaps the box enough (best IoU {best:.2f} < {LOCK_BOX_MIN_IOU})"
        if order.size > 1 and iou[order[1]] >= LOCK_BOX_MIN_IOU and iou[order[1]] > best - 0.1:
            ids = tracks.track_id[seen[order[:2]]].tolist()
            return None, f"refused: ambiguous box, tracks {ids} overlap it about equally"
        return self._lock_row(tracks, int(seen[order[0]]), **kw)

    def _lock_row(self, tracks: Tracks, row: int, **kw: object) -> tuple[int | None, str]:
        tid = int(tracks.track_id[row])
        ok = self.lock(tid, tracks, **kw)  # type: ignore[arg-type]
        return (tid if ok else None), self.reason

    # ----------------------------------------------------------------------------------- per frame
    def update(
        self,
        tracks: Tracks,
        stamp_s: float,
        predicted: tuple[np.ndarray, np.ndarray] | None = None,
        *,
        appearance: np.ndarray | None = None,
        frame: Frame | None = None,
    ) -> LockStatus:
        """Follow the locked subject through one tracker output.

        ``predicted``: the subject filter's predicted position (3,) NED m and covariance (3, 3) m^2 at
        ``stamp_s`` (None: the lock extrapolates the last position with a growing uncertainty).
        ``appearance``: (N, B) histograms row-aligned with ``tracks``, or ``frame`` to compute them."""
        if self._state in (LockState.NONE, LockState.LOST):
            return self._status(None, stamp_s)
        assert self._track_id is not None
        hists = self._appearance(tracks, appearance, frame)
        pred = predicted if predicted is not None else self._fallback_prediction(stamp_s)
        row = tracks.index_of(self._track_id)
        seen = row is not None and int(tracks.state[row]) != TrackState.LOST

        if self._state == LockState.LOCKED:
            if seen:
                assert row is not None
                if self._gate_fails(tracks, row, pred):
                    return self._lose(f"locked track {self._track_id} jumped outside the "
                                      f"{self.config.lock_gate_sigma:g}-sigma gate (possible id switch)", stamp_s)
                self._remember(tracks, row, hists)
                self.reason = f"track {self._track_id} in view"
                return self._status(row, stamp_s)
            self._state = LockState.SEARCHING
            self._fit_seen = {}

        elapsed = stamp_s - self._last_seen_s
        if elapsed > self.config.lock_reacquire_s:
            return self._lose(f"subject not re-acquired within {self.config.lock_reacquire_s:g} s", stamp_s)
        fits: list[int] = []
        if seen:
            assert row is not None
            if self._gate_fails(tracks, row, pred):
                return self._lose(f"track {self._track_id} re-appeared outside the gate (possible id switch)",
                                  stamp_s)
            fits.append(row)
        fits += self._new_candidates(tracks, pred, hists)
        for r in fits:
            tid = int(tracks.track_id[r])
            first, _, was_confirmed = self._fit_seen.get(tid, (stamp_s, stamp_s, False))
            self._fit_seen[tid] = (first, stamp_s, was_confirmed or int(tracks.state[r]) != TrackState.TENTATIVE)
        recent = {tid for tid, (_, last, _) in self._fit_seen.items() if stamp_s - last <= AMBIGUITY_MEMORY_S}
        present_tentative = {int(tracks.track_id[r]) for r in fits
                             if int(tracks.state[r]) == TrackState.TENTATIVE}
        # confirmed candidates, present or vanished recently (a tentative that died is clutter or a re-spawn)
        committed = {tid for tid in recent if self._fit_seen[tid][2]}
        recent = committed | present_tentative
        if len(committed) >= 2 or (len(recent) >= 2 and len(fits) >= 2 and not present_tentative):
            return self._lose(f"ambiguous: tracks {sorted(recent)} all fit the subject; not switching", stamp_s)
        if len(recent) == 1 and len(fits) == 1 and not present_tentative:
            r = fits[0]
            new_id = int(tracks.track_id[r])
            first_fit = self._fit_seen[new_id][0]
            settle = REACQUIRE_SETTLE_S if first_fit - self._last_seen_s > REACQUIRE_SETTLE_S else 0.0
            # the settle clock restarts whenever another *confirmed* track fitted; a tentative that died
            # unconfirmed (a one-frame duplicate the tracker spawned from the subject's own detection, or
            # clutter) does not, else every such duplicate costs 0.5 s without measurements
            others = [last for tid, (_, last, confirmed) in self._fit_seen.items() if tid != new_id and confirmed]
            sole_since = max([first_fit, *others])
            if others:
                settle = REACQUIRE_SETTLE_S
            if stamp_s - sole_since >= settle - 1e-9:
                how = "seen again" if new_id == self._track_id else f"re-acquired as track {new_id}"
                self._track_id = new_id
                self._state = LockState.LOCKED
                self._fit_seen = {}
                self._remember(tracks, r, hists)
                self.reason = f"{how} after {elapsed:.2f} s"
                return self._status(r, stamp_s)
            self.reason = f"searching: candidate track {new_id} must stay the only fit for {settle:g} s"
            return self._status(None, stamp_s)
        self.reason = (f"searching for {elapsed:.2f} s" if not fits
                       else f"searching: waiting for candidate tracks {tracks.track_id[fits].tolist()} to confirm")
        return self._status(None, stamp_s)

    # ----------------------------------------------------------------------------------- helpers
    def _status(self, row: int | None, stamp_s: float) -> LockStatus:
        return LockStatus(self._state, self._track_id, row, self.reason, float(stamp_s))

    def _lose(self, reason: str, stamp_s: float) -> LockStatus:
        self._state = LockState.LOST
        self.reason = reason
        return self._status(None, stamp_s)

    @staticmethod
    def _seen_confirmed(tracks: Tracks) -> np.ndarray:
        return np.asarray(tracks.state == TrackState.CONFIRMED)

    def _appearance(self, tracks: Tracks, appearance: np.ndarray | None, frame: Frame | None) -> np.ndarray | None:
        if appearance is not None:
            return np.asarray(appearance, float).reshape(len(tracks), -1)
        if frame is not None and len(tracks):
            return color_histograms(frame.image, tracks.xyxy_px)
        return None

    def _remember(self, tracks: Tracks, row: int, hists: np.ndarray | None, reset_hist: bool = False) -> None:
        stamp = float(tracks.stamp_s)
        pos = tracks.position_ned_m[row]
        if np.all(np.isfinite(pos[:2])) and np.all(np.isfinite(self._last_pos[:2])):
            dt = stamp - self._last_seen_s
            if dt > 1e-3:
                v = (pos[:2] - self._last_pos[:2]) / dt
                self._vel_ne = 0.8 * self._vel_ne + 0.2 * v
        if np.all(np.isfinite(pos[:2])):
            self._last_pos = pos.copy()
            self._last_sigma_m = float(tracks.position_sigma_m[row])
        self._last_seen_s = stamp
        self._last_h_px = float(tracks.xyxy_px[row, 3] - tracks.xyxy_px[row, 1])
        if hists is not None and np.all(np.isfinite(hists[row])):
            if reset_hist or self._ref_hist is None:
                self._ref_hist = hists[row].copy()
            else:
                self._ref_hist = (1 - APPEARANCE_SMOOTHING) * self._ref_hist + APPEARANCE_SMOOTHING * hists[row]

    def _fallback_prediction(self, stamp_s: float) -> tuple[np.ndarray, np.ndarray] | None:
        if not np.all(np.isfinite(self._last_pos[:2])):
            return None
        dt = max(0.0, stamp_s - self._last_seen_s)
        pos = self._last_pos.copy()
        pos[:2] += self._vel_ne * dt
        sig = self._last_sigma_m if math.isfinite(self._last_sigma_m) else 1.0
        var = sig**2 + (FALLBACK_SPEED_SIGMA_MPS * dt) ** 2
        return pos, np.diag([var, var, 1.0])

    def _in_gate(self, tracks: Tracks, row: int, pred: tuple[np.ndarray, np.ndarray] | None) -> bool | None:
        """True/False when both positions are known, None when the gate cannot be evaluated."""
        pos = tracks.position_ned_m[row, :2]
        sig = float(tracks.position_sigma_m[row])
        if pred is None or not (np.all(np.isfinite(pos)) and math.isfinite(sig)):
            return None
        p, cov = np.asarray(pred[0], float)[:2], np.asarray(pred[1], float)[:2, :2]
        if not (np.all(np.isfinite(p)) and np.all(np.isfinite(cov))):
            return None
        S = cov + sig**2 * np.eye(2)
        d = pos - p
        d2 = float(d @ np.linalg.solve(S, d))
        return d2 <= self.config.lock_gate_sigma**2

    def _gate_fails(self, tracks: Tracks, row: int, pred: tuple[np.ndarray, np.ndarray] | None) -> bool:
        return self._in_gate(tracks, row, pred) is False

    def _new_candidates(self, tracks: Tracks, pred: tuple[np.ndarray, np.ndarray] | None,
                        hists: np.ndarray | None) -> list[int]:
        cfg = self.config
        born_s = tracks.stamp_s - tracks.age_s
        rows = np.flatnonzero((tracks.track_id != self._track_id) & (tracks.state != TrackState.LOST)
                              & (born_s > self._last_seen_s - 1e-6))
        out = []
        for r in rows:
            if self._in_gate(tracks, int(r), pred) is not True:
                continue  # without a ground gate a new track is never taken for the subject
            h = float(tracks.xyxy_px[r, 3] - tracks.xyxy_px[r, 1])
            if math.isfinite(self._last_h_px) and self._last_h_px > 0 and h > 0:
                ratio = max(h / self._last_h_px, self._last_h_px / h)
                if ratio > cfg.lock_size_ratio_max:
                    continue
            if hists is not None and self._ref_hist is not None:
                sim = similarity(self._ref_hist, hists[r])
                if math.isfinite(sim) and sim < cfg.lock_appearance_min:
                    continue
            out.append(int(r))
        return out
