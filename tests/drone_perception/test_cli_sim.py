"""``drone-perception sim``: bad input gets a clear error (exit 2) and writes nothing; a run prints its summary."""

from __future__ import annotations

import json

import pytest

from drone_perception.cli import main


def test_unknown_scenario_is_a_clear_error(tmp_path, capsys):
    assert main(["sim", "--scenario", "moonwalk", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "moonwalk" in err and "walk" in err  # names the bad one and lists the known ones
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("safety: {min_standoff_m: 2}", "safety.min_standoff_m = 2"),
        ("safety: [", "malformed YAML"),
        ("fence: {tethered: true}", "tether_length_m"),
    ],
)
def test_bad_config_file_is_a_clear_error(tmp_path, capsys, text, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    assert main(["sim", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_missing_config_file(tmp_path, capsys):
    assert main(["sim", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "cannot read config file" in capsys.readouterr().err


def test_list_names_every_scenario(capsys):
    from sim.world.scenarios import SCENARIOS

    assert main(["sim", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SCENARIOS)


def test_json_summary_and_outputs(tmp_path, capsys):
    out_dir = tmp_path / "runs"
    rc = main(["sim", "--scenario", "walk", "--duration-s", "4", "--json", "--out", str(out_dir)])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0 and summary["passed"]
    assert summary["scenario"] == "walk" and summary["duration_s"] == 4.0
    assert summary["min_separation_any_m"] >= summary["standoff_m"]
    for name in ("record.mcap", "report.html", "verdict.json", "trajectory.png"):
        assert (out_dir / "walk" / name).stat().st_size > 0
    assert summary["audit"]["overall"] == "pass"


def test_json_summary_has_the_mission_and_safety_blocks(tmp_path, capsys):
    rc = main(["sim", "--scenario", "walk", "--duration-s", "4", "--json", "--no-record", "--out", str(tmp_path)])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert summary["schema"] == "drone-perception/sim-summary/1"
    assert summary["mission"]["verdict"] == "pass" and summary["safety"]["verdict"] == "pass"
    assert summary["mission"]["motion_commands"] > 0 and summary["mission"]["engaged_share"] > 0.5


@pytest.fixture
def never_engaging(monkeypatch):
    """``sim`` with a crew that never engages (the CLI has no option for it: the runner is wrapped)."""
    import sim.runners.direct as direct
    from sim.runners.crew import OperatorScript

    real = direct.run_scenario

    def run_scenario(*args, **kwargs):
        return real(*args, operator_script=OperatorScript(engage_at_s=1e9), **kwargs)

    monkeypatch.setattr(direct, "run_scenario", run_scenario)


def test_run_that_never_engaged_fails_with_exit_1(never_engaging, tmp_path, capsys):
    rc = main(["sim", "--scenario", "walk", "--duration-s", "5", "--out", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert rc == 1
    assert "== walk (seed 0, 5 s): FAIL (mission fail, safety pass)" in out
    assert "   mission: engaged 0% of the run; motion commands 0, holds 0; subject in view 0% of engaged time" in out
    assert "   FAILURE (mission): follow never engaged" in out
    assert "FAILURE (safety)" not in out
    assert "(verdict: not_exercised)" in out  # the audit of the record agrees: nothing was exercised


def test_run_that_never_engaged_json(never_engaging, tmp_path, capsys):
    rc = main(["sim", "--scenario", "walk", "--duration-s", "5", "--json", "--out", str(tmp_path / "runs")])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 1 and summary["passed"] is False
    assert summary["mission"]["failures"] == ["follow never engaged", "no motion command sent (nothing sent)"]
    assert summary["safety"] == {"verdict": "pass", "failures": []}
    assert summary["audit"]["overall"] == "not_exercised" and summary["audit"]["exit_code"] == 4
