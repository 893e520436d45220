"""The HTML report is self-contained and complete; the JSON verdict and the CLI exit codes gate CI."""

from __future__ import annotations

import json
import re

import pytest
from fake_runs import write_fake_run

from drone_perception.audit.api import audit_record
from drone_perception.audit.model import EXIT_FAIL, EXIT_NOT_EXERCISED, EXIT_PASS, EXIT_UNVERIFIABLE
from drone_perception.cli import main
from drone_perception.record import topics
from drone_perception.record.mcap_recorder import FlightRecorder
from drone_perception.record.reader import read_record

INVARIANTS = {"standoff", "no_commands_while_disengaged", "operator_in_command", "commands_expire", "fence",
              "speed_caps", "allowlist", "tether_or_sim", "exercised", "evidence"}


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return write_fake_run(tmp_path_factory.mktemp("good") / "good.mcap", duration_s=8.0)


def _without_config(src, dst):
    """A copy of ``src`` whose /meta lacks the config: standoff and caps become unknown."""
    log = read_record(src)
    with FlightRecorder(dst) as rec:
        for topic, msgs in log.messages.items():
            for stamp, payload in msgs:
                if topic == topics.META:
                    payload = {k: v for k, v in payload.items() if k != "config"}
                rec.record(topic, stamp, payload)
    return dst


def test_report_is_self_contained_with_every_plot_and_the_verdict_table(good, tmp_path):
    html_path, json_path = tmp_path / "r.html", tmp_path / "v.json"
    verdict = audit_record(good, html_path, json_path)
    html = html_path.read_text(encoding="utf-8")
    assert verdict["overall"] == "pass"
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", html), "report must not fetch anything"
    assert "<script" not in html and "@import" not in html and "url(" not in html
    assert len(re.findall(r'<img class="plot"[^>]*src="data:image/png;base64,', html)) == 5
    rows = re.findall(r'<tr data-invariant="([a-z_]+)" data-status="([a-z_]+)"', html)
    assert {k for k, _ in rows} == INVARIANTS
    saved = json.loads(json_path.read_text())
    assert saved == json.loads(json.dumps(verdict))
    assert set(saved["invariants"]) == INVARIANTS
    for r in saved["invariants"].values():
        assert set(r) >= {"status", "worst_margin", "worst_at_s", "detail", "basis"}


@pytest.mark.parametrize(
    ("case", "exit_code"),
    [("good", EXIT_PASS), ("standoff", EXIT_FAIL), ("crash", EXIT_UNVERIFIABLE), ("no_config", EXIT_UNVERIFIABLE),
     ("never_engaged", EXIT_NOT_EXERCISED), ("holds_only", EXIT_NOT_EXERCISED)],
)
def test_cli_exit_codes(good, tmp_path, capsys, case, exit_code):
    if case == "good":
        record = good
    elif case == "no_config":
        record = _without_config(good, tmp_path / "nocfg.mcap")
    elif case in ("never_engaged", "holds_only"):
        record = write_fake_run(tmp_path / f"{case}.mcap", mission=case, duration_s=8.0)
    else:
        record = write_fake_run(tmp_path / f"{case}.mcap", violate=case, duration_s=12.0)
    out_html, out_json = tmp_path / "r.html", tmp_path / "v.json"
    code = main(["audit", str(record), "-o", str(out_html), "--json", str(out_json)])
    assert code == exit_code
    assert json.loads(out_json.read_text())["exit_code"] == exit_code
    assert out_html.stat().st_size > 1000
    assert "audit of" in capsys.readouterr().out


@pytest.mark.parametrize(("name", "content"), [("empty.mcap", b""), ("random.mcap", bytes(range(256)) * 20),
                                              ("flight.tlog", b"\xfd\x09\x00\x00" * 400)],
                         ids=["empty", "random_bytes", "tlog_as_record"])
def test_a_file_with_no_flight_record_is_exit_2_with_one_line(tmp_path, capsys, name, content):
    """README: 2 when the record cannot be opened. Before, these gave 1 (FAIL) with a report claiming nothing."""
    path = tmp_path / name
    path.write_bytes(content)
    code = main(["audit", str(path), "-o", str(tmp_path / "r.html")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert ("no autopilot evidence" if name.endswith(".tlog") else "holds no flight record") in err[0], err
    assert not (tmp_path / "r.html").exists()


def test_a_report_that_cannot_be_written_is_exit_2_with_one_line(good, tmp_path, capsys):
    code = main(["audit", str(good), "-o", str(tmp_path / "no" / "such" / "dir" / "r.html")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "r.html" in err[0], err


def test_never_engaged_run_reports_not_exercised_not_pass(tmp_path):
    record = write_fake_run(tmp_path / "idle.mcap", mission="never_engaged", duration_s=8.0)
    verdict = audit_record(record, tmp_path / "r.html", None)
    html = (tmp_path / "r.html").read_text()
    assert verdict["overall"] == "not_exercised" and verdict["exit_code"] == EXIT_NOT_EXERCISED
    assert re.search(r'id="overall" class="overall not_exercised">NOT EXERCISED<', html)
    assert 'data-invariant="exercised" data-status="not_exercised"' in html
    assert "4 the run never engaged or sent no motion setpoint" in html


def test_missing_record_is_an_error_exit(tmp_path, capsys):
    assert main(["audit", str(tmp_path / "nope.mcap"), "-o", str(tmp_path / "r.html")]) == 2
    assert "cannot open flight record" in capsys.readouterr().err


def test_json_dash_means_stdout(good, tmp_path, capsys, monkeypatch):
    """#14: `--json -` wrote a file named "-"."""
    monkeypatch.chdir(tmp_path)
    code = main(["audit", str(good), "-o", str(tmp_path / "r.html"), "--json", "-"])
    doc = json.loads(capsys.readouterr().out)
    assert code == doc["exit_code"] == EXIT_PASS and not (tmp_path / "-").exists()
