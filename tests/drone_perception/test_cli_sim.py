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
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "drone-perception/sim-runs/1" and len(doc["runs"]) == 1
    summary = doc["runs"][0]
    assert rc == 0 and summary["passed"]
    assert summary["scenario"] == "walk" and summary["duration_s"] == 4.0
    assert summary["min_separation_any_m"] >= summary["standoff_m"]
    for name in ("record.mcap", "report.html", "verdict.json", "trajectory.png"):
        assert (out_dir / "walk" / name).stat().st_size > 0
    assert summary["audit"]["overall"] == "pass"


def test_json_summary_has_the_mission_and_safety_blocks(tmp_path, capsys):
    rc = main(["sim", "--scenario", "walk", "--duration-s", "4", "--json", "--no-record", "--out", str(tmp_path)])
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "drone-perception/sim-runs/1" and len(doc["runs"]) == 1
    summary = doc["runs"][0]
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
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "drone-perception/sim-runs/1" and len(doc["runs"]) == 1
    summary = doc["runs"][0]
    assert rc == 1 and summary["passed"] is False
    assert summary["mission"]["failures"] == ["follow never engaged", "no motion command sent (nothing sent)"]
    assert summary["safety"] == {"verdict": "pass", "failures": []}
    assert summary["audit"]["overall"] == "not_exercised" and summary["audit"]["exit_code"] == 4


@pytest.mark.parametrize("argv", [
    ["--duration-s", "0"], ["--duration-s", "-5"], ["--duration-s", "nan"], ["--wait-s", "3"],
    ["--gcs", "udpin:127.0.0.1:1"], ["--detector-rate-hz", "2"], ["--sprites", "procedural"],
    ["--connect", "tcp:127.0.0.1:5760"],
], ids=["zero", "negative", "nan", "wait_without_connect", "gcs_without_connect", "rate_without_camera",
        "sprites_without_camera", "connect_without_mavlink"])
def test_bad_or_inapplicable_options_are_refused_in_one_line(tmp_path, capsys, argv):
    """#14: `sim --duration-s 0` was an IndexError traceback; options that do not apply were ignored."""
    with pytest.raises(SystemExit) as exc:
        code = main(["sim", "--out", str(tmp_path / "o"), *argv])
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and "Traceback" not in "\n".join(err)
    assert not (tmp_path / "o").exists()


def test_a_record_is_never_overwritten_and_runs_go_to_new_folders(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sim", "--scenario", "walk", "--duration-s", "3"]) == 0
    assert main(["sim", "--scenario", "walk", "--duration-s", "3"]) == 0
    runs = sorted((tmp_path / "runs" / "sim").iterdir())
    assert len(runs) == 2 and all((r / "walk" / "record.mcap").exists() for r in runs)
    out = tmp_path / "given"
    assert main(["sim", "--scenario", "walk", "--duration-s", "3", "--out", str(out)]) == 0
    before = (out / "walk" / "record.mcap").read_bytes()
    capsys.readouterr()
    assert main(["sim", "--scenario", "walk", "--duration-s", "3", "--out", str(out)]) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert (out / "walk" / "record.mcap").read_bytes() == before


def test_several_runs_give_a_tally_and_an_index(tmp_path, capsys):
    out = tmp_path / "all"
    rc = main(["sim", "--scenario", "walk,stop_and_go", "--duration-s", "3", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc in (0, 1)
    assert "== 2 runs:" in text and (out / "index.html").exists()
    page = (out / "index.html").read_text()
    assert "walk" in page and "stop_and_go" in page and 'href="walk/report.html"' in page


def test_an_interrupted_run_is_recorded_as_incomplete_and_audits_unverifiable(tmp_path):
    from drone_perception.audit.api import audit_record
    from sim.runners.direct import run_scenario
    from sim.runners.report import run_and_report

    def run_it(recorder):
        run_scenario("walk", None, recorder=recorder, duration_s=2.0)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_and_report(tmp_path / "walk", run_it)
    verdict = audit_record(tmp_path / "walk" / "record.mcap")
    assert verdict["overall"] == "unverifiable" and verdict["exit_code"] == 3
    assert "did not finish" in verdict["invariants"]["evidence"]["detail"]
    assert json.loads((tmp_path / "walk" / "verdict.json").read_text())["overall"] == "unverifiable"


def test_version_and_python_dash_m(capsys):
    import subprocess
    import sys

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("drone-perception ")
    res = subprocess.run([sys.executable, "-m", "drone_perception", "--version"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("drone-perception ")


def test_help_shows_defaults_and_no_markup(capsys):
    with pytest.raises(SystemExit):
        main(["sim", "--help"])
    text = capsys.readouterr().out
    assert "(default: walk)" in text and "(default: 0)" in text and "``" not in text


def test_the_json_output_has_every_field_its_documented_schema_requires(tmp_path, capsys):
    """docs/sim-runs.schema.json (no jsonschema dependency: the required keys and constants are checked)."""
    from pathlib import Path

    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "sim-runs.schema.json").read_text())
    main(["sim", "--scenario", "walk", "--duration-s", "2", "--json", "--out", str(tmp_path / "o")])
    doc = json.loads(capsys.readouterr().out)
    assert set(schema["required"]) <= set(doc) and doc["schema"] == schema["properties"]["schema"]["const"]
    assert set(schema["properties"]["tally"]["required"]) <= set(doc["tally"])
    summary = schema["$defs"]["summary"]
    for run in doc["runs"]:
        assert set(summary["required"]) <= set(run)
        assert run["schema"] == summary["properties"]["schema"]["const"]


def test_every_verdict_and_report_carries_its_provenance(tmp_path, capsys):
    """#14: stack version and commit, the config's sha256, the model's sha256, the seed: in the record, the
    JSON verdict and the HTML report."""
    out = tmp_path / "p"
    main(["sim", "--scenario", "walk", "--duration-s", "2", "--seed", "3", "--out", str(out)])
    verdict = json.loads((out / "walk" / "verdict.json").read_text())
    prov = verdict["provenance"]
    assert prov["stack_version"] and len(prov["config_sha256"]) == 64 and prov["seed"] == 3
    assert prov["scenario"] == "walk" and len(prov["model"]["sha256"]) == 64
    assert prov["audited_by"].startswith("drone-perception ")
    html = (out / "walk" / "report.html").read_text()
    assert 'id="provenance"' in html and prov["config_sha256"] in html
