"""The whole scenario suite in closed loop, judged on ground truth (charter items 1, 2, 3, 5).

In every scenario: the minimum 3D separation from every person's body stays >= the standoff, the vehicle never
leaves the fence, and nothing is sent while the operator has not engaged follow. And the run did its job (charter
item 8, no vacuous verdicts): follow engaged, motion was commanded, the subject was in view while engaged.
"""

from __future__ import annotations

import pytest

from drone_perception.config import StackConfig, load_config_text
from sim.runners.crew import OperatorScript
from sim.runners.direct import run_scenario
from sim.world.scenarios import SCENARIOS

ALL = sorted(SCENARIOS)


@pytest.mark.parametrize("name", ALL)
def test_scenario_keeps_the_envelope(name):
    result = run_scenario(name, StackConfig(), seed=1, keep_trajectory=False)
    assert result.passed, result.failures
    assert result.min_separation_any_m >= result.standoff_m
    assert result.min_fence_margin_m >= 0.0
    assert result.sent_while_disengaged == 0
    # The stack actually flew: engaged from 1 s to the end, and it commanded motion, not only holds.
    assert result.mission_failures == []
    assert result.engaged_share > 0.95
    # walk_toward / sprint_toward: the subject walks or runs under the vehicle and out of the fixed-pitch
    # camera's view (~11-15 % in view); at the ground-safe height there is nothing to evade, so the stack holds
    # once the subject is lost (about 150-180 motion commands of 780-880, 17-22 %; 25-38 % before #12, when
    # the vehicle at 10 m had to climb away from the subject).
    assert result.motion_commands > (0.15 if name in ("walk_toward", "sprint_toward") else 0.5) * result.commands_sent
    assert result.subject_in_view_share > 0.05


@pytest.mark.parametrize("name", ["walk", "sprint_toward", "bystander_crossing"])
def test_scenario_with_larger_standoff(name):
    config = load_config_text("safety: {min_standoff_m: 15}\nfollow: {distance_m: 22, height_m: 18}")
    result = run_scenario(name, config, seed=2, keep_trajectory=False)
    assert result.min_separation_any_m >= 15.0, result.failures


def test_walk_follows_the_subject():
    result = run_scenario("walk", StackConfig(), seed=0, keep_trajectory=False)
    # Following, not just hovering safely: the subject stays in view, the distance stays near the offset.
    # detected in ~79 % of the periods: the calibrated detector profile misses ~20 % of frames of a subject
    # 19 m away (84 px); the tracker bridges the misses (distance error below)
    assert result.subject_in_view_share > 0.7
    assert result.follow_distance_error_mean_m < 1.0
    assert result.min_separation_subject_m < 25.0
    assert result.holds_sent < result.commands_sent / 4


def test_nothing_is_sent_before_engagement_or_after_disengagement():
    script = OperatorScript(engage_at_s=5.0, disengage_at_s=15.0)
    result = run_scenario("walk", StackConfig(), seed=0, operator_script=script, duration_s=25.0,
                          keep_trajectory=True)
    sends = result.trajectory["engaged"]
    times = result.trajectory["t"]
    assert not any(s for s, t in zip(sends, times) if t < 5.0 or t >= 15.0 + 1e-9)
    assert any(s for s, t in zip(sends, times) if 5.0 <= t < 15.0)
    assert result.sent_while_disengaged == 0


def test_deadman_loss_stops_sending():
    script = OperatorScript(engage_at_s=1.0, deadman_lost_s=(8.0, 12.0))
    result = run_scenario("walk", StackConfig(), seed=0, operator_script=script, duration_s=15.0)
    sends = result.trajectory["engaged"]
    times = result.trajectory["t"]
    assert not any(s for s, t in zip(sends, times) if 8.0 <= t < 12.0)


def test_subject_lost_ends_in_hold_and_mode_request():
    result = run_scenario("subject_lost", StackConfig(), seed=0, keep_trajectory=False)
    assert result.interventions.get("subject_lost", 0) > 0
    assert result.holds_sent > 0
    assert result.passed


def test_runs_are_deterministic_under_a_seed():
    a = run_scenario("bystander_crossing", StackConfig(), seed=7, duration_s=12.0)
    b = run_scenario("bystander_crossing", StackConfig(), seed=7, duration_s=12.0)
    assert a.summary() == b.summary()
    assert a.trajectory["vehicle"] == b.trajectory["vehicle"]
