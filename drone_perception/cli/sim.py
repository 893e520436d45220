"""``drone-perception sim``: run scenarios in closed loop, print a summary, save plot, record and report."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from drone_perception.config import StackConfig, load_config
from drone_perception.interfaces import Recorder

if TYPE_CHECKING:
    from sim.runner import ScenarioResult

R = TypeVar("R")

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("sim", help="run simulated scenarios in closed loop (record + audit report per run)")
    p.add_argument("--scenario", default="walk", help="scenario name, or 'all' (see --list)")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--config", type=Path, default=None, help="YAML configuration file")
    p.add_argument("--seed", type=int, default=0, help="random seed (runs are deterministic under a seed)")
    p.add_argument("--out", type=Path, default=Path("runs/sim"), help="output directory")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-record", action="store_true", help="do not write the flight record and audit report")
    p.add_argument("--link", choices=("direct", "mavlink"), default="direct",
                   help="direct: in-process sim autopilot; mavlink: through the MAVLink bridge over UDP")
    p.add_argument("--connect", default=None,
                   help="with --link mavlink: an external autopilot SITL (e.g. tcp:127.0.0.1:5760)")
    p.add_argument("--gcs", default=None, help="with --connect: the scripted crew's UDP endpoint on that SITL "
                   "(default udpin:127.0.0.1:14551)")
    p.add_argument("--perception", choices=("sim", "camera"), default="sim",
                   help="sim: detections from ground truth; camera: rendered frames through the real detector")
    p.add_argument("--duration-s", type=float, default=None,
                   help="run each scenario this long instead of its own duration")
    p.add_argument("--detector-rate-hz", type=float, default=None,
                   help="with --perception camera: detector rate (default 5 Hz; control stays at 20 Hz)")
    p.add_argument("--sprites", choices=("photos", "procedural"), default="photos",
                   help="with --perception camera: people from real photo crops (needs `make testdata`) or "
                   "drawn silhouettes (chosen explicitly, never a silent fallback)")
    p.set_defaults(func=run)


def _scenario_names(arg: str) -> list[str]:
    from sim.scenarios import SCENARIOS, get_scenario

    if arg == "all":
        return list(SCENARIOS)
    names = [n.strip() for n in arg.split(",") if n.strip()]
    for n in names:
        get_scenario(n)  # raises UnknownScenarioError listing the known names
    return names


def run(args: argparse.Namespace) -> int:
    from sim.scenarios import SCENARIOS

    if args.list:
        for name, spec in SCENARIOS.items():
            print(f"{name:20s} {spec.duration_s:5.0f} s  {spec.description}")
        return 0
    config = load_config(args.config)
    names = _scenario_names(args.scenario)
    if args.link == "mavlink":
        from sim.mavlink_loop import run_mavlink_scenarios

        return run_mavlink_scenarios(names, config, args)
    if args.perception == "camera":
        from sim.camera_loop import run_camera_scenarios

        return run_camera_scenarios(names, config, args)
    summaries = [run_one(name, config, args) for name in names]
    _print_summaries(summaries, as_json=args.json)
    return 0 if all(s["passed"] for s in summaries) else 1


def run_one(name: str, config: StackConfig, args: argparse.Namespace) -> dict[str, Any]:
    from sim.runner import run_scenario

    def run(recorder: Recorder | None) -> ScenarioResult:
        return run_scenario(name, config, seed=args.seed, recorder=recorder,
                            duration_s=getattr(args, "duration_s", None))

    summary, _ = run_and_report(Path(args.out) / name, args, run)
    return summary


def run_and_report(
    out_dir: Path, args: argparse.Namespace, run: Callable[[Recorder | None], R]
) -> tuple[dict[str, Any], R]:
    """Run ``run(recorder)`` recording to ``out_dir/record.mcap`` (unless ``--no-record``), then save the
    trajectory plot and the audit report next to it. ``run`` returns a ScenarioResult or something with a
    ``.result`` ScenarioResult. Returns the summary dict and whatever ``run`` returned."""
    from sim.runner import save_trajectory_plot

    out_dir.mkdir(parents=True, exist_ok=True)
    record_path = out_dir / "record.mcap"
    recorder = None
    if not args.no_record:
        from drone_perception.record.mcap_recorder import FlightRecorder

        recorder = FlightRecorder(record_path)
    try:
        returned = run(recorder)
    finally:
        if recorder is not None:
            recorder.close()
    result = cast("ScenarioResult", getattr(returned, "result", returned))
    summary = result.summary()
    summary["plot"] = str(save_trajectory_plot(result, out_dir / "trajectory.png"))
    if recorder is not None:
        from drone_perception.audit.api import audit_record

        report_path = out_dir / "report.html"
        summary["audit"] = audit_record(record_path, report_path, out_dir / "verdict.json")
        summary["record"], summary["report"] = str(record_path), str(report_path)
    return summary, returned


def _print_summaries(summaries: list[dict[str, Any]], *, as_json: bool) -> None:
    if as_json:
        json.dump(summaries if len(summaries) > 1 else summaries[0], sys.stdout, indent=2)
        print()
        return
    for s in summaries:
        verdict = "PASS" if s["passed"] else "FAIL"
        print(f"== {s['scenario']} (seed {s['seed']}, {s['duration_s']:.0f} s): {verdict}")
        print(f"   min separation: subject {s['min_separation_subject_m']:.2f} m, any person "
              f"{s['min_separation_any_m']:.2f} m at t={s['min_separation_at_s']:.1f} s "
              f"(standoff {s['standoff_m']:.1f} m)")
        print(f"   subject in view {100 * s['subject_in_view_share']:.0f}% of engaged time; "
              f"fence margin >= {s['min_fence_margin_m']:.1f} m; sent while disengaged: "
              f"{s['sent_while_disengaged']}")
        kinds = ", ".join(f"{k} {v}" for k, v in s["interventions"].items()) or "none"
        print(f"   governor interventions (control periods): {kinds}")
        for f in s["failures"]:
            print(f"   FAILURE: {f}")
        print(f"   plot: {s['plot']}")
        if "report" in s:
            a = s["audit"]
            print(f"   record: {s['record']}")
            print(f"   audit report: {s['report']} (verdict: {a.get('overall', '?')})")
