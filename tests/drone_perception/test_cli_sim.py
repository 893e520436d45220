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
