"""No vacuous verdicts (charter item 8): a run that never engaged, sent nothing but holds or never had the
subject in view is not a pass, whatever its safety figures say; the mission figures are measured on ground
truth beside the safety ones, on every runner."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drone_perception.config import StackConfig, load_config_text
from sim.runners.crew import OperatorScript
from sim.runners.direct import run_scenario
from sim.runners.lockstep import run_mavlink_scenario
from sim.runners.truth import SUMMARY_SCHEMA, ScenarioResult, TruthMeter
from sim.sensing.sensors import DetectionModelParams
from sim.world.scenarios import get_scenario

#: The operator never engages within the run.
NEVER_ENGAGE = OperatorScript(engage_at_s=1e9)
#: A detection model that sees nobody: every person is missed, no false positives.
BLIND = DetectionModelParams(miss_prob_floor=1.0, miss_prob_at_min_height=1.0, false_positives_per_frame=0.0)


def _result(**overrides: object) -> ScenarioResult:
    """A safe run that did its job; ``overrides`` break one figure."""
    fields: dict[str, object] = dict(
        scenario="walk", seed=0, duration_s=10.0, standoff_m=10.0, min_separation_subject_m=15.0,
        min_separation_any_m=15.0, min_separation_at_s=1.0, subject_in_view_share=0.9, interventions={},
        min_fence_margin_m=5.0, sent_while_disengaged=0, commands_sent=180, holds_sent=20, mode_requests=0,
        redesignations=0, engaged_share=0.9, follow_distance_m=15.0, follow_distance_error_mean_m=0.5,
        follow_distance_error_max_m=2.0, engaged_periods=180)
    fields.update(overrides)
    return ScenarioResult(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "mission_failures", "safety_failures"),
    [
        ({}, [], 0),
        ({"engaged_periods": 0, "engaged_share": 0.0, "commands_sent": 0, "holds_sent": 0,
          "subject_in_view_share": 0.0},
         ["follow never engaged", "no motion command sent (nothing sent)"], 0),
        ({"holds_sent": 180}, ["no motion command sent (only holds)"], 0),
        ({"subject_in_view_share": 0.0}, ["subject never in view while engaged"], 0),
        ({"min_separation_any_m": 9.0}, [], 1),
        ({"min_separation_any_m": 9.0, "holds_sent": 180}, ["no motion command sent (only holds)"], 1),
    ],
    ids=["good", "never-engaged", "only-holds", "never-in-view", "unsafe", "unsafe-and-idle"],
)
def test_passed_needs_safety_and_mission(overrides, mission_failures, safety_failures):
    r = _result(**overrides)
    assert r.mission_failures == mission_failures
    assert len(r.safety_failures) == safety_failures
    assert r.failures == r.safety_failures + r.mission_failures
    assert r.passed is (not mission_failures and not safety_failures)
    s = r.summary()
    assert s["schema"] == SUMMARY_SCHEMA and s["passed"] is r.passed and s["failures"] == r.failures
    assert s["mission"]["verdict"] == ("fail" if mission_failures else "pass")
    assert s["safety"]["verdict"] == ("fail" if safety_failures else "pass")
    assert s["mission"]["failures"] == mission_failures


def test_summary_schema():
    s = _result().summary()
    assert s["mission"] == {
        "verdict": "pass", "failures": [], "engaged_share": 0.9, "motion_commands": 160,
        "subject_in_view_share": 0.9, "follow_distance_m": 15.0, "follow_distance_error_m": {"mean": 0.5, "max": 2.0},
    }
    assert s["safety"] == {"verdict": "pass", "failures": []}
    # The keys from before the mission block stay, for readers of older summaries.
    assert {"scenario", "seed", "passed", "failures", "duration_s", "standoff_m", "min_separation_subject_m",
            "min_separation_any_m", "min_separation_at_s", "subject_in_view_share", "min_fence_margin_m",
            "interventions", "commands_sent", "holds_sent", "mode_requests", "operator_redesignations",
            "sent_while_disengaged"} <= set(s)


def test_never_engaged_run_is_not_a_pass_but_is_safe():
    result = run_scenario("walk", StackConfig(), seed=0, operator_script=NEVER_ENGAGE, duration_s=5.0,
                          keep_trajectory=False)
    assert not result.passed
    assert "follow never engaged" in result.mission_failures
    assert result.safety_failures == [] and result.summary()["safety"]["verdict"] == "pass"
    assert result.engaged_share == 0.0 and result.motion_commands == 0 and result.commands_sent == 0
    assert result.summary()["mission"]["follow_distance_error_m"] == {"mean": None, "max": None}


def test_run_that_sees_nothing_is_not_a_pass():
    result = run_scenario("walk", StackConfig(), seed=0, detection_params=BLIND, duration_s=5.0,
                          keep_trajectory=False)
    assert not result.passed
    assert result.engaged_share > 0.5  # the operator engaged; the stack had nothing to follow
    assert result.subject_in_view_share == 0.0
    assert "subject never in view while engaged" in result.mission_failures
    assert "no motion command sent (only holds)" in result.mission_failures
    assert result.commands_sent > 0 and result.motion_commands == 0
    assert result.safety_failures == []


def test_mission_figures_of_a_good_follow():
    result = run_scenario("walk", StackConfig(), seed=0, duration_s=20.0, keep_trajectory=False)
    assert result.passed and result.mission_failures == []
    # engaged from 1 s of 20 s; the vehicle starts at the offset and keeps it within a few metres
    assert result.engaged_share == pytest.approx(19.0 / 20.0, abs=0.01)
    assert result.motion_commands > 0.9 * result.commands_sent
    assert result.follow_distance_m == StackConfig().follow.distance_m
    assert result.follow_distance_error_mean_m < 1.5 and result.follow_distance_error_max_m < 4.0


def test_follow_distance_error_is_measured_against_the_configured_offset():
    config = load_config_text("follow: {distance_m: 20, height_m: 13}")
    world = get_scenario("walk").build(np.random.default_rng(0), config)
    meter = TruthMeter(world, 10.0, follow=config.follow, keep_trajectory=False)
    v, s = world.truth()["vehicle_position_ned_m"], world.truth()["people"][world.subject_index]["position_ned_m"]
    horizontal = math.hypot(v[0] - s[0], v[1] - s[1])
    meter.update(0.0, engaged=True, sending=False, limits=frozenset(), subject_in_view=True, mode_request=False)
    meter.update(0.05, engaged=False, sending=False, limits=frozenset(), subject_in_view=True, mode_request=False)
    r = meter.result("walk", 0, 0.05)
    assert r.follow_distance_m == 20.0 and r.engaged_share == 0.5
    assert r.follow_distance_error_mean_m == pytest.approx(abs(horizontal - 20.0))
    assert r.follow_distance_error_max_m == pytest.approx(abs(horizontal - 20.0))


def test_mavlink_run_that_never_engaged_is_not_a_pass():
    result = run_mavlink_scenario("walk", StackConfig(), seed=0, duration_s=4.0, operator_script=NEVER_ENGAGE,
                                  keep_trajectory=False)
    assert not result.passed
    assert "follow never engaged" in result.mission_failures
    assert result.safety_failures == []
