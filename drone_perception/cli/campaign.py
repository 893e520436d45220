"""``drone-perception campaign``: Monte Carlo safety evidence over the scenario families (issue 13, first slice).

    drone-perception campaign --episodes 200 --workers 2 --seed 1 --out runs/campaign/c1
    drone-perception campaign replay runs/campaign/c1 CASE_ID
    drone-perception campaign shrink runs/campaign/c1 CASE_ID    # toward the default config; writes a test

Each case draws a scenario, a seed and a configuration across the legal envelope (``sim.campaign.family``), runs on
the direct loop and is judged on ground truth with a signed margin per invariant. ``DIR/manifest.jsonl`` gets one
line per case as it finishes (an interrupted campaign resumes where it stopped); ``DIR/summary.json`` the
failures k of n per invariant with the 95 % Clopper-Pearson bound on the failure probability. ``replay`` re-runs
one case and prints its trace hash, which must equal the manifest's.

Exit status: 0 no invariant failed, 1 some case failed, 2 bad input; replay: 0 same trace hash, 1 different.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from drone_perception.errors import ConfigError


def register(sub: Any) -> None:
    p = sub.add_parser("campaign", help="Monte Carlo safety campaign over scenario families (manifest, bounds, "
                       "replay)", description=__doc__)
    p.add_argument("--episodes", type=int, default=100, help="cases to draw")
    p.add_argument("--workers", type=int, default=1, help="worker processes")
    p.add_argument("--seed", type=int, default=0, help="campaign seed (the cases drawn depend only on it)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: runs/campaign/seed<SEED>); "
                   "an existing manifest there is resumed")
    p.add_argument("--scenarios", default="all", help="comma-separated scenario names, or all")
    p.add_argument("--search", choices=("random", "cem"), default="random",
                   help="random: Monte Carlo with bounds; cem: cross-entropy falsification (minimising the worst "
                   "safety margin) run beside random search at the same budget, both in the same manifest")
    p.set_defaults(func=run)
    inner = p.add_subparsers(dest="campaign_command", required=False, metavar="{replay,shrink}")
    r = inner.add_parser("replay", help="re-run one case of a campaign and print its trace hash")
    r.add_argument("dir", type=Path, help="campaign folder (holds manifest.jsonl)")
    r.add_argument("case_id", help="the case's id (manifest.jsonl)")
    r.set_defaults(func=replay)
    s = inner.add_parser("shrink", help="shrink a failing case toward the default config and write a regression test")
    s.add_argument("dir", type=Path, help="campaign folder (holds manifest.jsonl)")
    s.add_argument("case_id", help="the failing case's id (manifest.jsonl)")
    s.set_defaults(func=shrink_case)


def _code_version() -> str:
    from drone_perception.version import source_commit, version_text

    return source_commit() or version_text()


def run(args: argparse.Namespace) -> int:
    from sim.campaign.family import draw_cases
    from sim.runners.campaign import run_campaign, summarize
    from sim.world.scenarios import SCENARIOS, get_scenario

    if args.episodes < 1 or args.workers < 1:
        raise ConfigError(f"--episodes and --workers must be >= 1, got {args.episodes} and {args.workers}")
    names = list(SCENARIOS) if args.scenarios == "all" else [n.strip() for n in args.scenarios.split(",") if n]
    for n in names:
        get_scenario(n)
    out = args.out if args.out is not None else Path("runs/campaign") / f"seed{args.seed}"
    cases = draw_cases(names, args.episodes, args.seed)
    t0 = time.monotonic()

    def progress(done: int, total: int, row: dict[str, Any]) -> None:
        every = max(1, total // 20)
        if done % every == 0 or done == total or row["verdict"] != "pass":
            rate = done / max(time.monotonic() - t0, 1e-9)
            flag = f"  FAIL {row['id']} ({row['scenario']}: {', '.join(row['failures'])})" \
                if row["verdict"] != "pass" else ""
            print(f"campaign: {done}/{total} cases ({rate:.2f}/s){flag}", file=sys.stderr, flush=True)

    code = _code_version()
    rows = run_campaign(cases, out, code_version=code, workers=args.workers, progress=progress)
    summary = summarize(rows)
    if args.search == "cem":
        from sim.campaign.search import CrossEntropySearch, compare, run_search

        search = CrossEntropySearch(names, seed=args.seed + 1_000_003)
        cem_rows = run_search(search, args.episodes, lambda cs: run_campaign(
            cs, out, code_version=code, workers=args.workers, progress=progress))
        summary["falsification"] = {"random": compare(rows), "cem": compare(cem_rows),
                                    "cem_final_mean": [round(float(x), 3) for x in search.mean]}
    summary["seed"], summary["scenarios"], summary["wall_s"] = args.seed, names, round(time.monotonic() - t0, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"campaign {out}: {summary['cases']} cases in {summary['wall_s']} s")
    for inv, s in summary["invariants"].items():
        print(f"  {inv:20s} {s['failures']}/{s['cases']} failed; failure probability < {s['upper_bound']:.4f} "
              f"(95 % Clopper-Pearson); worst margin {s['worst_margin']} (case {s['worst_case']})")
    for name, f in summary.get("falsification", {}).items():
        if isinstance(f, dict):
            print(f"  search {name:6s}: {f['failures']}/{f['cases']} safety failures, first after "
                  f"{f['simulations_to_first_failure']} simulations, worst safety margin {f['worst_margin_m']} m "
                  f"({f['worst_scenario']}, case {f['worst_case']})")
    return 0 if not summary["failed_cases"] else 1


def shrink_case(args: argparse.Namespace) -> int:
    from sim.campaign.family import Case
    from sim.runners.campaign import find_case
    from sim.runners.shrink import broken, shrink, write_regression

    try:
        row = find_case(args.dir, args.case_id)
    except KeyError:
        raise ConfigError(f"no case {args.case_id} in {args.dir / 'manifest.jsonl'}") from None
    case = Case(row["scenario"], int(row["seed"]), {k: float(v) for k, v in row["params"].items()})
    try:
        small, small_row, runs = shrink(case, row["code"])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    path = write_regression(args.dir, small, small_row, args.case_id)
    print(f"case {args.case_id} shrunk in {runs} simulations to {small_row['id']} ({small.scenario}, seed "
          f"{small.seed}): still breaks {', '.join(sorted(broken(small_row)))}; params {small.params}")
    print(f"regression test: {path}")
    return 0


def replay(args: argparse.Namespace) -> int:
    from sim.campaign.family import Case
    from sim.runners.campaign import find_case
    from sim.runners.campaign_case import run_case

    try:
        row = find_case(args.dir, args.case_id)
    except KeyError:
        raise ConfigError(f"no case {args.case_id} in {args.dir / 'manifest.jsonl'}") from None
    case = Case(row["scenario"], int(row["seed"]), {k: float(v) for k, v in row["params"].items()})
    again = run_case(case, row["code"])
    same = again["trace_hash"] == row["trace_hash"]
    print(f"case {args.case_id} ({row['scenario']}, seed {row['seed']}): trace hash {again['trace_hash']} "
          f"({'same as' if same else 'DIFFERENT from'} the manifest's {row['trace_hash']}); margins "
          f"{json.dumps(again['margins'])}")
    return 0 if same else 1
