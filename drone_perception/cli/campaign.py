"""``drone-perception campaign``: Monte Carlo safety evidence over the scenario families (issue 13, first slice).

    drone-perception campaign --episodes 200 --workers 2 --seed 1 --out runs/campaign/c1
    drone-perception campaign replay runs/campaign/c1 CASE_ID
    drone-perception campaign shrink runs/campaign/c1 CASE_ID    # toward the default config; writes a test
    drone-perception campaign report runs/campaign/c1 --worst 5  # DIR/report.html (also written by a campaign)

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
from typing import TYPE_CHECKING, Any

from drone_perception.errors import ConfigError

if TYPE_CHECKING:
    from sim.runners.campaign_exec import Backend


#: Worst cases the report at the end of a campaign re-runs with a recorder.
REPORT_WORST = 5


def register(sub: Any) -> None:
    p = sub.add_parser("campaign", help="Monte Carlo safety campaign over scenario families (manifest, bounds, "
                       "replay)", description=__doc__)
    p.add_argument("--episodes", type=int, default=100, help="cases to draw")
    p.add_argument("--workers", type=int, default=1, help="worker processes (with --backend ray and no --address: "
                   "the CPUs of the local Ray cluster)")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: this machine (in-process, or a process pool); ray: a Ray cluster (pip install -e "
                   "'.[cluster]'; every node runs this checkout)")
    p.add_argument("--address", default=None, metavar="HOST:PORT",
                   help="with --backend ray: the head of an existing cluster (`ray start --head --port PORT`); "
                   "default: a private local cluster of --workers CPUs")
    p.add_argument("--seed", type=int, default=0, help="campaign seed (the cases drawn depend only on it)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: runs/campaign/seed<SEED>); "
                   "an existing manifest there is resumed")
    p.add_argument("--scenarios", default="all", help="comma-separated scenario names, or all")
    p.add_argument("--loop", choices=("direct", "mavlink"), default="direct",
                   help="direct: the in-process autopilot; mavlink: the lock-step MAVLink loop (the real bridge "
                   "against the simulated ArduCopter; link faults; ~3x slower)")
    p.add_argument("--sampler", choices=("random", "sobol", "halton"), default="random",
                   help="how the Monte Carlo cases cover the parameter space (sobol/halton: scrambled "
                   "low-discrepancy; the Clopper-Pearson bound is then approximate)")
    p.add_argument("--report-worst", type=int, default=None, metavar="K",
                   help=f"worst cases the HTML report at the end re-runs with a flight record and audit (default "
                   f"{REPORT_WORST}; 0: the report without re-runs)")
    p.add_argument("--shrink", type=int, default=3, metavar="N",
                   help="shrink up to N failures on their own when the campaign ends (safety failures first, then "
                   "mission failures the envelope did not foresee) and write each as a regression test in "
                   "DIR/regressions/ (0: none)")
    p.add_argument("--is-episodes", type=int, default=None,
                   help="with --search cem: cases drawn afterwards from the searches' final distributions (mixed "
                   "with the nominal one) for the importance-sampled failure probability (default: episodes/2)")
    p.add_argument("--search", choices=("random", "cem"), default="random",
                   help="random: Monte Carlo with bounds; cem: cross-entropy falsification, one search per safety "
                   "invariant (standoff, fence) sharing a budget equal to random search's, beside it in the same "
                   "manifest")
    p.set_defaults(func=run)
    inner = p.add_subparsers(dest="campaign_command", required=False, metavar="{replay,shrink,report}")
    r = inner.add_parser("replay", help="re-run one case of a campaign and print its trace hash")
    r.add_argument("dir", type=Path, help="campaign folder (holds manifest.jsonl)")
    r.add_argument("case_id", help="the case's id (manifest.jsonl)")
    r.set_defaults(func=replay)
    s = inner.add_parser("shrink", help="shrink a failing case toward the default config and write a regression test")
    s.add_argument("dir", type=Path, help="campaign folder (holds manifest.jsonl)")
    s.add_argument("case_id", help="the failing case's id (manifest.jsonl)")
    s.set_defaults(func=shrink_case)
    rp = inner.add_parser("report", help="write DIR/report.html: statistics, margins, coverage, the worst cases "
                          "re-run with a flight record and audit report (trace hash checked)")
    rp.add_argument("dir", type=Path, help="campaign folder (holds manifest.jsonl)")
    rp.add_argument("--worst", type=int, default=5, help="worst cases to re-run with a recorder (default 5)")
    rp.set_defaults(func=report)


def _code_version() -> str:
    from drone_perception.version import source_commit, version_text

    return source_commit() or version_text()


def run(args: argparse.Namespace) -> int:
    from sim.runners.campaign_exec import make_backend

    backend = make_backend(args.backend, args.workers, args.address)
    try:
        return _run_on(args, backend)
    finally:
        backend.close()


def _run_on(args: argparse.Namespace, backend: Backend) -> int:
    from sim.campaign.family import draw_cases
    from sim.runners.campaign import run_campaign, summarize
    from sim.runners.campaign_exec import ProgressLine
    from sim.world.scenarios import SCENARIOS, get_scenario

    if args.episodes < 1 or args.workers < 1:
        raise ConfigError(f"--episodes and --workers must be >= 1, got {args.episodes} and {args.workers}")
    if args.shrink < 0:
        raise ConfigError(f"--shrink must be >= 0, got {args.shrink}")
    if args.report_worst is not None and args.report_worst < 0:
        raise ConfigError(f"--report-worst must be >= 0, got {args.report_worst}")
    if args.is_episodes is not None and (args.is_episodes < 1 or args.search != "cem"):
        raise ConfigError(f"--is-episodes {args.is_episodes}: needs --search cem and a value >= 1")
    names = list(SCENARIOS) if args.scenarios == "all" else [n.strip() for n in args.scenarios.split(",") if n]
    for n in names:
        get_scenario(n)
    out = args.out if args.out is not None else Path("runs/campaign") / f"seed{args.seed}"
    cases = draw_cases(names, args.episodes, args.seed, sampler=args.sampler, loop=args.loop)
    t0 = time.monotonic()

    # a TTY: one line redrawn; otherwise a line every 5 % and per failure. One line per phase (the random cases,
    # each batch of the search, the importance-sampled cases), each with its own count and rate.
    progress = ProgressLine(sys.stderr, label="campaign" if args.search != "cem" else "campaign (random)")

    code = _code_version()
    rows = run_campaign(cases, out, code_version=code, workers=args.workers, progress=progress, backend=backend)
    summary = summarize(rows)
    if args.search == "cem":
        from sim.campaign.search import compare, per_invariant, run_searches

        searches = per_invariant(names, seed=args.seed + 1_000_003, loop=args.loop)
        phase, batch = ["cem batch"], [0]

        def evaluate(cs: list[Any]) -> list[dict[str, Any]]:
            batch[0] += 1
            label = f"campaign ({phase[0]} {batch[0]})"
            return run_campaign(cs, out, code_version=code, workers=args.workers,
                                progress=ProgressLine(sys.stderr, label=label), backend=backend)

        cem_rows = run_searches(searches, args.episodes, evaluate)
        summary["falsification"] = {"random": compare(rows), "cem": compare(cem_rows),
                                    "cem_final_mean": {s.objective: [round(float(x), 3) for x in s.mean]
                                                       for s in searches}}
        phase[0], batch[0] = "importance sampling", 0
        summary["importance"] = _importance(searches, evaluate, args.is_episodes or max(1, args.episodes // 2))
    if args.shrink:
        from sim.runners.campaign import read_manifest
        from sim.runners.shrink import shrink_failures

        summary["shrunk"] = shrink_failures(read_manifest(out), out, args.shrink)
    summary["seed"], summary["scenarios"], summary["wall_s"] = args.seed, names, round(time.monotonic() - t0, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"campaign {out}: {summary['cases']} cases in {summary['wall_s']} s")
    for inv, s in summary["invariants"].items():
        print(f"  {inv:20s} {s['failures']}/{s['cases']} failed; failure probability < {s['upper_bound']:.4f} "
              f"(95 % Clopper-Pearson); worst margin {s['worst_margin']} (case {s['worst_case']})")
    missed = summary["mission_failures_foreseen"] + len(summary["mission_failures_unforeseen"])
    if missed:
        print(f"  mission failures: {summary['mission_failures_foreseen']} of {missed} foreseen by the envelope's "
              f"mission warnings; not foreseen: {', '.join(summary['mission_failures_unforeseen']) or 'none'}")
    print("  by fault: " + "; ".join(f"{k} {v['safety_failures']}/{v['mission_failures']}/{v['cases']}"
                                      for k, v in summary["by_fault"].items()) + " (safety/mission failures/cases)")
    for sh in summary.get("shrunk", []):
        print(f"  shrunk {sh['id']} -> {sh['shrunk_id']} in {sh['simulations']} simulations (still breaks "
              f"{', '.join(sh['breaks'])}): regression test {sh['test']}")
    if "importance" in summary:
        imp = summary["importance"]
        print(f"  importance sampling: P(safety margin < 0) ~ {imp['p_fail']:.3g} (std error {imp['std_error']:.2g}) "
              f"from {imp['cases']} cases, {imp['failures_under_proposal']} failing; effective sample size "
              f"{imp['effective_sample_size']}; P(margin < 0.5/1/2 m) ~ "
              f"{'/'.join(f'{v:.3g}' for v in imp['p_margin_below'].values())} (narrowed: "
              f"{', '.join(imp['narrowed_parameters']) or 'none'})")
    for name, f in summary.get("falsification", {}).items():
        if isinstance(f, dict) and "cases" in f:
            print(f"  search {name:6s}: {f['failures']}/{f['cases']} safety failures, first after "
                  f"{f['simulations_to_first_failure']} simulations, worst safety margin {f['worst_margin_m']} m "
                  f"({f['worst_scenario']}, case {f['worst_case']})")
            for inv, g in f.get("by_invariant", {}).items():
                print(f"    {inv:11s} {g['failures']} failures, first after {g['simulations_to_first_failure']}, "
                      f"worst {g['worst_margin_m']} m ({g['worst_scenario']}, case {g['worst_case']})")
    _print_report(out, REPORT_WORST if args.report_worst is None else args.report_worst)
    return 0 if not summary["failed_cases"] else 1


def _print_report(out: Path, worst: int) -> list[str]:
    from sim.runners.campaign_report import write_report

    written = write_report(out, worst=worst)
    print(f"campaign report: {written.path} ({len(written.cases)} worst case(s) re-run with a flight record)")
    bad = written.not_reproduced
    if bad:
        print(f"campaign report: TRACE HASH NOT REPRODUCED for {', '.join(bad)}: their records are not the "
              "evidence of the manifest's cases", file=sys.stderr)
    return bad


def report(args: argparse.Namespace) -> int:
    """Exit status: 0 every re-run case reproduced its trace hash, 1 some did not, 2 no campaign there."""
    return 1 if _print_report(args.dir, args.worst) else 0


def _importance(searches: list[Any], evaluate: Any, n: int) -> dict[str, Any]:
    """Cases from the searches' final distributions (an equal mixture, with the nominal one as the defensive
    share), weighted back to the nominal distribution."""
    import numpy as np

    from sim.campaign.family import RANGES, unit_point
    from sim.campaign.importance import ALPHA, MixtureProposal, estimate
    from sim.campaign.search import safety_margin

    parts = [s.proposal(only_moved=True, min_sigma=0.1) for s in searches]
    proposal = MixtureProposal(tuple(parts), ALPHA)
    first = searches[0]
    points, scenarios = proposal.sample_with_scenarios(first.rng, n)
    cases = first.cases_at(points, scenarios)
    got = evaluate(cases)
    weights = proposal.weights(np.array([unit_point(c.params) for c in cases]), scenarios)
    result = estimate(weights, np.array([safety_margin(r) for r in got]))
    result["case_ids"] = [r["id"] for r in got]
    names = [name for name, _, _ in RANGES]
    result["narrowed_parameters"] = sorted({name for part in parts if part.active is not None
                                            for name, a in zip(names, part.active, strict=True) if a})
    result["scenario_p"] = {s.objective: {sc: round(float(p), 3) for sc, p in zip(s.scenarios, s.scenario_p,
                                                                                  strict=True)} for s in searches}
    return result


def _manifest_case(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """The manifest row of ``args.case_id`` in ``args.dir`` and its case; ConfigError when it is not there."""
    from sim.campaign.family import Case
    from sim.runners.campaign import find_case

    try:
        row = find_case(args.dir, args.case_id)
    except KeyError:
        raise ConfigError(f"no case {args.case_id} in {args.dir / 'manifest.jsonl'}") from None
    return row, Case.from_row(row)


def shrink_case(args: argparse.Namespace) -> int:
    from sim.runners.shrink import broken, shrink, write_regression

    row, case = _manifest_case(args)
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
    from sim.runners.campaign_case import run_case

    row, case = _manifest_case(args)
    again = run_case(case, row["code"])
    same = again["trace_hash"] == row["trace_hash"]
    print(f"case {args.case_id} ({row['scenario']}, seed {row['seed']}): trace hash {again['trace_hash']} "
          f"({'same as' if same else 'DIFFERENT from'} the manifest's {row['trace_hash']}); margins "
          f"{json.dumps(again['margins'])}")
    return 0 if same else 1
