"""Run a campaign (issue 13, first slice): cases of :mod:`sim.campaign.family` on a local process pool, each
judged on ground truth with a signed margin per invariant, one JSON line per case in ``DIR/manifest.jsonl``
(resumable: cases already there are not run again), a Clopper-Pearson bound per invariant, and replay by id.

Cases and their margins: :mod:`sim.runners.campaign_case`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sim.campaign.family import Case
from sim.campaign.stats import upper_bound
from sim.runners.campaign_case import INVARIANTS, SCHEMA, run_case, trace_hash
from sim.runners.campaign_exec import Backend, LocalBackend


def _run(args: tuple[Case, str]) -> dict[str, Any]:
    """One case on a backend's worker (a module-level function: pickled by reference)."""
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
                 progress: Callable[[int, int, dict[str, Any]], None] | None = None,
                 backend: Backend | None = None) -> list[dict[str, Any]]:
    """Run every case not yet in ``out_dir/manifest.jsonl`` (appending a line each, as they finish); return
    the manifest's rows for these cases, in case order.

    ``backend`` (:mod:`sim.runners.campaign_exec`) runs the cases and stays open for the caller to reuse and
    close; without one, a :class:`~sim.runners.campaign_exec.LocalBackend` of ``workers`` processes is made and
    closed here. Lines are written in completion order (the ids, not the order, identify the cases)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cases = list(cases)
    done = {row["id"]: row for row in read_manifest(out_dir)}
    todo = [c for c in cases if c.case_id(code_version) not in done]
    own = backend is None
    runner: Backend = LocalBackend(workers) if backend is None else backend
    manifest = (out_dir / "manifest.jsonl").open("a", encoding="utf-8")
    try:
        finished = len(cases) - len(todo)
        for row in runner.imap(_run, [(c, code_version) for c in todo],
                               label=lambda a: f"case {a[0].case_id(a[1])} ({a[0].scenario}, seed {a[0].seed})"):
            manifest.write(json.dumps(row, sort_keys=True) + "\n")
            manifest.flush()
            os.fsync(manifest.fileno())
            done[row["id"]] = row
            finished += 1
            if progress is not None:
                progress(finished, len(cases), row)
    finally:
        manifest.close()
        if own:
            runner.close()
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
    missed = [r for r in rows if r["margins"]["mission"] < 0]
    out["mission_failures_foreseen"] = sum(bool(r.get("mission_warnings")) for r in missed)
    out["mission_failures_unforeseen"] = [r["id"] for r in missed if not r.get("mission_warnings")]
    out["by_fault"] = _by(rows, "fault")
    out["by_scenario"] = _by(rows, "scenario")
    return out


def _by(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, int]]:
    """Per value of ``key``: cases, safety failures (standoff, fence, commands after disengage), mission failures."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        d = out.setdefault(str(r.get(key, "?")), {"cases": 0, "safety_failures": 0, "mission_failures": 0})
        m = r["margins"]
        d["cases"] += 1
        d["safety_failures"] += int(min(m["standoff_m"], m["fence_m"], m["disengaged_commands"]) < 0)
        d["mission_failures"] += int(m["mission"] < 0)
    return dict(sorted(out.items()))


def find_case(out_dir: Path, case_id: str) -> dict[str, Any]:
    for row in read_manifest(out_dir):
        if row["id"] == case_id:
            return row
    raise KeyError(case_id)


__all__ = ["INVARIANTS", "SCHEMA", "find_case", "read_manifest", "run_campaign", "run_case", "summarize",
           "trace_hash"]
