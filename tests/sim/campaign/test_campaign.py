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
    """A mission failure from the 150-case campaign (walk, a 28 m follow distance with a 11.5 m standoff: the
    subject too small to lock): shrinking brings every parameter but the cause back to the default config."""
    from sim.campaign.family import Case
    from sim.runners.shrink import NOMINAL, broken, shrink, write_regression

    case = Case("walk", 282787023, {"min_standoff_m": 11.4755, "height_margin_m": 1.7, "follow_distance_m": 28.21,
                                     "design_person_speed_mps": 9.1, "max_horizontal_speed_mps": 6.2,
                                     "detector_miss_scale": 1.06})
    small, row, runs = shrink(case, "test", steps=1)
    assert broken(row) == {"mission"} and runs <= 1 + 2 * 6
    assert small.params["min_standoff_m"] == NOMINAL["min_standoff_m"]
    assert small.params["follow_distance_m"] > 20.0  # the cause stays
    path = write_regression(tmp_path, small, row, "orig")
    text = path.read_text()
    assert "Case('walk', 282787023, " in text and "def test_case_" in text
    compile(text, str(path), "exec")
