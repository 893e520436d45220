"""Memory of every person the governor must stay clear of: seen now, or seen recently and remembered.

The camera sees only part of the world. A person who left the view (or whose track was lost behind an
occluder) is kept at their last known foot position with an uncertainty that grows at ``growth_mps``, the
design person speed (a person may run anywhere at up to that speed: they are never credited with leaving,
whatever their last velocity), and forgotten only after ``forget_after_s`` unseen. Every sighting counts: a
tentative track (a person the tracker has not yet confirmed, as under a noisy detector) is remembered too, but
forgotten after ``TENTATIVE_FORGET_S`` unseen unless it was ever confirmed.

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
#: A new track that appears within ``HANDOVER_BASE_M + HANDOVER_SPEED_MPS * gap`` of where a remembered
#: person would be at their last velocity, at most ``HANDOVER_MAX_GAP_S`` later, is taken to be that person
#: under a new id (the tracker re-identified them); the old entry is dropped instead of leaving a ghost with a
#: growing keep-out disc. The radius uses a walking pace, not the design speed: a wider one would let a new
#: track absorb a different person.
HANDOVER_BASE_M = 1.5
HANDOVER_SPEED_MPS = 2.5
HANDOVER_MAX_GAP_S = 3.0
#: A person only ever seen as a tentative track is forgotten after this long unseen (s): long enough to bridge
#: the misses of a noisy detector, short enough that a false positive's ghost disc does not grow for long.
TENTATIVE_FORGET_S = 1.5


@dataclass
class _Person:
    """Mutable record of one remembered person (private to the memory)."""

    position_ned_m: FloatArray
    velocity_ned_mps: FloatArray
    sigma_at_last_seen_m: float
    last_seen_s: float
    confirmed: bool = False


class PeopleMemory:
    """Everyone the governor must keep clear of.

    ``growth_mps``: how fast the position uncertainty of an unseen person grows (m/s): the design person
      speed (``safety.design_person_speed_mps``). It bounds how far a person may have run since last seen:
      raising it is more conservative (bigger keep-out discs), lowering it below a sprint is unsafe. Range
      (0, 15].
    ``forget_after_s``: an unseen person is dropped after this long. Raising it remembers longer (the disc
      grows to ``growth_mps * forget_after_s``). Range (0, 3600].

    Which tracks count as *seen now*: CONFIRMED and TENTATIVE tracks with a finite ``position_ned_m`` (a
    tentative track is a sighting too: under a noisy detector a person's tracks may never be confirmed, and
    leaving them out emptied the memory). A person never confirmed is forgotten ``TENTATIVE_FORGET_S`` after
    their last sighting, so a false positive's ghost disc grows only briefly. A ``LOST`` track's position is
    the tracker's own extrapolation, not an observation, so the memory keeps the last observed position and
    grows the uncertainty instead (more conservative). A track without a
    ground position (e.g. its feet above the horizon) cannot be placed: it is listed in
    :attr:`unplaced_track_ids` (and logged) rather than dropped silently; if the id was placed before, the
    memory keeps remembering it.
    """

    def __init__(self, *, growth_mps: float = 8.0, forget_after_s: float = 30.0) -> None:
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
        smoothed from successive positions of the same id (time constant ``VELOCITY_SMOOTHING_TAU_S``),
        ``last_seen_s`` = stamp. Remembered people: a disc centred where they were last seen, radius
        ``max(growth_mps, |v|) * t`` (t = time unseen; it covers "kept the last velocity" too) reported as
        ``REACH_SIGMAS`` sigmas, velocity zero: where they went is unknown, and the governor lets the disc's
        edge come at the vehicle at the design speed (never credits them with leaving). Dropped after
        ``forget_after_s`` unseen (``TENTATIVE_FORGET_S`` if never confirmed).
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
        sighted = (confirmed, int(TrackState.TENTATIVE))
        ids, states = tracks.track_id.tolist(), tracks.state.tolist()
        present = {tid for tid, st in zip(ids, states) if st in sighted}
        positions, sigmas = tracks.position_ned_m.tolist(), tracks.position_sigma_m.tolist()
        for i, tid in enumerate(ids):
            if states[i] not in sighted:
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
            self._observe(tid, pos, sigma, t, states[i] == confirmed)
            seen.add(tid)
        if unplaced:
            LOG.debug("tracks without a ground position (not placed): %s", unplaced)
        self._unplaced = tuple(unplaced)

        for tid in [k for k, p in self._people.items()
                    if t - p.last_seen_s > (self.forget_after_s if p.confirmed else TENTATIVE_FORGET_S)]:
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
            d = float(np.hypot(*(pos[:2] - p.position_ned_m[:2] - gap * p.velocity_ned_mps[:2])))
            if d <= HANDOVER_BASE_M + HANDOVER_SPEED_MPS * gap and (best is None or d < best[0]):
                best = (d, tid)
        if best is not None:
            LOG.debug("person %d handed over to a new track (%.1f m away)", best[1], best[0])
            del self._people[best[1]]

    def _observe(self, tid: int, pos: FloatArray, sigma: float, t: float, confirmed: bool) -> None:
        person = self._people.get(tid)
        if person is None:
            self._people[tid] = _Person(pos, np.zeros(3), sigma, t, confirmed)
            return
        person.confirmed = person.confirmed or confirmed
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
            pos[row] = p.position_ned_m
            if tid in seen:
                vel[row] = p.velocity_ned_mps
                unc[row] = p.sigma_at_last_seen_m
            else:
                # Unseen: the person may be anywhere they could have run to, in any direction (the one who ran
                # under the vehicle may turn and chase it); the last velocity is not evidence of leaving.
                speed = max(self.growth_mps, float(np.linalg.norm(p.velocity_ned_mps[:2])))
                unc[row] = p.sigma_at_last_seen_m + speed * (t - p.last_seen_s) / REACH_SIGMAS
            last[row] = p.last_seen_s
        is_subject = np.array([subject_track_id is not None and tid == subject_track_id for tid in ids], bool)
        self._track_ids = tuple(ids)
        return People(pos, vel, unc, last, is_subject.reshape(n), t)


__all__ = [
    "HANDOVER_BASE_M",
    "HANDOVER_MAX_GAP_S",
    "HANDOVER_SPEED_MPS",
    "REACH_SIGMAS",
    "TENTATIVE_FORGET_S",
    "UNKNOWN_SIGMA_M",
    "VELOCITY_SMOOTHING_TAU_S",
    "PeopleMemory",
]
