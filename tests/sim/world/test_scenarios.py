"""Every scenario builds, starts in a sane state, runs deterministically under a seed; unknown names raise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drone_perception.config import StackConfig, load_config_text
from drone_perception.errors import UnknownScenarioError
from sim.sensing.sensors import DetectionModelParams, simulate_detections
from sim.world.occluders import occlusion_fraction
from sim.world.scenarios import DEFAULT_SCENARIO, SCENARIOS, get_scenario

ALL = sorted(SCENARIOS)
CFG = StackConfig()
EXPECTED = {"walk", "jog_turns", "stop_and_go", "walk_toward", "sprint_toward", "bystander_crossing",
            "occlusion_trees", "leave_fence", "subject_lost", "strong_wind"}


def rollout(name, seed, seconds=5.0, config=CFG):
    rng = np.random.default_rng(seed)
    world = get_scenario(name).build(rng, config)
    params = DetectionModelParams()
    truths, ids = [], []
    for _ in range(round(seconds / 0.05)):
        world.step(0.05)
        _, gt = simulate_detections(world, world.camera_model(), rng, params)
        truths.append(world.truth())
        ids.append(gt.tolist())
    return world, truths, ids


def test_all_scenarios_present():
    assert set(SCENARIOS) == EXPECTED
    assert DEFAULT_SCENARIO in SCENARIOS
    for name, spec in SCENARIOS.items():
        assert spec.name == name and 40.0 <= spec.duration_s <= 90.0 and spec.description


@pytest.mark.parametrize("name", ALL)
def test_initial_state(name):
    world = get_scenario(name).build(np.random.default_rng(0), CFG)
    veh = world.vehicle.position_ned_m
    subj = world.subject.position_ned_m
    assert world.autopilot.armed and world.autopilot.mode == "GUIDED"
    assert 14.0 <= math.hypot(*(veh[:2] - subj[:2])) <= 21.0
    assert -veh[2] == pytest.approx(CFG.follow.height_m)
    assert world.min_separation_m()[0] > CFG.safety.min_standoff_m
    assert world.fence_margin_m() > 0.0
    # The subject is in view at the start (no noise, so only geometry decides).
    no_noise = DetectionModelParams(miss_prob_floor=0.0, miss_prob_at_min_height=0.0, false_positives_per_frame=0.0)
    _, ids = simulate_detections(world, world.camera_model(), np.random.default_rng(0), no_noise)
    assert world.subject.id in ids.tolist()


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_truth_and_different_seed_differs(name):
    _, a, ids_a = rollout(name, 3)
    _, b, ids_b = rollout(name, 3)
    _, c, _ = rollout(name, 4)
    assert a == b and ids_a == ids_b
    assert a != c


def test_larger_standoff_pushes_the_start_out():
    config = load_config_text("safety: {min_standoff_m: 25}\nfollow: {distance_m: 5, height_m: 27.5}")
    world = get_scenario("walk").build(np.random.default_rng(0), config)
    assert world.min_separation_m()[0] >= 25.0 + 3.0 - 1e-9


def test_leave_fence_brings_its_own_fence_and_the_subject_leaves_it():
    world, _, _ = rollout("leave_fence", 0, seconds=40.0)
    assert world.own_fence
    assert world.stack_config(CFG).fence == world.fence != CFG.fence
    north_edge = max(p[0] for p in world.fence.polygon_ne_m)
    assert world.subject.position_ned_m[0] > north_edge


def test_subject_lost_is_unseen_for_ten_seconds_then_seen_again():
    _, truths, ids = rollout("subject_lost", 0, seconds=32.0)
    seen_t = [t["stamp_s"] for t, i in zip(truths, ids) if 0 in i]
    gaps = np.diff(seen_t)
    assert gaps.max() == pytest.approx(10.0, abs=0.5)
    assert seen_t[-1] > 26.0


def test_sprint_toward_runs_faster_than_the_drone_may_fly():
    _, truths, _ = rollout("sprint_toward", 0, seconds=12.0)
    pos = np.array([t["people"][0]["position_ned_m"] for t in truths])
    speeds = np.linalg.norm(np.diff(pos, axis=0), axis=1) / 0.05
    assert speeds.max() > CFG.safety.max_horizontal_speed_mps + 2.0


def test_bystander_crosses_between_drone_and_subject():
    _, truths, _ = rollout("bystander_crossing", 0, seconds=30.0)
    by = np.array([t["people"][1]["position_ned_m"] for t in truths])
    assert by[:, 1].max() > 10.0 and by[:, 1].min() < -10.0  # walked across the subject's path


def test_occlusion_trees_hides_the_subject_from_a_follower_at_times():
    # A follower on the subject's own path, 15 m (of path) behind and 8 m up, loses sight of it for a while
    # where the path crosses the row of trees, and sees it most of the time.
    world, truths, _ = rollout("occlusion_trees", 0, seconds=70.0)
    path = np.array([t["people"][0]["position_ned_m"] for t in truths])
    along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))])
    hidden = []
    for k in range(len(path)):
        if along[k] < 15.0:
            continue
        cam = path[np.searchsorted(along, along[k] - 15.0)] + np.array([0.0, 0.0, -8.0])
        hidden.append(occlusion_fraction(cam, path[k], world.subject.height_m, world.tree_set) > 0.6)
    share = float(np.mean(hidden))
    assert 0.02 < share < 0.4, share


def test_strong_wind_is_strong():
    world, _, _ = rollout("strong_wind", 0, seconds=5.0)
    assert np.linalg.norm(world.wind.mean_ned_mps) == pytest.approx(8.0)


def test_unknown_scenario_lists_known_names():
    with pytest.raises(UnknownScenarioError) as err:
        get_scenario("moonwalk")
    assert "moonwalk" in str(err.value) and "walk" in str(err.value) and "leave_fence" in str(err.value)
