"""Issue 13 items 1 and 3: scenario families with bystanders, wind and faults on both loops; low-discrepancy
sampling; the importance-sampled failure probability."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_perception.loop import Health, Sensed
from sim.campaign.family import DIRECT_FAULTS, MAVLINK_FAULTS, NOMINAL, RANGES, Case, Fault, draw_cases, unit_point
from sim.campaign.faults import DirectInjection, FaultyPerception, FaultyVehicleLink, JumpingClock, companion_health
from sim.campaign.importance import Proposal, active_coordinates, estimate
from sim.campaign.perturb import perturbed
from sim.runners.campaign_case import run_case
from sim.runners.parts import SimulatedDetections, WorldClock, WorldVehicleLink
from sim.world.occluders import TreeSet, occlusion_fractions
from sim.world.people import MotionContext
from sim.world.scenarios import get_scenario


def _case(loop: str = "direct", **params: float) -> Case:
    return Case("walk", 3, {**NOMINAL, **params}, loop)


def _world(case: Case):
    return perturbed(case, get_scenario(case.scenario)).build(np.random.default_rng(case.seed), case.config())


def test_every_fault_class_of_each_loop_is_reachable_and_nominal_means_none() -> None:
    for loop, kinds in (("direct", DIRECT_FAULTS), ("mavlink", MAVLINK_FAULTS)):
        got = {_case(loop, fault=u).fault().kind for u in np.linspace(0.0, 0.999, 200)}
        assert got == set(kinds)
    assert _case().fault().kind == "none" and not _case().fault().active(5.0)
    assert _case(loop="mavlink").case_id("v") != _case().case_id("v")
    assert Case.from_row({"scenario": "walk", "seed": 3, "params": NOMINAL}) == _case()


def test_bystanders_join_the_scenario_and_a_chaser_runs_at_the_vehicle() -> None:
    plain = _world(_case())
    world = _world(_case(bystanders=3.4, bystander_mode=0.9, bystander_speed_mps=6.0, bystander_start_s=1.0,
                         bystander_range_m=10.0))
    assert len(world.people) == len(plain.people) + 3
    assert len({p.id for p in world.people}) == len(world.people) and world.subject.is_subject
    chaser = world.people[-3]
    ctx = MotionContext(5.0, world.vehicle_state().position_ned_m)
    v = chaser.motion.velocity(chaser.position_ned_m, np.zeros(3), 0.05, np.random.default_rng(0),
                               ctx)
    to_vehicle = ctx.vehicle_position_ned_m[:2] - chaser.position_ned_m[:2]
    assert float(v[:2] @ to_vehicle) > 0.9 * np.linalg.norm(v[:2]) * np.linalg.norm(to_vehicle)
    # the scenario's own draws are unchanged by the bystanders: the subject starts in the same place
    assert np.allclose(world.subject.position_ned_m, plain.subject.position_ned_m)


def test_hidden_bystanders_start_behind_trees_of_their_own_seen_from_the_vehicle() -> None:
    plain = _world(_case(bystanders=3.0, bystander_range_m=25.0))
    world = _world(_case(bystanders=3.0, bystander_range_m=25.0, hidden_bystanders=2.7, tree_radius_m=1.5,
                         tree_height_m=10.0, tree_gap_m=1.0))
    assert len(world.trees) == len(plain.trees) + 2  # floored, and at most the bystanders there are
    cam = world.vehicle_state().position_ned_m
    people = world.people[-3:]
    feet = np.array([p.position_ned_m for p in people])
    seen_from = occlusion_fractions(cam, feet, [p.height_m for p in people], [p.width_m for p in people],
                                    world.tree_set)
    assert seen_from[0] > 0.99 and seen_from[1] > 0.99  # the two hidden ones: fully behind their trees
    # nobody starts inside a tree, and the others are where they were
    for tree in world.trees[len(plain.trees):]:
        for p in world.people:
            assert math.dist(tree.center_ne_m, p.position_ned_m[:2]) > tree.radius_m
    assert np.allclose([p.position_ned_m for p in world.people], [p.position_ned_m for p in plain.people])
    # the subject is not hidden by them: the operator can still lock on
    subj = world.subject
    added = TreeSet(world.trees[len(plain.trees):])
    assert occlusion_fractions(cam, subj.position_ned_m, subj.height_m, subj.width_m, added)[0] == 0.0
    # big trees close round the subject are not planted where they would hide it (the case CI's campaign found)
    crowd = _case(bystanders=4.9, bystander_range_m=3.58, bystander_bearing_rad=5.78, hidden_bystanders=3.77,
                  tree_radius_m=2.51, tree_height_m=14.57, tree_gap_m=3.74)
    w = _world(crowd)
    extra = TreeSet(w.trees[len(plain.trees):])
    assert occlusion_fractions(w.vehicle_state().position_ned_m, w.subject.position_ned_m, w.subject.height_m,
                               w.subject.width_m, extra)[0] == 0.0
    assert len(_world(_case(hidden_bystanders=4.0)).trees) == len(plain.trees)  # no bystanders: no trees


def test_added_wind_is_on_top_of_the_scenario_wind() -> None:
    world = _world(_case(wind_mps=6.0, wind_dir_rad=math.pi / 2, gust_mps=2.0))
    assert world.wind.mean_ned_mps[1] == pytest.approx(6.0) and abs(world.wind.mean_ned_mps[0]) < 1e-9
    assert world.wind.gust_sigma_mps[0] == pytest.approx(2.0)


def _perception(kind: str, m: float = 1.0):
    case = _case()
    world = _world(case)
    inner = SimulatedDetections(world, np.random.default_rng(1))
    return world, FaultyPerception(inner, world, Fault(kind, 1.0, 1.0, m), seed=3), inner


@pytest.mark.parametrize("kind", ["detector_dropout", "corrupt_frames", "false_positives"])
def test_perception_faults_act_only_in_their_window(kind: str) -> None:
    world, faulty, _ = _perception(kind)
    before = faulty.sense(0.0)
    assert before.detections is not None and len(before.detections) >= 1  # the subject, outside the window
    world.t_s = 1.5
    inside = faulty.sense(1.5)
    if kind == "detector_dropout":
        assert inside.detections is not None and len(inside.detections) == 0 and not faulty.subject_in_view()
    elif kind == "corrupt_frames":
        assert inside == Sensed() and not faulty.subject_in_view()
    else:
        assert inside.detections is not None and len(inside.detections) >= 1 + 4
    world.t_s = 2.5
    after = faulty.sense(2.5)
    assert after.detections is not None and len(after.detections) <= len(before.detections) + 1


def test_a_perception_fault_does_not_change_what_the_detection_model_draws() -> None:
    """The inner source is always called, so the world's and the detector's generators advance as without."""
    world, faulty, inner = _perception("detector_dropout")
    plain_world = _world(_case())
    plain = SimulatedDetections(plain_world, np.random.default_rng(1))
    for t in (0.0, 1.2, 1.4, 2.2):
        world.t_s = plain_world.t_s = t
        faulty.sense(t)
        p = plain.sense(t)
    assert inner.rng.bit_generator.state == plain.rng.bit_generator.state and p.detections is not None


def test_gps_glitch_moves_the_reported_position_and_the_camera_with_it() -> None:
    world = _world(_case())
    link = FaultyVehicleLink(WorldVehicleLink(world), world, Fault("gps_glitch", 1.0, 2.0, 1.0), seed=3)
    true = world.vehicle_state().position_ned_m
    assert np.allclose(link.poll(0.0).position_ned_m, true)
    world.t_s = 1.5
    glitched = link.poll(1.5)
    jump = np.linalg.norm(glitched.position_ned_m - true)
    assert jump == pytest.approx(20.0) and glitched.position_ned_m[2] == pytest.approx(true[2])
    cam = link.camera(glitched)
    assert cam is not None and np.allclose(cam.position_ned_m, glitched.position_ned_m)


def test_a_clock_jump_moves_every_stamp_the_stack_makes() -> None:
    world = _world(_case())
    f = Fault("clock_jump", 0.5, 0.2, 1.0)
    clock = JumpingClock(WorldClock(world, 0.05), world, f)
    link = FaultyVehicleLink(WorldVehicleLink(world), world, f, seed=3, clock=clock)
    stamps = [clock.next_period() for _ in range(20)]
    assert stamps[5] == pytest.approx(0.3) and stamps[-1] == pytest.approx(1.0 + 5.0)
    assert link.poll(stamps[-1]).stamp_s == pytest.approx(stamps[-1])


def test_companion_faults_are_windows() -> None:
    world = _world(_case())
    for kind, during in (("stalled_pipeline", Health.STALLED), ("dead_companion", Health.DEAD)):
        f = Fault(kind, 1.0, 1.0, 0.0)
        states = []
        for t in (0.5, 1.5, 2.5):
            world.t_s = t
            states.append(companion_health(world, f))
        assert states == [Health.ALIVE, during, Health.ALIVE]
    inj = DirectInjection(Fault("none", 0.0, 1.0, 0.0), 3)
    parts = (WorldClock(world, 0.05), WorldVehicleLink(world), SimulatedDetections(world, np.random.default_rng(0)))
    assert inj.parts(world, *parts) == parts  # no fault: the parts are the loop's own


def test_sobol_and_halton_cover_the_space_and_keep_cases_legal() -> None:
    from drone_perception.config.envelope import envelope_problems

    # Halton's last coordinates use large prime bases (83 for the 23rd), which stratify 64 points less evenly
    for sampler, (lo, hi) in (("sobol", (5, 11)), ("halton", (4, 12))):
        cases = draw_cases(["walk"], 64, seed=2, sampler=sampler)
        assert cases[:10] == draw_cases(["walk"], 10, seed=2, sampler=sampler)  # a longer campaign extends
        u = np.array([unit_point(c.params) for c in cases])
        assert u.min() >= 0.0 and u.max() <= 1.0
        # every coordinate's 8 bins hit 8 times each, give or take scrambling (random: far less even, its 184
        # bins' counts would spread from about 1 to 16)
        counts = np.array([np.histogram(u[:, j], bins=8, range=(0, 1))[0] for j in range(len(RANGES))])
        assert counts.min() >= lo and counts.max() <= hi
        for c in cases[:16]:
            cfg = c.config()
            assert envelope_problems(cfg.safety, cfg.follow, cfg.fence) == []


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.05, 0.95), min_size=3, max_size=3), st.lists(st.floats(0.05, 0.5), min_size=3,
       max_size=3), st.integers(0, 2**31 - 1))
def test_the_proposal_density_is_a_density_and_weights_are_bounded(mean, sigma, seed) -> None:
    q = Proposal(np.array(mean), np.array(sigma), alpha=0.2, active=np.array([True, True, False]))
    rng = np.random.default_rng(seed)
    grid = rng.uniform(0.0, 1.0, (20000, 3))
    assert float(q.density(grid).mean()) == pytest.approx(1.0, abs=0.1)  # integrates to 1 over the cube
    assert float(q.weights(q.sample(rng, 500)).max()) <= 1.0 / 0.2 + 1e-9


def test_importance_sampling_estimates_a_rare_failure_better_than_monte_carlo() -> None:
    """A synthetic failure region of probability 0.002 in 5 dimensions (u0 < 0.02 and u1 > 0.9): 400 nominal
    draws see about one failure; 400 from a proposal centred near it estimate the probability within 40 %."""
    rng = np.random.default_rng(0)

    def margin(u: np.ndarray) -> np.ndarray:
        return np.maximum(u[:, 0] - 0.02, 0.9 - u[:, 1])

    mean, sigma = np.array([0.02, 0.93, 0.5, 0.5, 0.5]), np.array([0.05, 0.05, 0.3, 0.3, 0.3])
    active = active_coordinates(mean, sigma, elite=8)
    assert active.tolist() == [True, True, False, False, False]
    q = Proposal(mean, sigma, alpha=0.2, active=active)
    u = q.sample(rng, 400)
    est = estimate(q.weights(u), margin(u))
    assert est["failures_under_proposal"] > 40
    assert est["p_fail"] == pytest.approx(0.002, rel=0.4) and est["effective_sample_size"] > 50
    none = estimate(np.ones(400), np.full(400, 1.0))
    assert none["p_fail"] == 0.0 and none["p_fail_upper_bound"] > 0 and none["effective_sample_size"] == 400


@pytest.mark.parametrize("loop,fault", [("direct", (DIRECT_FAULTS.index("clock_jump") + 0.5) / len(DIRECT_FAULTS)),
                                        ("mavlink", (MAVLINK_FAULTS.index("link_drop") + 0.5) / len(MAVLINK_FAULTS))])
def test_a_faulty_case_with_bystanders_runs_on_each_loop_and_replays(loop: str, fault: float) -> None:
    case = Case("subject_lost", 5, {**NOMINAL, "bystanders": 2.0, "bystander_mode": 0.5, "wind_mps": 3.0,
                                     "fault": fault, "fault_onset_s": 4.0, "fault_duration_s": 2.0,
                                     "fault_magnitude": 0.5}, loop)
    row = run_case(case, "t")
    assert row["fault"] == ("clock_jump" if loop == "direct" else "link_drop") and row["loop"] == loop
    assert row["margins"]["standoff_m"] > 0 and row["margins"]["disengaged_commands"] == 0
    assert run_case(case, "t")["trace_hash"] == row["trace_hash"]


def test_the_cli_runs_cem_and_importance_sampling(tmp_path, capsys) -> None:
    from drone_perception.cli import main

    code = main(["campaign", "--episodes", "2", "--search", "cem", "--is-episodes", "2", "--scenarios",
                 "subject_lost", "--sampler", "halton", "--out", str(tmp_path), "--report-worst", "0"])
    captured = capsys.readouterr()
    out = captured.out
    assert code in (0, 1) and "importance sampling: P(safety margin < 0)" in out
    # one progress line per phase, each with its own count and rate (not the random phase's start)
    progress = [line for line in captured.err.splitlines() if line.startswith("campaign (")]
    labels = {line.split(":")[0] for line in progress}
    assert {"campaign (random)", "campaign (cem batch 1)", "campaign (importance sampling 1)"} <= labels, progress
    assert all("/s)" in line and "(0.00/s)" not in line for line in progress), progress
    import json

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["importance"]["cases"] == 2 and len(summary["importance"]["case_ids"]) == 2
    fal = summary["falsification"]  # one search per safety invariant, both figures per search
    assert set(fal["cem_final_mean"]) == {"standoff_m", "fence_m"} and fal["cem"]["cases"] == 2
    assert set(fal["random"]["by_invariant"]) == set(fal["cem"]["by_invariant"]) == {"standoff_m", "fence_m"}
    assert "    standoff_m" in out and "    fence_m" in out


def test_cem_learns_which_scenario_comes_closest_and_importance_weights_undo_it() -> None:
    """Synthetic margins (no simulation): only scenario "b" with a low first parameter fails (nominal probability
    1/3 * 0.05). CEM moves its scenario share to "b"; the importance-sampled estimate from its final distribution,
    weighted back to the nominal one (uniform scenario), lands near 1/60."""
    from sim.campaign.search import CrossEntropySearch, run_search

    def margin(c: Case) -> float:
        return (unit_point(c.params)[0] - 0.05) if c.scenario == "b" else 1.0 + unit_point(c.params)[0]

    def evaluate(cases):
        return [{"id": str(i), "scenario": c.scenario, "params": c.params,
                 "margins": {"standoff_m": margin(c), "fence_m": 5.0, "disengaged_commands": 0, "mission": 1}}
                for i, c in enumerate(cases)]

    search = CrossEntropySearch(["a", "b", "c"], seed=1, generation=20)
    run_search(search, 200, evaluate)
    assert search.scenario_p[1] > 0.8 and search.mean[0] < 0.2
    q = search.proposal(alpha=0.2, only_moved=True, min_sigma=0.1)
    rng = np.random.default_rng(2)
    points, scen = q.sample_with_scenarios(rng, 2000)
    cases = search.cases_at(points, scen)
    est = estimate(q.weights(points, scen), np.array([margin(c) for c in cases]))
    assert est["p_fail"] == pytest.approx(1 / 60, rel=0.25) and est["effective_sample_size"] > 200


def test_a_mixture_of_the_searches_proposals_weighs_back_to_the_nominal_probability() -> None:
    """Two searches' proposals (one narrowed on the first parameter near 0, one on the second near 1) in an equal
    mixture with the nominal share: the failure region is the union of both corners (nominal probability
    0.05 + 0.05 - 0.0025); the weighted estimate lands on it and no weight exceeds 1 / alpha."""
    from sim.campaign.importance import MixtureProposal

    d = len(RANGES)
    m1, m2 = np.full(d, 0.5), np.full(d, 0.5)
    m1[0], m2[1] = 0.02, 0.98
    a1, a2 = np.zeros(d, bool), np.zeros(d, bool)
    a1[0], a2[1] = True, True
    q = MixtureProposal((Proposal(m1, np.full(d, 0.05), 0.9, a1), Proposal(m2, np.full(d, 0.05), 0.9, a2)), 0.2)
    rng = np.random.default_rng(4)
    u, scen = q.sample_with_scenarios(rng, 4000)
    assert u.shape == (4000, d) and ((u >= 0) & (u <= 1)).all() and (scen == 0).all()
    failed = (u[:, 0] < 0.05) | (u[:, 1] > 0.95)
    assert failed.mean() > 0.4  # the proposal concentrates on the failures (nominal: under 0.1)
    w = q.weights(u, scen)
    assert w.max() <= 1 / 0.2 + 1e-9
    est = estimate(w, np.where(failed, -1.0, 1.0))
    assert est["p_fail"] == pytest.approx(0.05 + 0.05 - 0.0025, rel=0.15)
    with pytest.raises(ValueError, match="no component"):
        MixtureProposal(())


def test_a_campaign_shrinks_its_safety_failures_first_and_skips_foreseen_mission_failures(tmp_path,
                                                                                          monkeypatch) -> None:
    """What a campaign shrinks on its own: safety failures, then unforeseen mission failures; never a mission
    failure the envelope warned of. (The shrinking itself is tested on a real case in test_campaign.py.)"""
    from sim.runners import shrink as S

    def row(i: str, standoff: float, mission: int, warned: bool) -> dict:
        return {"id": i, "code": "t", "scenario": "walk", "seed": 1, "params": dict(NOMINAL),
                "margins": {"standoff_m": standoff, "fence_m": 1.0, "disengaged_commands": 0, "mission": mission},
                "mission_warnings": ["too small"] if warned else []}

    rows = [row("foreseen", 1.0, -1, True), row("mission", 1.0, -1, False), row("safety", -0.2, 1, False),
            row("fine", 2.0, 1, False)]
    assert [r["id"] for r in S.to_shrink(rows)] == ["safety", "mission"]
    calls = []

    def fake_shrink(case, code, steps=3):
        calls.append(case)
        return case, {"id": "small", "margins": {"standoff_m": -0.1, "fence_m": 1, "disengaged_commands": 0,
                                                 "mission": 1}}, 7

    monkeypatch.setattr(S, "shrink", fake_shrink)
    done = S.shrink_failures(rows, tmp_path, limit=1)
    assert len(calls) == 1 and done[0]["id"] == "safety" and done[0]["breaks"] == ["standoff_m"]
    assert (tmp_path / "regressions" / "test_case_small.py").is_file()


def test_shrinking_an_unforeseen_mission_failure_never_explains_it_away(monkeypatch) -> None:
    """A mission failure the envelope did not foresee stays unforeseen while shrinking: a trial that fails only
    because its config is one the loader warns about is not accepted."""
    from sim.runners import shrink as S

    def fake_run_case(case, code):
        warned = case.param("min_standoff_m") < 12.0  # pretend: smaller standoffs are warned configs here
        return {"id": str(case.params), "margins": {"standoff_m": 1.0, "fence_m": 1.0, "disengaged_commands": 0,
                                                    "mission": -1}, "mission_warnings": ["x"] if warned else []}

    monkeypatch.setattr(S, "run_case", fake_run_case)
    case = _case(min_standoff_m=17.0, follow_distance_m=20.0)
    small, row, _ = S.shrink(case, "t", steps=2)
    assert not row["mission_warnings"] and small.param("min_standoff_m") >= 12.0
    assert small.param("follow_distance_m") == NOMINAL["follow_distance_m"]  # the rest still shrinks
