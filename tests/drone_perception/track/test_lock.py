"""SubjectLock: operator selection, LOCKED/SEARCHING/LOST transitions, never switching to a look-alike."""

from __future__ import annotations

import numpy as np
import pytest

from drone_perception.config.perception import TrackerConfig
from drone_perception.track.appearance import color_histograms, similarity
from drone_perception.track.bytetrack import ByteTracker
from drone_perception.track.lock import LockState, SubjectLock
from drone_perception.types import Tracks, TrackState
from sim.tracking import scenarios as synth
from sim.tracking.metrics import run_scenario, subject_metrics

C, T, L = TrackState.CONFIRMED, TrackState.TENTATIVE, TrackState.LOST


def _tracks(stamp_s: float, rows: list[tuple[int, int, float, float, float]]) -> Tracks:
    """rows: (id, state, age_s, north_m, east_m); boxes laid out along the image from the east position."""
    ids = [r[0] for r in rows]
    boxes = [[600 + 20 * r[4], 300, 620 + 20 * r[4], 350] for r in rows]
    return Tracks(
        track_id=np.array(ids, np.int64), xyxy_px=np.array(boxes).reshape(-1, 4), state=[r[1] for r in rows],
        age_s=[r[2] for r in rows], position_ned_m=np.array([[r[3], r[4], 0.0] for r in rows]).reshape(-1, 3),
        position_sigma_m=np.full(len(rows), 0.3), stamp_s=stamp_s,
    )


def _cfg(**kw: float) -> TrackerConfig:
    return TrackerConfig.model_validate({"lock_reacquire_s": 2.0, **kw})


@pytest.mark.parametrize(
    ("track_id", "state", "ok", "reason"),
    [(1, C, True, "locked"), (2, C, False, "no track 2"), (1, T, False, "TENTATIVE"), (1, L, False, "LOST")],
)
def test_lock_refuses_unknown_or_unconfirmed(track_id: int, state: int, ok: bool, reason: str) -> None:
    lock = SubjectLock()
    assert lock.lock(track_id, _tracks(0.0, [(1, state, 1.0, 20.0, 0.0)])) is ok
    assert reason in lock.reason
    assert lock.state == (LockState.LOCKED if ok else LockState.NONE)


def test_lock_at_pixel_and_in_box() -> None:
    tr = _tracks(0.0, [(1, C, 1.0, 20.0, 0.0), (2, C, 1.0, 20.0, 0.5), (3, C, 1.0, 20.0, 5.0)])
    lock = SubjectLock()
    tid, why = lock.lock_at_pixel(615, 320, tr)  # inside the boxes of tracks 1 and 2
    assert tid is None and "ambiguous" in why
    tid, _ = lock.lock_at_pixel(705, 320, tr)
    assert tid == 3 and lock.state == LockState.LOCKED
    tid, why = SubjectLock().lock_in_box(np.array([0, 0, 10, 10]), tr)
    assert tid is None and "overlaps" in why
    assert SubjectLock().lock_in_box(np.array([700, 300, 720, 350]), tr)[0] == 3


def test_searching_then_lost_after_reacquire_timeout_and_lost_stays_lost() -> None:
    lock = SubjectLock(_cfg())
    lock.lock(1, _tracks(0.0, [(1, C, 1.0, 20.0, 0.0)]))
    assert lock.update(_tracks(0.0, [(1, C, 1.0, 20.0, 0.0)]), 0.0).state == LockState.LOCKED
    assert lock.update(_tracks(1.0, [(1, L, 2.0, 20.0, 0.0)]), 1.0).state == LockState.SEARCHING
    st = lock.update(_tracks(2.5, []), 2.5)
    assert st.state == LockState.LOST and "2 s" in st.reason
    # the subject coming back does not revive a LOST lock: the operator must lock again
    assert lock.update(_tracks(2.6, [(1, C, 3.6, 20.0, 0.0)]), 2.6).state == LockState.LOST


def test_reacquires_a_single_new_track_inside_the_gate() -> None:
    lock = SubjectLock(_cfg())
    lock.lock(1, _tracks(0.0, [(1, C, 1.0, 20.0, 0.0), (2, C, 1.0, 20.0, 1.0)]))
    lock.update(_tracks(0.0, [(1, C, 1.0, 20.0, 0.0), (2, C, 1.0, 20.0, 1.0)]), 0.0)
    lock.update(_tracks(0.5, [(2, C, 1.5, 20.0, 1.0)]), 0.5)
    # track 2 is an old track (coexisted with the subject): never a candidate, even inside the gate;
    # track 5 is new and near the prediction; track 6 is new but far away
    rows = [(2, C, 2.0, 20.0, 1.0), (5, C, 0.3, 20.2, 0.1), (6, C, 0.3, 20.0, 9.0)]
    st = lock.update(_tracks(1.0, rows), 1.0)
    assert st.state == LockState.SEARCHING and "only fit" in st.reason  # must stay unique for 0.5 s
    st = lock.update(_tracks(1.5, rows), 1.5)
    assert st.state == LockState.LOCKED and st.track_id == 5 and "re-acquired as track 5" in st.reason
    assert st.row == 1


@pytest.mark.parametrize(
    ("candidates", "want"),
    [
        ([(5, C, 0.3, 20.2, 0.1), (6, C, 0.3, 20.0, -0.3)], LockState.LOST),  # two fit: ambiguous
        ([(5, C, 0.3, 20.2, 0.1), (6, T, 0.1, 20.0, -0.3)], LockState.SEARCHING),  # wait for the tentative
        ([(5, T, 0.1, 20.2, 0.1)], LockState.SEARCHING),  # tentative alone is not taken
        ([(5, C, 0.3, 40.0, 0.1)], LockState.SEARCHING),  # outside the gate
    ],
)
def test_ambiguity_and_gate(candidates: list, want: LockState) -> None:
    lock = SubjectLock(_cfg())
    lock.lock(1, _tracks(0.0, [(1, C, 1.0, 20.0, 0.0)]))
    lock.update(_tracks(0.0, [(1, C, 1.0, 20.0, 0.0)]), 0.0)
    st = lock.update(_tracks(1.0, candidates), 1.0)
    assert st.state == want
    if want == LockState.LOST:
        assert "ambiguous" in st.reason and st.row is None


def test_a_candidate_that_vanished_still_makes_a_second_one_ambiguous() -> None:
    lock = SubjectLock(_cfg())
    lock.lock(1, _tracks(0.0, [(1, C, 1.0, 20.0, 0.0)]))
    lock.update(_tracks(0.0, [(1, C, 1.0, 20.0, 0.0)]), 0.0)
    assert lock.update(_tracks(1.0, [(5, C, 0.3, 20.2, 0.1)]), 1.0).state == LockState.SEARCHING
    st = lock.update(_tracks(1.2, [(6, C, 0.3, 20.0, -0.2)]), 1.2)  # 5 gone, 6 appears: who is who?
    assert st.state == LockState.LOST and "ambiguous" in st.reason


def test_uses_the_callers_prediction() -> None:
    lock = SubjectLock(_cfg())
    lock.lock(1, _tracks(0.0, [(1, C, 1.0, 20.0, 0.0)]))
    lock.update(_tracks(0.0, [(1, C, 1.0, 20.0, 0.0)]), 0.0)
    pred = (np.array([30.0, 0.0, 0.0]), np.eye(3) * 0.25)  # the subject filter says it walked 10 m north
    assert lock.update(_tracks(1.0, [(5, C, 0.3, 20.0, 0.0)]), 1.0, pred).state == LockState.SEARCHING
    lock.update(_tracks(1.1, [(6, C, 0.3, 30.0, 0.0)]), 1.1, pred)
    assert lock.update(_tracks(1.6, [(6, C, 0.8, 30.0, 0.0)]), 1.6, pred).track_id == 6


def test_locked_track_jumping_outside_the_gate_is_lost_not_followed() -> None:
    lock = SubjectLock(_cfg())
    lock.lock(1, _tracks(0.0, [(1, C, 1.0, 20.0, 0.0)]))
    lock.update(_tracks(0.0, [(1, C, 1.0, 20.0, 0.0)]), 0.0)
    st = lock.update(_tracks(0.1, [(1, C, 1.1, 20.0, 8.0)]), 0.1)
    assert st.state == LockState.LOST and "id switch" in st.reason


def test_appearance_rejects_a_differently_dressed_candidate() -> None:
    img = np.zeros((720, 1280, 3), np.uint8)
    img[:, :640] = (0, 0, 255)  # red on the left
    img[:, 640:] = (255, 0, 0)  # blue on the right
    hist = color_histograms(img, np.array([[100, 100, 200, 300], [800, 100, 900, 300], [300, 100, 400, 300]]))
    assert similarity(hist[0], hist[2]) > 0.99 and similarity(hist[0], hist[1]) < 0.1
    lock = SubjectLock(_cfg())
    t0 = _tracks(0.0, [(1, C, 1.0, 20.0, 0.0)])
    lock.lock(1, t0, appearance=hist[:1])
    lock.update(t0, 0.0, appearance=hist[:1])
    t1 = _tracks(1.0, [(5, C, 0.3, 20.1, 0.0)])
    assert lock.update(t1, 1.0, appearance=hist[1:2]).state == LockState.SEARCHING
    assert lock.update(t1, 1.1, appearance=hist[2:3]).state == LockState.SEARCHING
    assert lock.update(t1, 1.6, appearance=hist[2:3]).state == LockState.LOCKED


def test_release_and_none_state() -> None:
    lock = SubjectLock()
    assert lock.update(_tracks(0.0, [(1, C, 1.0, 20.0, 0.0)]), 0.0).state == LockState.NONE
    lock.lock(1, _tracks(0.0, [(1, C, 1.0, 20.0, 0.0)]))
    lock.release()
    assert lock.state == LockState.NONE and lock.track_id is None


@pytest.mark.parametrize("seed", [1, 2])
def test_lookalike_scenario_goes_lost_never_wrong(seed: int) -> None:
    sc = synth.scenario("lookalike", seed=seed, rate_hz=10.0)
    m = subject_metrics(sc, run_scenario(sc, ByteTracker(), lock=SubjectLock()))
    assert m["wrong_lock_frames"] == 0
    assert m["final_lock_state"] == "lost"


# Root cause (closed-loop occlusion_trees/walk): for one frame the tracker gives the subject's detection to a
# fresh tentative track (the locked track misses its ground gate), then the locked id matches again and the
# duplicate dies unconfirmed. That duplicate must not hold the lock in SEARCHING for the 0.5 s settle time
# (no measurements meanwhile); a tentative still present, or one that confirmed, still must count.
@pytest.mark.parametrize(
    ("other_then", "want", "reason"),
    [
        (None, LockState.LOCKED, "seen again"),  # the one-frame tentative duplicate died: re-lock at once
        (T, LockState.SEARCHING, "waiting"),  # the tentative is still there: wait for it to decide
        (C, LockState.LOST, "ambiguous"),  # it confirmed beside the locked id: who is who? hold
    ],
)
def test_locked_id_back_after_a_duplicate(other_then: int | None, want: LockState, reason: str) -> None:
    lock = SubjectLock(_cfg())
    t0 = _tracks(0.0, [(1, C, 1.0, 20.0, 0.0)])
    lock.lock(1, t0)
    lock.update(t0, 0.0)
    st = lock.update(_tracks(0.05, [(1, L, 1.05, 20.0, 0.0), (5, T, 0.0, 20.1, 0.1)]), 0.05)
    assert st.state == LockState.SEARCHING and "waiting" in st.reason
    rows = [(1, C, 1.1, 20.1, 0.0)] + ([(5, other_then, 0.05, 20.2, 0.1)] if other_then is not None else [])
    st = lock.update(_tracks(0.1, rows), 0.1)
    assert st.state == want and reason in st.reason
    if want == LockState.LOCKED:
        assert st.track_id == 1 and st.row == 0
