"""Mission failures a campaign found that the envelope's mission warnings did not foresee, shrunk, and kept as
strict expected failures: each documents a gap in what the stack can do (not a safety failure: every safety margin
of these cases is positive). When a change closes the gap the test passes, strict xfail turns that into a failure,
and the marker comes off: the case is then an ordinary regression test (as ce3c7c9dd347 now is).

91dc4bc03c89 (``campaign --loop mavlink --episodes 200 --seed 48`` at 63a3744), shrunk in 36 simulations to
fd6a56be963c: walk_toward on the MAVLink loop, no fault, four standing bystanders, standoff 14.7 m, follow 19.5 m.
At that follow offset the subject is 45 deg below the horizon, 0.5 deg inside the 1.5 deg edge margin of the fixed
camera's view (5-47 deg), so no warning is raised; walking toward the vehicle, the subject leaves the bottom of the
image at once (in view 3-4 % of the engaged periods on either loop). On the direct loop, and without the
bystanders, follow still sends ~100 motion commands; here it sends none: it never did its job. A camera that
pitches with the subject, or a warning that weighs the scenario's approach, would close it.

b5b2a2f2404f (``make campaign``, the 10,000 cases at e3c7bd7; the same at HEAD), shrunk in 41 simulations to
ce3c7c9dd347: strong_wind on the direct loop, two standing bystanders 20 m out, corrupt frames from 3.6 s for 3.1 s.
The outage falls on the first lock (without it follow starts moving at 3.75 s; the same outage from 1.0 s or from
6.0 s passes); the vehicle holds (fail closed), the subject walks out of the fixed camera's view meanwhile (in view
10 % of the engaged periods, 57 % without the fault) and the scripted crew's re-clicks find no track to lock, so
only holds are sent. Without the fault, or without the bystanders, it passes with ~1,150 motion commands. A crew
that re-frames the shot (flies the subject back into view) would close it.
**Closed** (2026-12-02) by ``TrackerConfig.tentative_max_lost_s`` (0.1 s): the subject stayed in the image the whole
run, but at ~49 px tall the calibrated detector finds it in about half the frames, and a tentative track deleted at
its first miss never reached its third hit, so there was never a confirmed track under the crew's click (1,181
clicks refused). Bridging two missed frames, the first lock forms, follow sends 1,158 motion commands and the
subject is in view 55 % of the engaged periods.

62a0840dab1e (a 2,000-case campaign, seed 10000, at 276c991), shrunk in 42 simulations to cb651f781c2f: leave_fence on
the direct loop, no fault, one bystander 7 m out and one hidden behind a tree 2.6 m in radius. The subject walks in
that tree's shadow as seen from the follow offset: in view 0.07 % of the engaged periods (truth), the lock goes
SEARCHING at 2 s and LOST at 7 s, the crew's re-click finds nothing, no motion command. The scenario's trees are
not in the config, so no warning can foresee it; a crew that flies around the tree (or a search that moves to see
past the occluder, which the stack does not do: it holds) would close it.
"""

from __future__ import annotations

import pytest

from sim.campaign.family import Case
from sim.runners.campaign_case import run_case

WALK_TOWARD_AT_THE_VIEW_EDGE = Case("walk_toward", 1716199165, {
    "bystander_bearing_rad": 0.0, "bystander_mode": 0.0, "bystander_range_m": 20.0, "bystander_speed_mps": 1.4,
    "bystander_start_s": 0.0, "bystanders": 4.1183, "design_person_speed_mps": 8.0, "detector_miss_scale": 1.0,
    "fault": 0.0, "fault_duration_s": 0.2, "fault_magnitude": 0.0, "fault_onset_s": 2.0,
    "follow_distance_m": 19.5377, "gust_mps": 0.0, "height_margin_m": 3.1359, "hidden_bystanders": 0.0,
    "max_horizontal_speed_mps": 5.0, "min_standoff_m": 14.6621, "tree_gap_m": 1.0, "tree_height_m": 8.0,
    "tree_radius_m": 1.0, "wind_dir_rad": 0.0, "wind_mps": 0.0}, "mavlink")


OUTAGE_BEFORE_THE_FIRST_LOCK = Case("strong_wind", 183171525, {
    "bystander_bearing_rad": 0.0, "bystander_mode": 0.0, "bystander_range_m": 20.0, "bystander_speed_mps": 1.4,
    "bystander_start_s": 0.0, "bystanders": 2.0573, "design_person_speed_mps": 8.0, "detector_miss_scale": 1.0,
    "fault": 0.41, "fault_duration_s": 3.0992, "fault_magnitude": 0.2973, "fault_onset_s": 3.5905,
    "follow_distance_m": 21.7324, "gust_mps": 0.0, "height_margin_m": 1.9527, "max_horizontal_speed_mps": 5.0,
    "min_standoff_m": 10.0, "wind_dir_rad": 0.0, "wind_mps": 0.0}, "direct")


SUBJECT_IN_A_TREES_SHADOW = Case("leave_fence", 1671561096, {
    "bystander_bearing_rad": 0.1872, "bystander_mode": 0.0, "bystander_range_m": 7.1685, "bystander_speed_mps": 1.4,
    "bystander_start_s": 0.0, "bystanders": 1.2348, "design_person_speed_mps": 8.0, "detector_miss_scale": 1.0,
    "fault": 0.0, "fault_duration_s": 0.2, "fault_magnitude": 0.0, "fault_onset_s": 2.0,
    "follow_distance_m": 19.4776, "gust_mps": 0.0, "height_margin_m": 0.0, "hidden_bystanders": 1.0828,
    "max_horizontal_speed_mps": 5.0, "min_standoff_m": 10.0, "tree_gap_m": 1.0, "tree_height_m": 8.0,
    "tree_radius_m": 2.6282, "wind_dir_rad": 0.0, "wind_mps": 0.0}, "direct")


#: the shrunk case of each gap, by its id
GAPS = {"fd6a56be963c": WALK_TOWARD_AT_THE_VIEW_EDGE, "ce3c7c9dd347": OUTAGE_BEFORE_THE_FIRST_LOCK,
        "cb651f781c2f": SUBJECT_IN_A_TREES_SHADOW}


@pytest.mark.parametrize("case_id", list(GAPS))
def test_the_gap_is_safe(case_id: str) -> None:
    """Safe throughout (asserted outside the expected failure below, so a safety regression cannot hide in it)."""
    row = run_case(GAPS[case_id], "regression")
    assert row["margins"]["standoff_m"] > 0 and row["margins"]["fence_m"] > 0
    assert row["margins"]["disengaged_commands"] == 0


#: Gaps still open: their mission test is a strict expected failure.
OPEN = {"fd6a56be963c", "cb651f781c2f"}


@pytest.mark.parametrize("case_id", [
    pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="a mission gap found by the campaign (see the "
                                                               "module docstring)")) if c in OPEN else c
    for c in GAPS])
def test_the_gap_case_does_its_job(case_id: str) -> None:
    row = run_case(GAPS[case_id], "regression")
    assert row["margins"]["mission"] >= 0, (row["failures"], row["subject_in_view_share"])
