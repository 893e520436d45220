"""Shrink a failing campaign case (issue 13 item 4): move each parameter toward its nominal value (the default
configuration's; no bystanders, no added wind, no fault, the shortest fault window: ``family.NOMINAL``) as far
as the case keeps failing the same way, then write it out as a ready regression test.

Each parameter in turn is tried at its nominal value, then (if the failure goes away there) bisected between
the failing value and the nominal one ``steps`` times; the seed and scenario stay. What "keeps failing" means:
the same invariants have a negative margin. Costs up to ``len(RANGES) * (1 + steps)`` simulations.
"""

from __future__ import annotations

import pprint
from pathlib import Path
from typing import Any

from sim.campaign.family import NOMINAL, RANGES, Case
from sim.runners.campaign_case import run_case


def broken(row: dict[str, Any]) -> frozenset[str]:
    return frozenset(k for k, v in row["margins"].items() if v < 0)


def shrink(case: Case, code_version: str, steps: int = 3) -> tuple[Case, dict[str, Any], int]:
    """The simplest case that still breaks what ``case`` breaks, its manifest row and the simulations spent."""
    first = run_case(case, code_version)
    target = broken(first)
    # a mission failure the envelope did not foresee must stay unforeseen: shrinking it into a config the loader
    # warns about would explain it away
    unforeseen = "mission" in target and not first.get("mission_warnings")

    def keeps(row: dict[str, Any]) -> bool:
        return broken(row) >= target and not (unforeseen and row.get("mission_warnings"))

    if not target:
        raise ValueError(f"case {first['id']} does not fail: nothing to shrink")
    best, best_row, runs = case, first, 1
    for name, _lo, _hi in RANGES:
        nominal = NOMINAL[name]
        if best.param(name) == nominal:
            continue
        bad, good = best.param(name), nominal  # bad fails; try the nominal first
        trial = Case(best.scenario, best.seed, {**best.params, name: nominal}, best.loop)
        row = run_case(trial, code_version)
        runs += 1
        if keeps(row):
            best, best_row = trial, row
            continue
        for _ in range(steps):
            mid = round((bad + good) / 2.0, 4)
            trial = Case(best.scenario, best.seed, {**best.params, name: mid}, best.loop)
            row = run_case(trial, code_version)
            runs += 1
            if keeps(row):
                bad, best, best_row = mid, trial, row
            else:
                good = mid
    return best, best_row, runs


def regression_test(case: Case, row: dict[str, Any], original_id: str) -> str:
    """Source of a pytest module that replays ``case`` and asserts it no longer breaks what it broke."""
    what = ", ".join(sorted(broken(row)))
    return f'''"""Regression of campaign case {original_id}, shrunk to {row["id"]}: {case.scenario} (seed {case.seed})
broke {what}. Fails while the cause is there; passes once it is fixed (then keep it)."""

from sim.campaign.family import Case
from sim.runners.campaign_case import run_case

CASE = Case({case.scenario!r}, {case.seed}, {pprint.pformat(dict(case.params), width=100, indent=4)},
            {case.loop!r})


def test_case_{row["id"]}_keeps_every_invariant() -> None:
    row = run_case(CASE, "regression")
    assert all(v >= 0 for v in row["margins"].values()), row["margins"]
'''


def write_regression(out_dir: Path, case: Case, row: dict[str, Any], original_id: str) -> Path:
    path = out_dir / "regressions" / f"test_case_{row['id']}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(regression_test(case, row, original_id), encoding="utf-8")
    return path


#: Invariants whose failure a campaign shrinks on its own (a mission failure the envelope foresaw is not one).
SAFETY_INVARIANTS = frozenset({"standoff_m", "fence_m", "disengaged_commands"})


def to_shrink(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows a campaign shrinks: every safety failure, and every mission failure the envelope's mission
    warnings did not foresee; safety failures first."""
    safety = [r for r in rows if broken(r) & SAFETY_INVARIANTS]
    mission = [r for r in rows if r not in safety and "mission" in broken(r) and not r.get("mission_warnings")]
    return safety + mission


def shrink_failures(rows: list[dict[str, Any]], out_dir: Path, limit: int) -> list[dict[str, Any]]:
    """Shrink up to ``limit`` of :func:`to_shrink`'s rows and write each as a regression test; one record per
    case (original id, shrunk id, what it still breaks, the test's path, the simulations spent)."""
    done = []
    for row in to_shrink(rows)[:limit]:
        small, small_row, runs = shrink(Case.from_row(row), row["code"])
        path = write_regression(out_dir, small, small_row, row["id"])
        done.append({"id": row["id"], "shrunk_id": small_row["id"], "breaks": sorted(broken(small_row)),
                     "params": small.params, "test": str(path), "simulations": runs})
    return done


__all__ = ["NOMINAL", "SAFETY_INVARIANTS", "broken", "regression_test", "shrink", "shrink_failures", "to_shrink",
           "write_regression"]
