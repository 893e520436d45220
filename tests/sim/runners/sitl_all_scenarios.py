"""Every built-in scenario once through the real ArduCopter SITL (bare topology, one run at a time, each in its own
network namespace through ``real_sitl_job.py``), beside the same scenario on the built-in MAVLink lock-step loop and
the direct loop (seed 0). Not a test module: a report, about 20 minutes of wall time (SITL runs in real time).

    .venv/bin/python tests/sim/runners/sitl_all_scenarios.py OUT_DIR [SCENARIO ...]

Writes ``OUT_DIR/sitl_all.json`` (every summary) and ``OUT_DIR/sitl_all.md`` (the table). Run as root where
``unshare -n`` is allowed; the SITL binary is ``../shared/sitl/ardupilot`` (or ``DRONE_PERCEPTION_SITL_DIR``).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
SITL_DIR = Path(os.environ.get("DRONE_PERCEPTION_SITL_DIR", ROOT.parent / "shared" / "sitl" / "ardupilot"))
JOB = Path(__file__).with_name("real_sitl_job.py")


def run_sitl(name: str, duration_s: float) -> dict[str, Any]:
    args = [sys.executable, str(JOB), str(SITL_DIR), "bare", name, str(duration_s)]
    job = " ".join(shlex.quote(a) for a in args)
    res = subprocess.run(["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {job}"], capture_output=True,
                         text=True, timeout=duration_s + 300, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if res.returncode != 0:
        return {"error": res.stderr[-3000:], "rc": res.returncode}
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_builtin(name: str) -> dict[str, dict[str, Any]]:
    from sim.runners.direct import run_scenario
    from sim.runners.lockstep import run_mavlink_scenario

    out: dict[str, dict[str, Any]] = {}
    for key, fn in (("lockstep", run_mavlink_scenario), ("direct", run_scenario)):
        t0 = time.monotonic()
        try:
            s = fn(name, seed=0, keep_trajectory=False).summary()
        except Exception as exc:  # a report: say what failed and go on
            s = {"error": repr(exc)}
        s["wall_s"] = round(time.monotonic() - t0, 1)
        out[key] = s
    return out


def _cells(s: dict[str, Any] | None) -> list[str]:
    if not s:
        return ["-"] * 5
    if "error" in s:
        return ["error"] + ["-"] * 4
    m = s["mission"]
    verdict = f"{s['safety']['verdict']} / {m['verdict']}"
    if s["safety"]["failures"] or m["failures"]:
        verdict += " (" + "; ".join(s["safety"]["failures"] + m["failures"]) + ")"
    return [f"{s['min_separation_any_m']:.2f}", f"{s['subject_in_view_share']:.0%}", str(m["motion_commands"]),
            verdict, f"{s['wall_s']:.0f}"]


def table(results: dict[str, dict[str, Any]]) -> str:
    head = ("| scenario | loop | min separation m (standoff) | in view | motion cmds | safety / mission | wall s "
            "| engaged after launch s |")
    lines = [head, "|" + "---|" * 8]
    for name, r in results.items():
        standoff = next((r[k]["standoff_m"] for k in ("sitl", "lockstep", "direct")
                         if r.get(k) and "standoff_m" in r[k]), None)
        for key in ("sitl", "lockstep", "direct"):
            s = r.get(key)
            sep, view, cmds, verdict, wall = _cells(s)
            engaged = s.get("engaged_after_launch_s") if s and key == "sitl" else None
            lines.append(f"| {name if key == 'sitl' else ''} | {key} | {sep} ({standoff}) | {view} | {cmds} | "
                         f"{verdict} | {wall} | {engaged if engaged is not None else '-'} |")
    return "\n".join(lines) + "\n"


def main(out_dir: str, *names: str) -> int:
    sys.path.insert(0, str(ROOT))
    from sim.world.scenarios import SCENARIOS

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sitl_all.json"
    results: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}
    todo = list(names) or list(SCENARIOS)
    for name in todo:  # SITL first, one at a time: nothing else heavy should run beside a real-time autopilot
        results.setdefault(name, {})["sitl"] = run_sitl(name, SCENARIOS[name].duration_s)
        path.write_text(json.dumps(results, indent=1))
        print(name, "sitl", results[name]["sitl"].get("wall_s", "error"), flush=True)
    for name in todo:
        results[name].update(run_builtin(name))
        path.write_text(json.dumps(results, indent=1))
        print(name, "lockstep/direct done", flush=True)
    (out / "sitl_all.md").write_text(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
