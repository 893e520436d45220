"""Issue 13, first slice: cases drawn across the legal envelope, judged with signed margins, a resumable
manifest, Clopper-Pearson bounds, and replay by id to the same trace hash."""

from __future__ import annotations

import json
import math

import pytest

from drone_perception.cli import main
from drone_perception.config.envelope import envelope_problems
from sim.campaign.family import RANGES, draw_cases
from sim.campaign.stats import lower_bound, upper_bound
from sim.runners.campaign import read_manifest, run_campaign, summarize


def test_clopper_pearson_bounds() -> None:
    assert upper_bound(0, 1000) == pytest.approx(1 - 0.05 ** (1 / 1000))  # exact for k = 0
    assert upper_bound(0, 1000) < 3.0 / 1000  # the "rule of three"
    assert lower_bound(0, 10) == 0.0 and upper_bound(10, 10) == 1.0
    assert 0.0 < lower_bound(3, 100) < 0.03 < upper_bound(3, 100) < 0.1


def test_every_drawn_case_is_a_legal_config_and_the_draw_depends_only_on_the_seed() -> None:
    a, b = draw_cases(["walk", "jog_turns"], 40, seed=5), draw_cases(["walk", "jog_turns"], 40, seed=5)
    assert a == b and a != draw_cases(["walk", "jog_turns"], 40, seed=6)
    for case in a:
        cfg = case.config()
        assert envelope_problems(cfg.safety, cfg.follow, cfg.fence) == []
        for name, lo, hi in RANGES:
            assert lo <= case.params[name] <= hi
    assert len({c.case_id("v1") for c in a}) == 40 and a[0].case_id("v1") != a[0].case_id("v2")


def test_a_case_at_the_envelope_minimum_is_legal() -> None:
    """Found by the first CEM run: a height rounded down to the mm fell under the minimum and the load refused it."""
    from sim.campaign.family import Case

    case = Case("walk", 1, {"min_standoff_m": 10.9485, "height_margin_m": 0.0, "follow_distance_m": 15.0,
                            "design_person_speed_mps": 7.6, "max_horizontal_speed_mps": 6.9,
                            "detector_miss_scale": 1.0})
    assert case.config().follow.height_m >= 10.9485 + 2.5


def test_a_campaign_writes_its_manifest_resumes_and_replays(tmp_path, capsys) -> None:
    cases = draw_cases(["walk"], 2, seed=3)
    rows = run_campaign(cases, tmp_path, code_version="test")
    assert [r["id"] for r in rows] == [c.case_id("test") for c in cases]
    for r in rows:
        assert r["schema"] == "drone-perception/campaign-case/1" and len(r["trace_hash"]) == 16
        assert set(r["margins"]) == {"standoff_m", "fence_m", "disengaged_commands", "mission"}
        assert r["margins"]["standoff_m"] > 0 and r["verdict"] in ("pass", "fail")
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    # resumable: nothing is run again, and a line cut by an interrupted run is skipped (that case runs again)
    with (tmp_path / "manifest.jsonl").open("a") as fh:
        fh.write('{"schema": "drone-perception/campaign-c')
    again = run_campaign(cases, tmp_path, code_version="test")
    assert again == rows and len(read_manifest(tmp_path)) == 2
    s = summarize(rows)
    assert s["invariants"]["standoff_m"]["failures"] == 0
    assert s["invariants"]["standoff_m"]["upper_bound"] == pytest.approx(upper_bound(0, 2), abs=1e-5)
    assert len(lines) == 2
    code = main(["campaign", "replay", str(tmp_path), rows[0]["id"]])
    out = capsys.readouterr().out
    assert code == 0 and f"trace hash {rows[0]['trace_hash']} (same as" in out


def test_the_cli_prints_the_bounds_and_writes_a_summary(tmp_path, capsys) -> None:
    code = main(["campaign", "--episodes", "2", "--seed", "1", "--scenarios", "walk", "--out", str(tmp_path),
                 "--report-worst", "0"])
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert code in (0, 1) and summary["cases"] == 2 and "Clopper-Pearson" in out
    assert math.isfinite(summary["invariants"]["standoff_m"]["worst_margin"])


def test_cross_entropy_search_moves_toward_the_lowest_margins() -> None:
    """CEM refits its sampling distribution to the elite (lowest-margin) cases; evaluated here on a synthetic
    margin (no simulation) whose minimum is at standoff 20 m: the mean moves there."""
    from sim.campaign.search import CrossEntropySearch, compare, run_search

    def evaluate(cases):
        return [{"id": str(i), "scenario": c.scenario, "params": c.params,
                 "margins": {"standoff_m": 20.0 - c.params["min_standoff_m"] - 0.5, "fence_m": 5.0,
                             "disengaged_commands": 0, "mission": 1}} for i, c in enumerate(cases)]

    search = CrossEntropySearch(["walk"], seed=0, generation=20)
    rows = run_search(search, 200, evaluate)
    assert search.mean[0] > 0.85  # min_standoff_m normalised: near its top
    f = compare(rows)
    assert f["failures"] > 0 and f["simulations_to_first_failure"] is not None and f["worst_margin_m"] < 0


def test_a_failing_case_is_shrunk_toward_the_defaults_and_written_as_a_test(tmp_path) -> None:
    """A mission failure from the 150-case campaign (walk, a 28 m follow distance with a 11.5 m standoff and a
    1.7 m height margin: the subject, 32 m away, too small to lock): shrinking brings every parameter but the cause
    (the three that set the range) back to the default config. (Before tentative tracks bridged a missed frame the
    standoff could go back too: at 10 m the subject was still never confirmed.)"""
    from sim.campaign.family import Case
    from sim.runners.shrink import NOMINAL, broken, shrink, write_regression

    case = Case("walk", 282787023, {"min_standoff_m": 11.4755, "height_margin_m": 1.7, "follow_distance_m": 28.21,
                                     "design_person_speed_mps": 9.1, "max_horizontal_speed_mps": 6.2,
                                     "detector_miss_scale": 1.06})
    small, row, runs = shrink(case, "test", steps=1)
    assert broken(row) == {"mission"} and runs <= 1 + 2 * 6
    for name in ("design_person_speed_mps", "max_horizontal_speed_mps", "detector_miss_scale"):
        assert small.params[name] == NOMINAL[name], name  # not the cause: back to the default
    assert small.params["follow_distance_m"] > 20.0 and small.params["min_standoff_m"] > NOMINAL["min_standoff_m"]
    path = write_regression(tmp_path, small, row, "orig")
    text = path.read_text()
    assert "Case('walk', 282787023, " in text and "def test_case_" in text
    compile(text, str(path), "exec")


def _plateau_rows(cases):
    """Synthetic margins (no simulation). Scenario "a": the standoff breaks only for its first parameter above 0.95
    (5 % of a's cases), fence far. Scenario "b": the fence margin sits on a plateau at 0.5 m (as leave_fence's
    does by design), standoff far."""
    from sim.campaign.family import unit_point

    out = []
    for i, c in enumerate(cases):
        u = unit_point(c.params)
        standoff, fence = (10.0 * (0.95 - u[0]), 5.0) if c.scenario == "a" else (5.0, 0.5 + 0.01 * u[1])
        out.append({"id": str(i), "scenario": c.scenario, "params": c.params,
                    "margins": {"standoff_m": standoff, "fence_m": fence, "disengaged_commands": 0, "mission": 1}})
    return out


def test_one_search_per_invariant_is_not_held_by_another_invariants_plateau() -> None:
    """Over six seeds at 200 cases each: a single search on the worst margin mostly settles on "b"'s 0.5 m fence
    plateau (its elite is then all "b"); the standoff search of the per-invariant pair, sharing the same budget,
    always goes to "a" and finds the standoff failures in more seeds and more often, while the pair's fence search
    still finds the plateau."""
    from sim.campaign.search import CrossEntropySearch, compare, per_invariant, run_search, run_searches

    held, single_failures, pair_failures, pair_found = 0, 0, 0, 0
    for seed in range(6):
        single = CrossEntropySearch(["a", "b"], seed=seed)
        one = compare(run_search(single, 200, _plateau_rows))["by_invariant"]
        pair = per_invariant(["a", "b"], seed=seed)
        rows = run_searches(pair, 200, _plateau_rows)
        both = compare(rows)["by_invariant"]
        assert len(rows) == 200 and [s.objective for s in pair] == ["standoff_m", "fence_m"]
        assert pair[0].scenario_p[0] > 0.8 and pair[0].mean[0] > 0.8  # the standoff search went to "a", u0 high
        assert both["fence_m"]["worst_margin_m"] == pytest.approx(0.5, abs=0.011)  # the plateau, found
        held += single.scenario_p[1] > 0.8
        single_failures += one["standoff_m"]["failures"]
        pair_failures += both["standoff_m"]["failures"]
        pair_found += both["standoff_m"]["failures"] > 0
    assert held >= 3 and pair_found >= 5 and pair_failures > 1.5 * single_failures


def test_a_search_refuses_an_unknown_objective() -> None:
    from sim.campaign.search import CrossEntropySearch

    with pytest.raises(ValueError, match="objective 'speed'"):
        CrossEntropySearch(["walk"], seed=0, objective="speed")
