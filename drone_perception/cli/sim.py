"""``drone-perception sim``: run scenarios in closed loop, print a summary, save plot, record and report.

Exit status: 0 every run passed (safe *and* did its job: follow engaged, motion commanded, subject in view),
1 at least one failed (safety or mission), 2 bad input (unknown scenario, bad config, an option that does not
apply, an output folder that already holds a record), 130 interrupted (the record is closed, marked incomplete
and audited: unverifiable).

Every run records by default, into a new folder ``runs/sim/<UTC time>/<scenario>`` (``--out`` to choose the
parent); an existing record is never overwritten. ``--json`` prints one object for one or many runs:
``{"schema": "drone-perception/sim-runs/1", "passed": bool, "tally": {...}, "runs": [summary, ...]}``
(docs/sim-runs.schema.json)."""

from __future__ import annotations

import argparse
import datetime
import html
import json
import logging
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drone_perception.config import StackConfig, load_config
from drone_perception.errors import ConfigError
from drone_perception.interfaces import Recorder

if TYPE_CHECKING:
    from sim.runners.truth import ScenarioResult
    from sim.sensing.person_sprites import SpriteBank

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("sim", help="run simulated scenarios in closed loop (record + audit report per run)")
    p.add_argument("--scenario", default="walk", help="scenario name, or 'all' (see --list)")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--config", type=Path, default=None, help="YAML configuration file")
    p.add_argument("--seed", type=int, default=0, help="random seed (runs are deterministic under a seed)")
    p.add_argument("--out", type=Path, default=None, help="output folder, one sub-folder per scenario (default: a "
                   "new runs/sim/<UTC time>; a folder that already holds a record is refused)")
    p.add_argument("--json", action="store_true", help="print the summaries as one JSON object (schema "
                   "drone-perception/sim-runs/1, docs/sim-runs.schema.json) instead of text")
    p.add_argument("--no-record", action="store_true", help="do not write the flight record and audit report")
    p.add_argument("--link", choices=("direct", "mavlink"), default="direct",
                   help="direct: in-process sim autopilot; mavlink: through the MAVLink bridge over UDP")
    p.add_argument("--connect", default=None,
                   help="with --link mavlink: an external autopilot SITL (e.g. tcp:127.0.0.1:5760)")
    p.add_argument("--gcs", default=None, help="with --connect: the scripted crew's UDP endpoint on that SITL "
                   "(default udpin:127.0.0.1:14551)")
    p.add_argument("--wait-s", type=float, default=None,
                   help="with --connect: wall seconds to wait for the SITL (started before, with or after the "
                   "stack) to accept the link, report a position estimate, pass its pre-arm checks and take off; "
                   "progress goes to stderr every 5 s (default 120)")
    p.add_argument("--perception", choices=("sim", "camera"), default="sim",
                   help="sim: detections from ground truth; camera: rendered frames through the real detector")
    p.add_argument("--duration-s", type=_positive_seconds, default=None,
                   help="run each scenario this long (s, > 0) instead of its own duration")
    p.add_argument("--detector-rate-hz", type=float, default=None,
                   help="with --perception camera: detector rate (default 5 Hz; control stays at 20 Hz)")
    p.add_argument("--camera-policy", choices=("flight", "tiles"), default=None,
                   help="with --perception camera: the detection policy. flight (default): the full frame only, as "
                   "in flight; tiles: 3x2 tiles while acquiring and crops round the tracks (4-7 passes a frame)")
    p.add_argument("--sprites", choices=("video", "photos", "procedural"), default="video",
                   help="with --perception camera: people cut from the elevated pedestrian video (default) or "
                   "from the eye-level test photos (both need `make testdata`), or drawn silhouettes (chosen "
                   "explicitly, never a silent fallback)")
    p.set_defaults(func=run)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not (math.isfinite(value) and 0.0 < value <= 24 * 3600):
        raise argparse.ArgumentTypeError(f"must be > 0 s and at most a day, got {text}")
    return value


#: Options that apply only with another: (option attribute, flag, what it needs, predicate on args).
_NEEDS = (
    ("gcs", "--gcs", "--connect", lambda a: a.connect is not None),
    ("wait_s", "--wait-s", "--connect", lambda a: a.connect is not None),
    ("detector_rate_hz", "--detector-rate-hz", "--perception camera", lambda a: a.perception == "camera"),
    ("camera_policy", "--camera-policy", "--perception camera", lambda a: a.perception == "camera"),
)


def _refuse_what_does_not_apply(args: argparse.Namespace) -> None:
    for attr, flag, needs, ok in _NEEDS:
        if getattr(args, attr) is not None and not ok(args):
            raise ConfigError(f"{flag} applies only with {needs}")
    if args.sprites != "video" and args.perception != "camera":
        raise ConfigError("--sprites applies only with --perception camera")
    if args.connect and args.link != "mavlink":
        raise ConfigError(f"--connect {args.connect}: an external autopilot is flown over MAVLink; add --link mavlink")


def _default_out() -> Path:
    """A new folder ``runs/sim/<UTC time>`` (``-2``, ``-3``... if one of that second exists)."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = Path("runs/sim") / stamp
    out, k = base, 1
    while out.exists():
        k += 1
        out = base.with_name(f"{stamp}-{k}")
    return out


def _scenario_names(arg: str) -> list[str]:
    from sim.world.scenarios import SCENARIOS, get_scenario

    if arg == "all":
        return list(SCENARIOS)
    names = [n.strip() for n in arg.split(",") if n.strip()]
    for n in names:
        get_scenario(n)  # raises UnknownScenarioError listing the known names
    return names


def run(args: argparse.Namespace) -> int:
    from sim.world.scenarios import SCENARIOS

    if args.list:
        for name, spec in SCENARIOS.items():
            print(f"{name:20s} {spec.duration_s:5.0f} s  {spec.description}")
        return 0
    _refuse_what_does_not_apply(args)
    config = load_config(args.config)
    from drone_perception.config.envelope import mission_warnings

    for warning in mission_warnings(config.follow, config.camera):
        print(f"drone-perception sim: warning: {warning}", file=sys.stderr)
    names = _scenario_names(args.scenario)
    if args.out is None:
        args.out = _default_out()
    if args.link == "mavlink":
        if args.perception != "sim":
            raise ConfigError(f"--perception {args.perception}: only 'sim' detections run on --link mavlink")
        summaries = [_run_mavlink_one(name, config, args) for name in names]
    elif args.perception == "camera":
        sprites = _sprites(args)
        summaries = [_run_camera_one(name, config, args, sprites) for name in names]
    else:
        summaries = [_run_direct_one(name, config, args) for name in names]
    _print_summaries(summaries, as_json=args.json)
    if args.perception == "camera" and not args.json:
        _print_camera(summaries)
    if len(summaries) > 1:
        index = _write_index(Path(args.out), summaries)
        if not args.json:
            t = _tally(summaries)
            print(f"== {t['runs']} runs: {t['passed']} passed, {t['failed']} failed (mission failed "
                  f"{t['mission_failed']}, safety failed {t['safety_failed']}); index: {index}")
    return 0 if all(s["passed"] for s in summaries) else 1


#: Schema of ``sim --json`` (docs/sim-runs.schema.json); each run is a ScenarioResult summary (its own schema).
RUNS_SCHEMA = "drone-perception/sim-runs/1"


def _tally(summaries: list[dict[str, Any]]) -> dict[str, int]:
    return {"runs": len(summaries), "passed": sum(bool(s["passed"]) for s in summaries),
            "failed": sum(not s["passed"] for s in summaries),
            "mission_failed": sum(s["mission"]["verdict"] != "pass" for s in summaries),
            "safety_failed": sum(s["safety"]["verdict"] != "pass" for s in summaries)}


def _write_index(out: Path, summaries: list[dict[str, Any]]) -> Path:
    """``out/index.html``: one row per run (verdicts, key figures, links to its report and plot)."""
    def link(path: str | None, text: str) -> str:
        if not path:
            return ""
        try:
            rel = Path(path).resolve().relative_to(out.resolve())
        except ValueError:
            rel = Path(path)
        return f'<a href="{html.escape(str(rel))}">{text}</a>'

    rows = "".join(
        f"<tr class=\"{'pass' if s['passed'] else 'fail'}\"><td>{html.escape(s['scenario'])}</td><td>{s['seed']}</td>"
        f"<td>{'PASS' if s['passed'] else 'FAIL'}</td><td>{s['mission']['verdict']}</td>"
        f"<td>{s['safety']['verdict']}</td><td>{s['min_separation_any_m']:.2f} / {s['standoff_m']:.1f}</td>"
        f"<td>{100 * s['subject_in_view_share']:.0f}%</td><td>{link(s.get('report'), 'report')} "
        f"{link(s.get('plot'), 'plot')}</td></tr>" for s in summaries)
    t = _tally(summaries)
    page = (f"<!doctype html><meta charset=utf-8><title>drone-perception sim: {t['runs']} runs</title>"
            "<style>body{font-family:sans-serif}td,th{padding:2px 8px}.fail{background:#fdd}.pass{background:#dfd}"
            f"</style><h1>{t['runs']} runs: {t['passed']} passed, {t['failed']} failed</h1><table><tr><th>scenario"
            "<th>seed<th>verdict<th>mission<th>safety<th>min separation / standoff (m)<th>subject in view<th></tr>"
            f"{rows}</table>")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _run_direct_one(name: str, config: StackConfig, args: argparse.Namespace) -> dict[str, Any]:
    from sim.runners.direct import run_scenario
    from sim.runners.report import run_and_report

    def run_it(recorder: Recorder | None) -> ScenarioResult:
        return run_scenario(name, config, seed=args.seed, recorder=recorder, duration_s=args.duration_s)

    summary, _ = run_and_report(Path(args.out) / name, run_it, record=not args.no_record)
    return summary


def _run_mavlink_one(name: str, config: StackConfig, args: argparse.Namespace) -> dict[str, Any]:
    from sim.runners.lockstep import run_mavlink_scenario
    from sim.runners.report import run_and_report
    from sim.runners.sitl import DEFAULT_SITL_GCS, run_sitl_scenario

    def run_it(recorder: Recorder | None) -> ScenarioResult:
        if args.connect:
            wait = {} if args.wait_s is None else {"connect_timeout_s": args.wait_s, "launch_timeout_s": args.wait_s}
            return run_sitl_scenario(name, config, connect=args.connect, gcs_connect=args.gcs or DEFAULT_SITL_GCS,
                                     seed=args.seed, recorder=recorder, duration_s=args.duration_s,
                                     progress=lambda text: print(f"   {text}", file=sys.stderr, flush=True), **wait)
        return run_mavlink_scenario(name, config, seed=args.seed, recorder=recorder, duration_s=args.duration_s)

    summary, _ = run_and_report(Path(args.out) / f"{name}_mavlink", run_it, record=not args.no_record)
    summary["link"] = "mavlink"
    return summary


def _sprites(args: argparse.Namespace) -> SpriteBank:
    """``--sprites``: "video" (default), "photos" or "procedural" (explicit choice only, never a silent
    fallback)."""
    from sim.sensing.person_sprites import load_photo_sprites, load_video_sprites, procedural_sprites

    if args.sprites == "procedural":
        return procedural_sprites(args.seed)
    return load_photo_sprites() if args.sprites == "photos" else load_video_sprites()


def _run_camera_one(name: str, config: StackConfig, args: argparse.Namespace, sprites: SpriteBank) -> dict[str, Any]:
    """One scenario with camera perception: record, audit report, trajectory plot and annotated video in
    ``args.out/name``; returns the summary (``ScenarioResult.summary()`` plus a ``camera`` block)."""
    from sim.runners.camera import CameraRunResult, run_camera_scenario
    from sim.runners.report import run_and_report

    out_dir = Path(args.out) / name

    def run_it(recorder: Recorder | None) -> CameraRunResult:
        return run_camera_scenario(name, config, seed=args.seed, sprites=sprites, recorder=recorder,
                                   detector_rate_hz=args.detector_rate_hz or 5.0,
                                   policy=args.camera_policy or "flight", duration_s=args.duration_s,
                                   video_path_stem=out_dir / "camera",
                                   progress=lambda text: print(f"   {name}: {text}", file=sys.stderr, flush=True))

    summary, run = run_and_report(out_dir, run_it, record=not args.no_record, result_of=lambda r: r.result)
    summary["camera"] = {
        "sprites": sprites.mode, "policy": args.camera_policy or "flight", "detector_frames": run.detector_frames,
        "video": str(run.video_path),
        "video_codec": run.video_codec,
        "render_ms_mean": round(run.render_ms_mean, 1), "detect_ms_mean": round(run.detect_ms_mean, 1),
        "detector_passes_mean": round(run.detector_passes_mean, 2), **run.recall,
    }
    return summary


def _print_camera(summaries: list[dict[str, Any]]) -> None:
    for s in summaries:
        c = s["camera"]
        print(f"   camera ({c['sprites']} sprites): {c['detector_frames']} detector frames, render "
              f"{c['render_ms_mean']} ms, detect {c['detect_ms_mean']} ms ({c['detector_passes_mean']} passes)")
        print(f"   recall {c['recall']} (subject {c['subject_recall']}), false positives "
              f"{c['false_positives']}/{c['detections']}; by height: " + ", ".join(
                  f"{k} {v['recall']} (n={v['n']})" for k, v in c["by_height"].items()))
        print(f"   video: {c['video']}")


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%"


def _print_summaries(summaries: list[dict[str, Any]], *, as_json: bool) -> None:
    """One block per run: the verdict with mission and safety side by side, then the figures of each.
    A run passes only when it is safe *and* did its job (follow engaged, motion sent, subject in view)."""
    if as_json:
        json.dump({"schema": RUNS_SCHEMA, "passed": all(s["passed"] for s in summaries), "tally": _tally(summaries),
                   "runs": summaries}, sys.stdout, indent=2)
        print()
        return
    for s in summaries:
        verdict = "PASS" if s["passed"] else "FAIL"
        m, safety = s["mission"], s["safety"]
        print(f"== {s['scenario']} (seed {s['seed']}, {s['duration_s']:.0f} s): {verdict} "
              f"(mission {m['verdict']}, safety {safety['verdict']})")
        print(f"   mission: engaged {_pct(m['engaged_share'])} of the run; motion commands {m['motion_commands']}, "
              f"holds {s['holds_sent']}; subject in view {_pct(m['subject_in_view_share'])} of engaged time")
        err = m["follow_distance_error_m"]
        if err["mean"] is not None:
            print(f"   follow distance error (offset {m['follow_distance_m']:.1f} m, horizontal, while engaged): "
                  f"mean {err['mean']:.2f} m, max {err['max']:.2f} m")
        print(f"   min separation: subject {s['min_separation_subject_m']:.2f} m, any person "
              f"{s['min_separation_any_m']:.2f} m at t={s['min_separation_at_s']:.1f} s "
              f"(standoff {s['standoff_m']:.1f} m)")
        print(f"   fence margin >= {s['min_fence_margin_m']:.1f} m; sent while disengaged: "
              f"{s['sent_while_disengaged']}")
        kinds = ", ".join(f"{k} {v}" for k, v in s["interventions"].items()) or "none"
        print(f"   governor interventions (control periods): {kinds}")
        for f in m["failures"]:
            print(f"   FAILURE (mission): {f}")
        for f in safety["failures"]:
            print(f"   FAILURE (safety): {f}")
        print(f"   plot: {s['plot']}")
        if "report" in s:
            a = s["audit"]
            print(f"   record: {s['record']}")
            print(f"   audit report: {s['report']} (verdict: {a.get('overall', '?')})")
