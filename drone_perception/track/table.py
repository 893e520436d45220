"""The tracker's private, mutable state: one row per live track, as parallel numpy arrays.

Kept as arrays (not one object per track) so prediction, gating and output are vectorised; the
tracker never hands these arrays out (it returns frozen :class:`~drone_perception.types.Tracks`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass
class TrackTable:
    """Rows are tracks. Box filter ``x`` (N, 8) / ``P`` (N, 8, 8) (see ``kalman.BOX_STATE``); ground filter
    ``gx`` (N, 4) / ``gP`` (N, 4, 4) (see ``kalman.GROUND_STATE``), meaningful where ``ground_valid``;
    ``down_m`` is the NED down coordinate of the foot point; ``width_m`` the smoothed body width (NaN if
    unknown); ``born_s``/``last_seen_s`` stamps in seconds; ``hits`` matched detections so far."""

    track_id: np.ndarray
    x: np.ndarray
    P: np.ndarray
    state: np.ndarray
    hits: np.ndarray
    born_s: np.ndarray
    last_seen_s: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    ground_valid: np.ndarray
    gx: np.ndarray
    gP: np.ndarray
    down_m: np.ndarray
    width_m: np.ndarray

    @classmethod
    def empty(cls) -> TrackTable:
        return cls.new(np.zeros(0, np.int64), np.zeros((0, 8)), np.zeros((0, 8, 8)), np.zeros(0, np.int8),
                       0.0, np.zeros(0, np.float32), np.zeros(0, np.int32))

    @classmethod
    def new(
        cls, track_id: np.ndarray, x: np.ndarray, P: np.ndarray, state: np.ndarray, now_s: float,
        confidence: np.ndarray, class_id: np.ndarray,
    ) -> TrackTable:
        """Fresh rows (one hit each, no ground estimate yet)."""
        n = track_id.shape[0]
        return cls(
            track_id=np.asarray(track_id, np.int64).copy(),
            x=np.asarray(x, np.float64).copy(),
            P=np.asarray(P, np.float64).copy(),
            state=np.asarray(state, np.int8).copy(),
            hits=np.ones(n, np.int64),
            born_s=np.full(n, now_s),
            last_seen_s=np.full(n, now_s),
            confidence=np.asarray(confidence, np.float32).copy(),
            class_id=np.asarray(class_id, np.int32).copy(),
            ground_valid=np.zeros(n, bool),
            gx=np.zeros((n, 4)),
            gP=np.tile(np.eye(4), (n, 1, 1)),
            down_m=np.full(n, np.nan),
            width_m=np.full(n, np.nan),
        )

    def __len__(self) -> int:
        return int(self.track_id.shape[0])

    def select(self, mask: np.ndarray) -> TrackTable:
        return TrackTable(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    def concat(self, other: TrackTable) -> TrackTable:
        return TrackTable(
            **{f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)]) for f in fields(self)}
        )
