"""Run a campaign (issue 13, first slice): cases of :mod:`sim.campaign.family` on a local process pool, each
judged on ground truth with a signed margin per invariant, one JSON line per case in ``DIR/manifest.jsonl``
(resumable: cases already there are not run again), a Clopper-Pearson bound per invariant, and replay by id.

Cases and their margins: :mod:`sim.runners.campaign_case`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from sim.campaign.family import Case
from sim.campaign.stats import upper_bound
from sim.runners.campaign_case import INVARIANTS, SCHEMA, run_case, trace_hash


def _run(args: tuple[Case, str]) -> dict[str, Any]:
    return run_case(*args)


def read_manifest(out_dir: Path) -> list[dict[str, Any]]:
    path = out_dir / "manifest.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by an interrupted run: it is run again
                continue
    return rows


def run_campaign(cases: Iterable[Case], out_dir: Path, *, code_version: str, workers: int = 1,
                 progress: Callable[[int, int, dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run every case not yet in ``out_dir/manifest.jsonl`` (appending a line each, as they finish); return
    the manifest's rows for these cases, in case order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cases = list(cases)
    done = {row["id"]: row for row in read_manifest(out_dir)}
    todo = [c for c in cases if c.case_id(code_version) not in done]
    manifest = (out_dir / "manifest.jsonl").open("a", encoding="utf-8")
    try:
        finished = len(cases) - len(todo)
        if workers <= 1:
            results: Iterable[dict[str, Any]] = (run_case(c, code_version) for c in todo)
            pool = None
        else:
            pool = ProcessPoolExecutor(max_workers=workers)
            results = pool.map(_run, [(c, code_version) for c in todo], chunksize=1)
        for row in results:
            manifest.write(json.dumps(row, sort_keys=True) + "\n")
            manifest.flush()
            os.fsync(manifest.fileno())
            done[row["id"]] = row
            finished += 1
            if progress is not None:
                progress(finished, len(cases), row)
        if pool is not None:
            pool.shutdown()
    finally:
        manifest.close()
    return [done[c.case_id(code_version)] for c in cases]


def summarize(rows: list[dict[str, Any]], confidence: float = 0.95) -> dict[str, Any]:
    """Per invariant: failures k of n, the Clopper-Pearson upper bound of the failure probability, the worst
    margin and the case that had it."""
    n = len(rows)
    out: dict[str, Any] = {"cases": n, "confidence": confidence, "invariants": {}}
    for inv in INVARIANTS:
        margins = [(r["margins"][inv], r["id"]) for r in rows]
        k = sum(m < 0 for m, _ in margins)
        worst = min(margins) if margins else (None, None)
        out["invariants"][inv] = {"failures": k, "cases": n, "upper_bound": round(upper_bound(k, n, confidence), 5),
                                  "worst_margin": worst[0], "worst_case": worst[1]}
    out["failed_cases"] = [r["id"] for r in rows if r["verdict"] != "pass"]
    return out


def find_case(out_dir: Path, case_id: str) -> dict[str, Any]:
    for row in read_manifest(out_dir):
        if row["id"] == case_id:
            return row
    raise KeyError(case_id)


__all__ = ["INVARIANTS", "SCHEMA", "find_case", "read_manifest", "run_campaign", "run_case", "summarize",
           "trace_hash"]
