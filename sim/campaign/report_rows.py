"""The campaign report's reading of manifest rows (:mod:`sim.campaign.html_report`): margins, verdicts, the
worst-first order, the drawn parameters and the statistics per invariant; tolerant of rows with more or fewer
keys than today's."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sim.campaign.stats import upper_bound

#: Margins that are about safety (the rest, ``mission``, is about the job); worst safety margin = their min.
SAFETY_DISTANCE_MARGINS = ("standoff_m", "fence_m")
MISSION_MARGIN = "mission"
#: The scatter matrix draws at most this many parameters (the per-parameter histograms draw all).
MAX_SCATTER_PARAMS = 8
#: The cases table lists at most this many rows (all of them are in manifest.jsonl).
MAX_TABLE_ROWS = 100
_ROW_KEYS_SHOWN = {"schema", "id", "code", "scenario", "seed", "params", "margins", "trace_hash", "verdict",
                   "failures"}
_KNOWN_SUMMARY_KEYS = {"cases", "confidence", "invariants", "failed_cases", "falsification", "seed", "scenarios",
                       "wall_s"}


@dataclass(frozen=True)
class CaseArtefacts:
    """What the report shows of a re-run worst case. Links are relative to the report's folder.

    ``reproduced``: True when the re-run's trace hash equals the manifest's, False when not, None when the
    case could not be re-run (``error`` says why)."""

    case_id: str
    reproduced: bool | None
    rerun_trace_hash: str | None = None
    trajectory_png: bytes | None = None
    record_href: str | None = None
    audit_href: str | None = None
    trajectory_href: str | None = None
    audit_overall: str | None = None
    note: str = ""
    error: str | None = None


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _float(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if not math.isnan(f) else None


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _e(value)
    if isinstance(value, int):
        return str(value)
    return _e(f"{value:.{digits}f}") if math.isfinite(value) else _e(value)


def margins_of(row: dict[str, Any]) -> dict[str, Any]:
    m = row.get("margins")
    return m if isinstance(m, dict) else {}


def safety_margin(row: dict[str, Any]) -> float:
    """Worst safety margin of a row (m): min of its standoff and fence margins; +inf when it has neither."""
    vals = [_float(margins_of(row).get(k)) for k in SAFETY_DISTANCE_MARGINS]
    return min((v for v in vals if v is not None), default=math.inf)


def safety_verdict(row: dict[str, Any]) -> str:
    """"fail" when a safety margin (every margin but ``mission``) is negative, "pass" when all are >= 0,
    "unknown" when the row has none."""
    vals = [f for k, v in margins_of(row).items() if k != MISSION_MARGIN and (f := _float(v)) is not None]
    if not vals:
        return "unknown"
    return "fail" if min(vals) < 0 else "pass"


def mission_verdict(row: dict[str, Any]) -> str:
    v = _float(margins_of(row).get(MISSION_MARGIN))
    return "unknown" if v is None else ("fail" if v < 0 else "pass")


def overall_verdict(row: dict[str, Any]) -> str:
    """Pass only when both safety and mission pass (and the manifest says pass)."""
    s, m = safety_verdict(row), mission_verdict(row)
    if "fail" in (s, m) or row.get("verdict", "pass") != "pass":
        return "fail"
    return "pass" if (s, m) == ("pass", "pass") else "unknown"


def worst_order(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows worst first: failing cases first, then each group by worst safety margin (lowest first)."""
    return sorted(rows, key=lambda r: (overall_verdict(r) == "pass", safety_margin(r), str(r.get("id", ""))))


def param_names(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Numeric parameters drawn, in order of first appearance."""
    names: dict[str, None] = {}
    for r in rows:
        params = r.get("params")
        if isinstance(params, dict):
            for k, v in params.items():
                if _float(v) is not None:
                    names.setdefault(str(k), None)
    return list(names)


def _invariant_stats(rows: Sequence[dict[str, Any]], summary: dict[str, Any]) -> tuple[dict[str, Any], float]:
    confidence = _float(summary.get("confidence")) or 0.95
    inv = summary.get("invariants")
    if isinstance(inv, dict) and inv:
        return inv, confidence
    out: dict[str, Any] = {}  # no summary: the same figures from the rows
    names = list(dict.fromkeys(k for r in rows for k in margins_of(r)))
    for name in names:
        got = [(v, str(r.get("id"))) for r in rows if (v := _float(margins_of(r).get(name))) is not None]
        k = sum(v < 0 for v, _ in got)
        worst = min(got) if got else (None, None)
        out[name] = {"failures": k, "cases": len(got), "upper_bound": upper_bound(k, len(got), confidence),
                     "worst_margin": worst[0], "worst_case": worst[1]}
    return out, confidence


