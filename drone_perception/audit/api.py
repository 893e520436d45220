"""One call from a flight record (and optional autopilot logs) to the HTML report and JSON verdict.

    from drone_perception.audit.api import audit_record
    verdict = audit_record("runs/x/record.mcap", "runs/x/report.html", "runs/x/verdict.json")
    verdict["overall"]     # "pass" | "fail" | "unverifiable";  verdict["exit_code"]  0 | 1 | 3
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from drone_perception.audit.autopilot_logs import autopilot_section, read_autopilot_log
from drone_perception.audit.checks import run_checks
from drone_perception.audit.model import AuditVerdict
from drone_perception.audit.report import write_report
from drone_perception.record.errors import RecordError
from drone_perception.record.reader import FlightLog, read_record


def audit_log(log: FlightLog, *, autopilot_logs: list[str | Path] | tuple[str | Path, ...] = ()) -> AuditVerdict:
    """Run every check on ``log``; attach what the autopilot logs say (the first log given; the
    others are listed in ``autopilot["others"]``)."""
    verdict = run_checks(log)
    sections = [autopilot_section(read_autopilot_log(p), log) for p in autopilot_logs]
    if not sections:
        return verdict
    main = dict(sections[0])
    if len(sections) > 1:
        main["others"] = sections[1:]
    return dataclasses.replace(verdict, autopilot=main)


def audit_autopilot_log(log_path: str | Path, report_path: str | Path | None = None,
                        verdict_path: str | Path | None = None) -> dict[str, Any]:
    """An autopilot log (.tlog / .ulg) on its own: the autopilot's evidence (arming and by whom, modes, fence
    breaches, failsafes, pre-arm failures, setpoint timeouts), without the stack's record there is no charter
    verdict, only this. Writes a small HTML page and/or JSON; ``RecordError`` when the log cannot be read."""
    import html
    import json

    ap = read_autopilot_log(log_path)
    if not ap.events and ap.problems:
        raise RecordError(f"{log_path}: no autopilot evidence could be read: {'; '.join(ap.problems)}")
    section = autopilot_section(ap, None)
    data: dict[str, Any] = {
        "schema": "drone-perception/autopilot-evidence/1", "log": str(log_path), "autopilot": section,
        "verdict": "no charter verdict: an autopilot log alone does not show what the stack did; audit the "
                   "stack's record with --tlog/--ulog for that"}
    if verdict_path is not None:
        Path(verdict_path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    if report_path is not None:
        rows = "".join(f"<tr><td>{e['log_time_s']:.3f}</td><td>{html.escape(e['kind'])}</td>"
                       f"<td>{html.escape(e['text'])}</td></tr>" for e in section["events"])
        summary = "".join(f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>"
                          for k, v in section["summary"].items())
        problems = "".join(f"<li>{html.escape(p)}</li>" for p in section["problems"])
        page = ("<!doctype html><meta charset=utf-8><title>Autopilot evidence</title>"
                "<style>body{font-family:sans-serif}td{padding:1px 8px}</style>"
                f"<h1>Autopilot evidence: {html.escape(Path(log_path).name)}</h1>"
                f"<p>{html.escape(data['verdict'])}</p><p>{html.escape(str(section['autopilot']))} "
                f"{html.escape(str(section['vehicle_type']))}</p><ul>{summary}</ul>"
                + (f"<h2>Problems</h2><ul>{problems}</ul>" if problems else "")
                + f"<h2>Events (log time, s)</h2><table id=autopilot-events>{rows}</table>")
        Path(report_path).write_text(page, encoding="utf-8")
    return data


def audit_record(
    record_path: str | Path,
    report_path: str | Path | None = None,
    verdict_path: str | Path | None = None,
    *,
    tlog: str | Path | None = None,
    ulog: str | Path | None = None,
) -> dict[str, Any]:
    """Read ``record_path``, check it, write the report/verdict where asked; return the verdict dict.

    Raises :class:`drone_perception.record.errors.RecordError` when the record cannot be opened or holds no
    message at all (missing, empty, not an MCAP file: the CLI exits 2); a damaged (truncated, corrupt chunk)
    or interrupted record gives a verdict that says what could not be checked (unverifiable, exit 3).
    """
    log = read_record(record_path)
    if not log.readable:
        hint = ""
        if Path(record_path).suffix.lower() in (".tlog", ".ulg", ".bin"):
            hint = (f"; {Path(record_path).name} looks like an autopilot log: audit it alone (audit FLIGHT.tlog) "
                    "or beside the stack's record with --tlog / --ulog")
        raise RecordError(f"{record_path} holds no flight record: {'; '.join(log.problems) or 'no messages'}{hint}")
    logs = [p for p in (tlog, ulog) if p is not None]
    verdict = audit_log(log, autopilot_logs=logs)
    return write_report(log, verdict, report_path, verdict_path)
