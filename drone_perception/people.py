"""Memory of every person the governor must stay clear of: seen now, or seen recently and remembered.

The camera sees only part of the world. A person who left the view (or whose track was lost behind an
occluder) is kept at their last known foot position with an uncertainty that grows at ``growth_mps``
(a person can walk anywhere at up to that speed), and forgotten only after ``forget_after_s`` unseen.

Frames and units: NED metres, m/s, monotonic seconds, as in :class:`drone_perception.types.People`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drone_perception.errors import InvalidValueError
from drone_perception.types import People, Tracks, TrackState

LOG = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]

#: Time constant (s) of the exponential smoothing of velocities from successive positions.
VELOCITY_SMOOTHING_TAU_S = 0.25
#: 1-sigma uncertainty (m) used for a positioned track whose tracker gave no (finite) sigma.
UNKNOWN_SIGMA_M = 3.0
#: The walking reach ``growth_mps * time_unseen`` is a worst case; it is reported as this many sigmas so that
#: the governor's ``k * sigma`` margin (k = 2) recovers the reach, not twice it.
REACH_SIGMAS = 2.0
#: A new track that appears within ``HANDOVER_BASE_M + growth_mps * gap`` of where a remembered person was
#: last seen, at most ``HANDOVER_MAX_GAP_S`` later, is taken to be that person under a new id (the tracker
#: re-identified them); the old entry is dropped instead of leaving a ghost with a growing keep-out disc.
HANDOVER_BASE_M = 1.5
HANDOVER_MAX_GAP_S = 3.0


@dataclass
class _Person:
    """Mutable record of one remembered person (private to the memory)."""

    position_ned_m: FloatArray
    velocity_ned_mps: FloatArray
    sigma_at_last_seen_m: float
    last_seen_s: float


class PeopleMemory:
    """Everyone the governor must keep clear of.

    ``growth_mps``: how fast the position uncertainty of an unseen person grows (m/s). It bounds how far
      a person may have walked since last seen: raising it is more conservative (bigger keep-out discs),
      lowering it below a running pace is unsafe. Range (0, 15].
    ``forget_after_s``: an unseen person is dropped after this long. Raising it remembers longer (the disc
      grows to ``growth_mps * forget_after_s``). Range (0, 3600].

    Which tracks count as *seen now*: CONFIRMED tracks with a finite ``position_ned_m``. Tentative tracks
    (one or two hits: false positives, or the first frames of a person, confirmed 0.1-0.2 s later) are not
    remembered, because a ghost with a growing disc would block the vehicle for ``forget_after_s``. A
    ``LOST`` track's position is the tracker's own extrapolation, not an observation, so the memory keeps
    the last observed position and grows the uncertainty instead (more conservative). A track without a
    ground position (e.g. its feet above the horizon) cannot be placed: it is listed in
    :attr:`unplaced_track_ids` (and logged) rather than dropped silently; if the id was placed before, the
    memory keeps remembering it.
    """

    def __init__(self, *, growth_mps: float = 2.5, forget_after_s: float = 30.0) -> None:
        g, f = float(growth_mps), float(forget_after_s)
        if not (math.isfinite(g) and 0.0 < g <= 15.0):
            raise InvalidValueError(f"growth_mps: must be in (0, 15] m/s, got {growth_mps!r}")
        if not (math.isfinite(f) and 0.0 < f <= 3600.0):
            raise InvalidValueError(f"forget_after_s: must be in (0, 3600] s, got {forget_after_s!r}")
        self.growth_mps = g
        self.forget_after_s = f
        self._people: dict[int, _Person] = {}
        self._stamp_s: float | None = None
        self._track_ids: tuple[int, ...] = ()
        self._unplaced: tuple[int, ...] = ()

    def reset(self) -> None:
        """Forget everyone (e.g. after the tracker was reset and its ids start over)."""
        self._people.clear()
        self._stamp_s = None
        self._track_ids = ()
        self._unplaced = ()

    @property
    def track_ids(self) -> tuple[int, ...]:
        """Track id of each row of the last :class:`People` returned by :meth:`update`."""
        return self._track_ids

    @property
    def unplaced_track_ids(self) -> tuple[int, ...]:
        """Ids of the last update's seen tracks that had no ground position and were never placed."""
        return self._unplaced

    def __len__(self) -> int:
        return len(self._people)

    def update(self, tracks: Tracks, subject_track_id: int | None, stamp_s: float) -> People:
        """Fold in this frame's tracks and return everyone remembered at ``stamp_s`` (seconds, monotonic).

        Seen-now people: position from the track, uncertainty = the track's ``position_sigma_m``, velocity
        smoothed from successive positions of the same id (time constant 0.5 s), ``last_seen_s`` = stamp.
        Remembered people: a disc covering both "stopped where last seen" and "kept the last velocity",
        centred half-way, radius ``|v| t / 2 + growth_mps * t`` (t = time unseen) reported as
        ``REACH_SIGMAS`` sigmas; velocity stays the last estimate (the governor uses it for the closing speed);
        dropped after ``forget_after_s`` unseen.
        ``is_subject`` marks ``subject_track_id``. Rows are sorted by track id.
        """
        t = float(stamp_s)
        if not math.isfinite(t):
            raise InvalidValueError(f"stamp_s: must be finite, got {stamp_s!r}")
        if self._stamp_s is not None and t < self._stamp_s:
            raise InvalidValueError(f"stamp_s: must not go back in time; got {t} after {self._stamp_s}")
        self._stamp_s = t

        seen: set[int] = set()
        unplaced: list[int] = []
        confirmed = int(TrackState.CONFIRMED)
        ids, states = tracks.track_id.tolist(), tracks.state.tolist()
        present = {tid for tid, st in zip(ids, states) if st == confirmed}
        positions, sigmas = tracks.position_ned_m.tolist(), tracks.position_sigma_m.tolist()
        for i, tid in enumerate(ids):
            if states[i] != confirmed:
                continue
            if not all(map(math.isfinite, positions[i])):
                if tid not in self._people:
                    unplaced.append(tid)
                continue
            pos = np.array(positions[i], dtype=np.float64)
            sigma = float(sigmas[i])
            if not (math.isfinite(sigma) and sigma >= 0.0):
                LOG.debug("track %d has no position sigma; using %.1f m", tid, UNKNOWN_SIGMA_M)
                sigma = UNKNOWN_SIGMA_M
            if tid not in self._people:
                self._hand_over(pos, t, present)
            self._observe(tid, pos, sigma, t)
            seen.add(tid)
        if unplaced:
            LOG.debug("tracks without a ground position (not placed): %s", unplaced)
        self._unplaced = tuple(unplaced)

        for tid in [k for k, p in self._people.items() if t - p.last_seen_s > self.forget_after_s]:
            LOG.debug("forgetting person %d (unseen for %.1f s)", tid, t - self._people[tid].last_seen_s)
            del self._people[tid]
        return self._snapshot(seen, subject_track_id, t)

    def _hand_over(self, pos: FloatArray, t: float, present: set[int]) -> None:
        """Drop the remembered person (not present in this frame) that a new track at ``pos`` most likely is."""
        best: tuple[float, int] | None = None
        for tid, p in self._people.items():
            gap = t - p.last_seen_s
            if tid in present or not 0.0 < gap <= HANDOVER_MAX_GAP_S:
                continue
            d = float(np.hypot(*(pos[:2] - p.position_ned_m[:2])))
            if d <= HANDOVER_BASE_M + self.growth_mps * gap and (best is None or d < best[0]):
                best = (d, tid)
        if best is not None:
            LOG.debug("person %d handed over to a new track (%.1f m away)", best[1], best[0])
            del self._people[best[1]]

    def _observe(self, tid: int, pos: FloatArray, sigma: float, t: float) -> None:
        person = self._people.get(tid)
        if person is None:
            self._people[tid] = _Person(pos, np.zeros(3), sigma, t)
            return
        dt = t - person.last_seen_s
        if dt > 0.0:
            raw = (pos - person.position_ned_m) / dt
            alpha = 1.0 - math.exp(-dt / VELOCITY_SMOOTHING_TAU_S)
            person.velocity_ned_mps = person.velocity_ned_mps + alpha * (raw - person.velocity_ned_mps)
        person.position_ned_m = pos
        person.sigma_at_last_seen_m = sigma
        person.last_seen_s = t

    def _snapshot(self, seen: set[int], subject_track_id: int | None, t: float) -> People:
        ids = sorted(self._people)
        n = len(ids)
        pos = np.zeros((n, 3))
        vel = np.zeros((n, 3))
        unc = np.zeros(n)
        last = np.zeros(n)
        for row, tid in enumerate(ids):
            p = self._people[tid]
            vel[row] = p.velocity_ned_mps
            if tid in seen:
                pos[row] = p.position_ned_m
                unc[row] = p.sigma_at_last_seen_m
            else:
                # Unseen: the person may have stopped or kept going at their last velocity (a sprinter does).
                # Centre the disc between the two and make it cover both, plus the walking reach.
                unseen = t - p.last_seen_s
                half_run = 0.5 * unseen * p.velocity_ned_mps
                pos[row] = p.position_ned_m + half_run
                reach = float(np.linalg.norm(half_run)) + self.growth_mps * unseen
                unc[row] = p.sigma_at_last_seen_m + reach / REACH_SIGMAS
            last[row] = p.last_seen_s
        is_subject = np.array([subject_track_id is not None and tid == subject_track_id for tid in ids], bool)
        self._track_ids = tuple(ids)
        return People(pos, vel, unc, last, is_subject.reshape(n), t)


__all__ = [
    "HANDOVER_BASE_M",
    "HANDOVER_MAX_GAP_S",
    "REACH_SIGMAS",
    "UNKNOWN_SIGMA_M",
    "VELOCITY_SMOOTHING_TAU_S",
    "PeopleMemory",
]
