"""Write a campaign's HTML report (issue 13 item 6): read ``DIR/manifest.jsonl`` and ``DIR/summary.json``, re-run
the worst K cases (failing first, then by worst safety margin) with a flight recorder, each into
``DIR/cases/<id>/`` (record.mcap, the audit's report.html and verdict.json, trajectory.png, rerun.json), check
that each re-run reproduces the manifest's trace hash, and write ``DIR/report.html``
(:func:`sim.campaign.html_report.render_report`).

Evidence is never overwritten (:func:`sim.runners.report.run_and_report` refuses an existing record): a case
folder that already holds a record is re-used. With its ``rerun.json`` (written when the record was made) the
hash found then is reported; without it (an interrupted report) the case is re-run without a recorder to check
the hash, and the record there is audited if it has no report yet.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drone_perception.errors import ConfigError
from sim.campaign.family import Case
from sim.campaign.html_report import CaseArtefacts, render_report, worst_order
from sim.runners.campaign import read_manifest
from sim.runners.campaign_case import simulate, trace_hash

log = logging.getLogger(__name__)

RERUN_SCHEMA = "drone-perception/campaign-rerun/1"
_SAFE_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


@dataclass(frozen=True)
class CampaignReport:
    """What :func:`write_report` wrote: the page and the re-run cases, worst first."""

    path: Path
    cases: tuple[CaseArtefacts, ...]

    @property
    def not_reproduced(self) -> list[str]:
        """Ids of the re-run cases whose trace hash differs from the manifest's (or that could not be re-run)."""
        return [a.case_id for a in self.cases if a.reproduced is not True]


def case_from_row(row: dict[str, Any]) -> Case:
    """The case a manifest row describes (the one place here that knows how; extra keys in the row are ignored)."""
    return Case.from_row(row)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _audit_overall(case_dir: Path) -> str | None:
    verdict = _read_json(case_dir / "verdict.json")
    return str(verdict["overall"]) if verdict and "overall" in verdict else None


def rerun_case(out_dir: Path, row: dict[str, Any]) -> CaseArtefacts:
    """Re-run one manifest row into ``out_dir/cases/<id>/`` (or re-use what is there); never raises for a
    case that fails to run (the artefacts say why)."""
    cid = str(row.get("id", ""))
    if not _SAFE_ID.fullmatch(cid):
        return CaseArtefacts(cid, None, error=f"case id {cid!r} is not a plain id; not re-run")
    case_dir = out_dir / "cases" / cid
    try:
        case = case_from_row(row)
        note = ""
        if (case_dir / "record.mcap").exists():
            found = _read_json(case_dir / "rerun.json")
            if found and found.get("trace_hash"):
                rerun_hash = str(found["trace_hash"])
                note = "Re-used the record made by an earlier report (evidence is never overwritten)."
            else:
                result = simulate(case, None)
                rerun_hash = trace_hash(result.trajectory)
                note = ("A record from an earlier, unfinished report is kept (evidence is never overwritten); the "
                        "hash shown is of a fresh re-run without a recorder.")
                if not (case_dir / "trajectory.png").exists():
                    from sim.runners.plots import save_trajectory_plot

                    save_trajectory_plot(result, case_dir / "trajectory.png")
                if not (case_dir / "report.html").exists():
                    from drone_perception.audit.api import audit_record

                    audit_record(case_dir / "record.mcap", case_dir / "report.html", case_dir / "verdict.json")
        else:
            from sim.runners.report import run_and_report

            _, result = run_and_report(case_dir, lambda rec: simulate(case, rec))
            rerun_hash = trace_hash(result.trajectory)
            _write_rerun(case_dir, cid, rerun_hash, row)
    except Exception as exc:  # one broken case must not lose the report of the others
        log.warning("campaign report: case %s could not be re-run", cid, exc_info=True)
        return _artefacts(case_dir, cid, None, None, error=f"{type(exc).__name__}: {exc}")
    return _artefacts(case_dir, cid, rerun_hash == row.get("trace_hash"), rerun_hash, note=note)


def _write_rerun(case_dir: Path, cid: str, rerun_hash: str, row: dict[str, Any]) -> None:
    data = {"schema": RERUN_SCHEMA, "case_id": cid, "trace_hash": rerun_hash,
            "manifest_trace_hash": row.get("trace_hash"), "reproduced": rerun_hash == row.get("trace_hash")}
    (case_dir / "rerun.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def _artefacts(case_dir: Path, cid: str, reproduced: bool | None, rerun_hash: str | None, *, note: str = "",
               error: str | None = None) -> CaseArtefacts:
    """What is in the case's folder, with links relative to the campaign folder (where report.html is)."""
    def href(name: str) -> str | None:
        return f"cases/{cid}/{name}" if (case_dir / name).is_file() else None

    png = case_dir / "trajectory.png"
    return CaseArtefacts(cid, reproduced, rerun_hash, png.read_bytes() if png.is_file() else None,
                         record_href=href("record.mcap"), audit_href=href("report.html"),
                         trajectory_href=href("trajectory.png"), audit_overall=_audit_overall(case_dir), note=note,
                         error=error)


def write_report(out_dir: Path, worst: int = 5) -> CampaignReport:
    """Re-run the ``worst`` worst cases of the campaign in ``out_dir`` and write ``out_dir/report.html``.
    Raises ConfigError when there is no manifest (or ``worst`` < 0)."""
    out_dir = Path(out_dir)
    if worst < 0:
        raise ConfigError(f"--worst must be >= 0, got {worst}")
    rows = read_manifest(out_dir)
    if not rows:
        raise ConfigError(f"no campaign in {out_dir}: {out_dir / 'manifest.jsonl'} is missing or empty")
    summary = _read_json(out_dir / "summary.json") or {}
    # one row per id (a resumed campaign does not repeat a case, but a hand-merged manifest could)
    unique = list({str(r.get("id")): r for r in rows}.values())
    artefacts = tuple(rerun_case(out_dir, r) for r in worst_order(unique)[:worst])
    generated = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    page = render_report(unique, summary, artefacts, title=f"Campaign report: {out_dir.name}", generated=generated)
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return CampaignReport(path, artefacts)


__all__ = ["RERUN_SCHEMA", "CampaignReport", "case_from_row", "rerun_case", "write_report"]
