"""Every charter invariant: a good synthetic run passes, a run breaking it fails it, missing evidence
is unverifiable and nothing to check is "not exercised" (neither is a pass)."""

from __future__ import annotations

import numpy as np
import pytest
from fake_runs import MISSIONS, VIOLATIONS, write_fake_run
from hypothesis import given
from hypothesis import strategies as st

from drone_perception.audit.checks import run_checks
from drone_perception.audit.model import EXIT_FAIL, EXIT_NOT_EXERCISED, EXIT_PASS, EXIT_UNVERIFIABLE, Status
from drone_perception.audit.series import distance_to_bodies_m, polygon_signed_distance_m
from drone_perception.record import topics
from drone_perception.record.mcap_recorder import FlightRecorder
from drone_perception.record.reader import read_record


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    cache = {}

    def get(violate=None, mavlink=False, truth=True, mission="follow"):
        key = (violate, mavlink, truth, mission)
        if key not in cache:
            path = write_fake_run(d / f"{violate}_{mavlink}_{truth}_{mission}.mcap", violate=violate,
                                  mavlink=mavlink, truth=truth, duration_s=15.0, mission=mission)
            cache[key] = run_checks(read_record(path))
        return cache[key]

    return get


@pytest.mark.parametrize("mavlink", [False, True], ids=["direct-sim", "mavlink"])
def test_good_run_passes_everything(runs, mavlink):
    verdict = runs(None, mavlink)
    # A direct simulation link has no MAVLink traffic: the allowlist has nothing to check, and says so.
    expected = {r.key: Status.PASS for r in verdict.results}
    if not mavlink:
        expected["allowlist"] = Status.NOT_EXERCISED
    assert {r.key: r.status for r in verdict.results} == expected
    assert verdict.overall is Status.PASS and verdict.exit_code == EXIT_PASS
    standoff = verdict.result("standoff")
    assert standoff.basis.startswith("ground truth")
    # vehicle 15 m behind and 8 m up: body top at 2 m -> sqrt(15^2 + 6^2)
    assert standoff.worst_margin == pytest.approx(np.hypot(15, 6) - 10.0, abs=1e-6)


@pytest.mark.parametrize(("violate", "invariant"), sorted((k, v) for k, v in VIOLATIONS.items() if k != "crash"))
def test_each_violation_fails_its_invariant(runs, violate, invariant):
    verdict = runs(violate)
    result = verdict.result(invariant)
    assert result.status is Status.FAIL, result.detail
    assert verdict.exit_code == EXIT_FAIL
    assert verdict.to_dict()["invariants"][invariant]["status"] == "fail"


@pytest.mark.parametrize(("violate", "window"), [("standoff", (10.0, 11.0)), ("speed", (8.0, 9.0)),
                                                  ("fence", (12.0, 13.0))])
def test_worst_margin_is_negative_and_located_in_the_violation(runs, violate, window):
    result = runs(violate).result(VIOLATIONS[violate])
    assert result.worst_margin is not None and result.worst_margin < 0
    assert window[0] <= result.worst_at_s < window[1]
    assert result.violations > 0


def test_without_truth_standoff_uses_estimates_and_says_so(runs):
    result = runs(None, False, False).result("standoff")
    assert result.status is Status.PASS and result.basis.startswith("estimated")


#: What a run that did not do its job leaves not exercised (the rest still checks what there is to check).
NOT_EXERCISED_BY_MISSION = {
    "never_engaged": {"exercised", "fence", "commands_expire", "tether_or_sim", "speed_caps"},
    "holds_only": {"exercised"},
}


@pytest.mark.parametrize("mavlink", [False, True], ids=["direct-sim", "mavlink"])
@pytest.mark.parametrize("mission", sorted(NOT_EXERCISED_BY_MISSION))
def test_a_run_that_did_not_do_its_job_is_not_exercised_never_a_pass(runs, mission, mavlink):
    verdict = runs(None, mavlink, mission=mission)
    statuses = {r.key: r.status for r in verdict.results}
    not_exercised = set(NOT_EXERCISED_BY_MISSION[mission]) | (set() if mavlink else {"allowlist"})
    assert {k for k, v in statuses.items() if v is Status.NOT_EXERCISED} == not_exercised
    assert all(v is Status.PASS for k, v in statuses.items() if k not in not_exercised), statuses
    assert verdict.overall is Status.NOT_EXERCISED and verdict.exit_code == EXIT_NOT_EXERCISED
    assert verdict.to_dict()["overall"] == "not_exercised"
    detail = verdict.result("exercised").detail
    assert ("follow never engaged" in detail) is (mission == "never_engaged")
    assert "no motion setpoint sent" in detail or "no setpoint sent" in detail


def test_a_failure_outranks_not_exercised(tmp_path):
    path = write_fake_run(tmp_path / "x.mcap", violate="standoff", mission="never_engaged", duration_s=12.0)
    verdict = run_checks(read_record(path))
    assert verdict.overall is Status.FAIL and verdict.exit_code == EXIT_FAIL
    assert verdict.result("exercised").status is not Status.PASS


def test_fake_run_rejects_an_unknown_mission(tmp_path):
    with pytest.raises(ValueError, match="mission"):
        write_fake_run(tmp_path / "x.mcap", mission="orbit")
    assert "follow" in MISSIONS


def test_crashed_run_is_never_a_pass(runs):
    """A record cut short (no footer) cannot show what happened after the cut: unverifiable (exit 3), as the
    README documents; never a pass."""
    verdict = runs("crash")
    assert verdict.result("evidence").status is Status.UNVERIFIABLE
    assert verdict.exit_code == EXIT_UNVERIFIABLE
    assert all(r.status is not Status.PASS for r in verdict.results)
    assert any("held over the part that could be read" in r.detail for r in verdict.results)


def test_empty_file_is_unverifiable_everywhere(tmp_path):
    path = tmp_path / "empty.mcap"
    path.write_bytes(b"")
    verdict = run_checks(read_record(path))
    assert verdict.result("evidence").status is Status.UNVERIFIABLE
    assert {r.status for r in verdict.results if r.key != "evidence"} == {Status.UNVERIFIABLE}
    assert any("empty" in p for p in verdict.problems)


def test_missing_meta_and_people_give_unverifiable_not_pass(tmp_path):
    path = tmp_path / "thin.mcap"
    with FlightRecorder(path) as rec:
        for i in range(20):
            rec.record(topics.VEHICLE, i * 0.05, {"position_ned_m": [0, 0, -5], "armed": True, "link_ok": True})
    verdict = run_checks(read_record(path))
    assert verdict.exit_code in (EXIT_FAIL, EXIT_UNVERIFIABLE)
    for key in ("standoff", "no_commands_while_disengaged", "fence", "tether_or_sim", "allowlist"):
        assert verdict.result(key).status is Status.UNVERIFIABLE, key
    assert verdict.result("evidence").status is Status.UNVERIFIABLE


def test_missing_meta_but_closer_than_the_hard_floor_still_fails(tmp_path):
    path = tmp_path / "close.mcap"
    with FlightRecorder(path) as rec:
        rec.record(topics.TRUTH, 1.0, {"vehicle_position_ned_m": [3.0, 0, -1], "vehicle_velocity_ned_mps": [0, 0, 0],
                                       "people": [{"id": 0, "position_ned_m": [0, 0, 0], "is_subject": True}]})
    assert run_checks(read_record(path)).result("standoff").status is Status.FAIL


@pytest.mark.parametrize(
    ("point", "expected"),
    [([10.0, 0, 0], 10.0), ([10.0, 0, -1.0], 10.0), ([0, 0, -5.0], 3.0), ([0, 0, 1.0], 1.0),
     ([3.0, 4.0, -6.0], np.hypot(5.0, 4.0))],
    ids=["level-with-feet", "level-with-body", "above-head", "below-ground", "diagonal"],
)
def test_distance_to_a_two_metre_body(point, expected):
    assert distance_to_bodies_m(np.array(point), np.zeros((1, 3)))[0] == pytest.approx(expected)


@given(st.floats(-20, 20), st.floats(-20, 20))
def test_polygon_signed_distance_of_a_square(n, e):
    square = np.array([[-10, -10], [-10, 10], [10, 10], [10, -10]], float)
    d = polygon_signed_distance_m(np.array([n, e]), square)
    inside = abs(n) < 10 and abs(e) < 10
    if inside:
        assert d == pytest.approx(10 - max(abs(n), abs(e)), abs=1e-9)
    else:
        outside_dist = np.hypot(max(abs(n) - 10, 0), max(abs(e) - 10, 0))
        assert d == pytest.approx(-outside_dist, abs=1e-9)


@pytest.mark.parametrize(
    ("link", "meta_extra", "is_sim"),
    [
        ("sim", {}, True),
        ("sitl", {}, True),
        ("mavlink", {}, False),  # a live MAVLink link: closed loop needs a tether
        ("mavlink", {"simulator": True}, True),  # sim --link mavlink / run --sitl declare the simulator
        ("mavlink", {"simulator": "yes"}, False),  # only a literal true counts
        (None, {}, False),
    ],
)
def test_which_links_count_as_a_simulator(link, meta_extra, is_sim):
    from drone_perception.audit.series import Context, StepSeries

    ctx = Context({"link": link, **meta_extra}, None, None, link, False, StepSeries([]), "test")
    assert ctx.is_sim is is_sim
