"""Tests for drone_perception.people.PeopleMemory."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_perception.errors import InvalidValueError
from drone_perception.people import REACH_SIGMAS, TENTATIVE_FORGET_S, UNKNOWN_SIGMA_M, PeopleMemory
from drone_perception.types import Tracks, TrackState

Row = tuple[int, tuple[float, float, float], float, TrackState]


def make_tracks(stamp_s: float, rows: list[Row]) -> Tracks:
    """rows: (track_id, position_ned_m, position_sigma_m, state)."""
    if not rows:
        return Tracks.empty(stamp_s)
    n = len(rows)
    return Tracks(
        track_id=np.array([r[0] for r in rows]),
        xyxy_px=np.zeros((n, 4)),
        state=np.array([int(r[3]) for r in rows]),
        age_s=np.ones(n),
        position_ned_m=np.array([r[1] for r in rows], dtype=float),
        position_sigma_m=np.array([r[2] for r in rows], dtype=float),
        stamp_s=stamp_s,
    )


C = TrackState.CONFIRMED


def row_of(mem: PeopleMemory, tid: int) -> int:
    return mem.track_ids.index(tid)


def test_seen_person_is_reported_with_track_sigma_and_subject_flag() -> None:
    mem = PeopleMemory()
    rows = [(4, (10.0, 2.0, 0.0), 0.5, C), (7, (20.0, -3.0, 0.0), 1.2, C)]
    people = mem.update(make_tracks(1.0, rows), 7, 1.0)
    assert len(people) == 2 and mem.track_ids == (4, 7)
    np.testing.assert_allclose(people.position_ned_m, [[10.0, 2.0, 0.0], [20.0, -3.0, 0.0]])
    np.testing.assert_allclose(people.uncertainty_m, [0.5, 1.2])
    np.testing.assert_allclose(people.last_seen_s, [1.0, 1.0])
    np.testing.assert_allclose(people.velocity_ned_mps, 0.0)
    assert people.is_subject.tolist() == [False, True]
    assert people.stamp_s == 1.0
    people = mem.update(make_tracks(1.1, [(4, (10.0, 2.0, 0.0), 0.5, C)]), None, 1.1)
    assert not people.is_subject.any()


def test_velocity_from_successive_positions() -> None:
    rng = np.random.default_rng(0)
    mem = PeopleMemory()
    v = np.array([1.5, -0.5, 0.0])
    for k in range(40):  # 4 s at 10 Hz, 2 cm position noise (smoothed velocity noise ~0.1 m/s)
        t = 0.1 * k
        p = v * t + np.append(rng.normal(scale=0.02, size=2), 0.0)
        people = mem.update(make_tracks(t, [(1, tuple(p), 0.3, C)]), None, t)
    assert np.linalg.norm(people.velocity_ned_mps[0] - v) < 0.35


@pytest.mark.parametrize(
    ("unseen_s", "present"),
    [(0.5, True), (10.0, True), (30.0, True), (30.5, False)],  # 30 s = forget_after_s: still remembered
)
def test_vanished_person_remembered_then_forgotten(unseen_s: float, present: bool) -> None:
    """Unseen: a disc where they were last seen that grows at the design speed (or their own, if faster); no
    velocity is credited (where they went is unknown)."""
    mem = PeopleMemory(growth_mps=2.5, forget_after_s=30.0)
    mem.update(make_tracks(0.0, [(3, (5.0, 5.0, 0.0), 0.4, C)]), 3, 0.0)
    seen = mem.update(make_tracks(0.1, [(3, (5.1, 5.0, 0.0), 0.4, C)]), 3, 0.1)
    v = seen.velocity_ned_mps[0]
    assert v[0] > 0.0  # moving north
    people = mem.update(make_tracks(0.1 + unseen_s, []), 3, 0.1 + unseen_s)
    assert (len(people) == 1) == present
    if present:
        np.testing.assert_allclose(people.position_ned_m[0], [5.1, 5.0, 0.0])
        reach = max(2.5, float(np.linalg.norm(v[:2]))) * unseen_s
        assert people.uncertainty_m[0] == pytest.approx(0.4 + reach / REACH_SIGMAS)
        # "Kept going at the last velocity" lies inside the reported disc (k = REACH_SIGMAS sigmas).
        kept_going = np.array([5.1, 5.0, 0.0]) + unseen_s * v
        assert np.linalg.norm(kept_going - people.position_ned_m[0]) <= REACH_SIGMAS * people.uncertainty_m[0]
        np.testing.assert_allclose(people.velocity_ned_mps[0], 0.0)
        assert people.last_seen_s[0] == pytest.approx(0.1)
        assert people.is_subject[0]


def test_a_person_who_ran_under_the_vehicle_is_not_credited_with_leaving() -> None:
    """#12 item 1: a bystander runs at the vehicle and out of the bottom of the image. On the old memory the
    unseen person kept their last velocity (now pointing away, behind the vehicle), the disc's centre ran off
    with it and the governor counted that velocity as recession. Now the disc stays where they were last seen
    and covers every direction they may have turned to at the design speed."""
    mem = PeopleMemory(growth_mps=8.0)
    for k in range(10):  # running south at 8 m/s, seen for 0.5 s
        t = 0.05 * k
        mem.update(make_tracks(t, [(4, (20.0 - 8.0 * t, 0.0, 0.0), 0.3, C)]), None, t)
    last = np.array([20.0 - 8.0 * 0.45, 0.0, 0.0])
    people = mem.update(make_tracks(1.45, []), None, 1.45)  # unseen for 1 s
    np.testing.assert_allclose(people.velocity_ned_mps[0], 0.0)
    np.testing.assert_allclose(people.position_ned_m[0], last)
    disc = REACH_SIGMAS * people.uncertainty_m[0]
    for heading in np.linspace(0.0, 2 * np.pi, 16, endpoint=False):  # turned anywhere at the design speed
        there = last + 8.0 * 1.0 * np.array([np.cos(heading), np.sin(heading), 0.0])
        assert np.linalg.norm(there - people.position_ned_m[0]) <= disc + 1e-9


def test_lost_track_is_not_a_fresh_observation() -> None:
    mem = PeopleMemory(growth_mps=2.0)
    mem.update(make_tracks(0.0, [(2, (10.0, 0.0, 0.0), 0.5, C)]), None, 0.0)
    people = mem.update(make_tracks(1.0, [(2, (9.0, 0.0, 0.0), 0.2, TrackState.LOST)]), None, 1.0)
    np.testing.assert_allclose(people.position_ned_m[0], [10.0, 0.0, 0.0])
    assert people.uncertainty_m[0] == pytest.approx(0.5 + 2.0 * 1.0 / REACH_SIGMAS)
    assert people.last_seen_s[0] == 0.0


def test_tracks_without_ground_position_are_not_dropped_silently() -> None:
    mem = PeopleMemory()
    mem.update(make_tracks(0.0, [(1, (10.0, 0.0, 0.0), 0.5, C)]), None, 0.0)
    nan3 = (math.nan, math.nan, math.nan)
    people = mem.update(make_tracks(0.5, [(1, nan3, math.nan, C), (2, nan3, math.nan, C)]), None, 0.5)
    assert mem.track_ids == (1,)  # id 1 still remembered at its last place
    assert people.uncertainty_m[0] == pytest.approx(0.5 + mem.growth_mps * 0.5 / REACH_SIGMAS)
    assert mem.unplaced_track_ids == (2,)  # id 2 could not be placed: reported, not silently lost


def test_missing_sigma_uses_conservative_default() -> None:
    mem = PeopleMemory()
    people = mem.update(make_tracks(0.0, [(1, (10.0, 0.0, 0.0), math.nan, C)]), None, 0.0)
    assert people.uncertainty_m[0] == UNKNOWN_SIGMA_M


def test_reacquired_person_uncertainty_resets_to_track_sigma() -> None:
    mem = PeopleMemory()
    mem.update(make_tracks(0.0, [(1, (10.0, 0.0, 0.0), 0.5, C)]), None, 0.0)
    people = mem.update(make_tracks(5.0, []), None, 5.0)
    assert people.uncertainty_m[0] > 5.0
    people = mem.update(make_tracks(6.0, [(1, (12.0, 0.0, 0.0), 0.6, C)]), None, 6.0)
    assert people.uncertainty_m[0] == pytest.approx(0.6)
    assert people.last_seen_s[0] == 6.0


def test_reset_and_time_checks() -> None:
    mem = PeopleMemory()
    mem.update(make_tracks(2.0, [(1, (10.0, 0.0, 0.0), 0.5, C)]), None, 2.0)
    with pytest.raises(InvalidValueError, match="stamp_s"):
        mem.update(Tracks.empty(1.0), None, 1.0)
    with pytest.raises(InvalidValueError, match="stamp_s"):
        mem.update(Tracks.empty(3.0), None, math.nan)
    assert len(mem) == 1
    mem.reset()
    assert len(mem) == 0
    people = mem.update(Tracks.empty(0.5), None, 0.5)  # after a reset time may start over
    assert len(people) == 0 and people.position_ned_m.shape == (0, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"growth_mps": 0.0}, "growth_mps"),
        ({"growth_mps": math.inf}, "growth_mps"),
        ({"growth_mps": 100.0}, "growth_mps"),
        ({"forget_after_s": -1.0}, "forget_after_s"),
        ({"forget_after_s": math.nan}, "forget_after_s"),
    ],
)
def test_bad_parameters(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PeopleMemory(**kwargs)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.floats(0.0, 3.0),  # dt_s
            st.sets(st.integers(0, 5), max_size=6),  # ids visible this step
            st.floats(0.0, 2.0),  # sigma of the visible tracks
        ),
        min_size=1,
        max_size=40,
    ),
    forget_after_s=st.floats(1.0, 20.0),
)
def test_uncertainty_never_shrinks_while_unseen(steps: list[tuple[float, set[int], float]],
                                                forget_after_s: float) -> None:
    mem = PeopleMemory(growth_mps=2.5, forget_after_s=forget_after_s)
    t = 0.0
    last_unc: dict[int, float] = {}
    last_seen: dict[int, float] = {}
    for dt, visible, sigma in steps:
        t += dt
        rows = [(tid, (200.0 * tid, 0.0, 0.0), sigma, C) for tid in sorted(visible)]  # far apart: no handover
        people = mem.update(make_tracks(t, rows), 0, t)
        now = dict(zip(mem.track_ids, people.uncertainty_m))
        for tid in visible:
            last_seen[tid] = t
            assert tid in now  # a seen person is never dropped
            assert now[tid] == pytest.approx(sigma)
        for tid, unc in last_unc.items():
            if tid in visible:
                continue
            if t - last_seen[tid] <= forget_after_s:
                assert tid in now  # remembered until forget_after_s
                assert now[tid] >= unc - 1e-12  # never shrinks while unseen
            else:
                assert tid not in now
        assert set(now) <= set(last_seen)
        assert np.all(people.is_subject == (np.array(mem.track_ids) == 0))
        last_unc = now


def test_tentative_tracks_are_sightings_remembered_briefly() -> None:
    """#12 item 4: under a noisy detector a person's tracks may never be confirmed; they are people all the
    same. A sighting never confirmed is forgotten TENTATIVE_FORGET_S after it, so a false positive's ghost disc
    does not grow for long; once confirmed, the person is remembered as long as anyone."""
    mem = PeopleMemory()
    people = mem.update(make_tracks(0.0, [(1, (10.0, 0.0, 0.0), 0.5, TrackState.TENTATIVE)]), None, 0.0)
    assert len(people) == 1 and people.last_seen_s[0] == 0.0
    assert len(mem.update(make_tracks(TENTATIVE_FORGET_S, []), None, TENTATIVE_FORGET_S)) == 1
    assert len(mem.update(make_tracks(TENTATIVE_FORGET_S + 0.1, []), None, TENTATIVE_FORGET_S + 0.1)) == 0
    mem.reset()
    mem.update(make_tracks(0.0, [(2, (10.0, 0.0, 0.0), 0.5, TrackState.TENTATIVE)]), None, 0.0)
    mem.update(make_tracks(0.1, [(2, (10.0, 0.0, 0.0), 0.5, C)]), None, 0.1)
    assert len(mem.update(make_tracks(10.0, []), None, 10.0)) == 1


@pytest.mark.parametrize(
    ("new_pos", "gap_s", "old_kept"),
    [
        ((10.5, 0.0, 0.0), 0.5, False),  # new id where the old one vanished: same person, re-identified
        ((13.0, 0.0, 0.0), 1.0, False),  # within 1.5 m + 2.5 m/s * 1 s
        ((20.0, 0.0, 0.0), 1.0, True),  # too far to be the same person
        ((10.5, 0.0, 0.0), 4.0, True),  # too long ago: keep remembering
    ],
)
def test_new_track_takes_over_a_remembered_person(new_pos, gap_s, old_kept) -> None:
    mem = PeopleMemory(growth_mps=2.5)
    mem.update(make_tracks(0.0, [(1, (10.0, 0.0, 0.0), 0.5, C)]), None, 0.0)
    mem.update(make_tracks(0.05, []), None, 0.05)
    mem.update(make_tracks(gap_s + 0.05, [(2, new_pos, 0.5, C)]), None, gap_s + 0.05)
    assert (1 in mem.track_ids) is old_kept
    assert 2 in mem.track_ids


def test_present_track_is_never_taken_over() -> None:
    mem = PeopleMemory()
    mem.update(make_tracks(0.0, [(1, (10.0, 0.0, 0.0), 0.5, C)]), None, 0.0)
    rows = [(1, (10.0, 0.0, 0.0), 0.5, C), (2, (10.5, 0.0, 0.0), 0.5, C)]
    mem.update(make_tracks(0.5, rows), None, 0.5)
    assert mem.track_ids == (1, 2)
