"""Runs inside the network namespace of ``test_real_sitl.py``: launch ArduCopter SITL (bare, or behind MAVProxy),
fly one scenario through the stack against it, print the summary as one JSON line. Not a test module itself.

    python real_sitl_job.py ARDUCOPTER_DIR TOPOLOGY SCENARIO DURATION_S [stall:T | dead:T | deadman:T | mode:T]

With a fault (world seconds from the hand-over), the summary also carries what the bridge saw of the autopilot
(mode changes, mode requests, setpoints after the fault) and, for a dead companion, how far the vehicle coasted
on the autopilot's own GUID_TIMEOUT (from the crew's view of it, the simulator's truth).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from drone_perception.config import StackConfig
from sim.runners.crew import OperatorScript
from sim.runners.sitl import SitlFaults, run_sitl_scenario


class ListRecorder:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, Any]] = []

    def record(self, topic: str, stamp_s: float, message: Any) -> None:
        self.rows.append((topic, stamp_s, message))

    def close(self) -> None:
        return None


def _fault_figures(rec: ListRecorder, fault_at_s: float) -> dict[str, Any]:
    """From the record: the bridge's view of the autopilot, what was sent once the fault began (the first
    period whose world time reached it), and the coast from the simulator's truth (the crew's view)."""
    events = [m for topic, _, m in rec.rows if topic == "/autopilot/events" and isinstance(m, dict)]
    truth = [(t, m) for topic, t, m in rec.rows if topic == "/sim/truth"]
    k = next(i for i, (_, m) in enumerate(truth) if m["world_t_s"] >= fault_at_s - 1e-9)
    fault_stamp = truth[k][0]
    after = [m for topic, t, m in rec.rows if topic == "/mavlink/out" and t >= fault_stamp
             and m.get("msg_type") == "SET_POSITION_TARGET_LOCAL_NED"]
    t_w = np.array([m["world_t_s"] for _, m in truth])
    pos = np.array([m["vehicle_position_ned_m"][:2] for _, m in truth])
    vel = np.array([m["vehicle_velocity_ned_mps"][:2] for _, m in truth])
    speed = np.linalg.norm(vel, axis=1)
    stop = next((j for j in range(k, len(speed)) if np.all(speed[j:j + 10] < 0.2)), len(speed) - 1)
    disengages = [(t, m["reason"]) for topic, t, m in rec.rows if topic == "/autopilot/events"
                  and isinstance(m, dict) and m.get("kind") == "disengage" and t >= fault_stamp]
    motion_after_disengage = [m for topic, t, m in rec.rows if topic == "/mavlink/out" and disengages
                              and t > disengages[0][0] and m.get("msg_type") == "SET_POSITION_TARGET_LOCAL_NED"
                              and any(float(m["fields"][f]) != 0.0 for f in ("vx", "vy", "vz"))]
    return {
        "disengage_after_s": round(disengages[0][0] - fault_stamp, 3) if disengages else None,
        "disengage_reason": disengages[0][1] if disengages else None,
        "motion_after_disengage": len(motion_after_disengage),
        "modes": [m["mode"] for m in events if m.get("kind") == "mode"],
        "mode_requests": [m["mode"] for m in events if m.get("kind") == "mode_request"],
        "setpoints_after_fault": len(after),
        "first_setpoints_after_fault": [[float(m["fields"][f]) for f in ("vx", "vy", "vz")] for m in after[:3]],
        "speed_at_fault_mps": float(speed[k]),
        "coast_m": float(np.linalg.norm(pos[stop] - pos[k])),
        "coast_s": round(float(t_w[stop] - t_w[k]), 2),
    }


#: (bridge connection, crew connection) per topology. "bare": the bridge on SERIAL0 (tcp 5760), the crew on a
#: second MAVLink port (--serial1 udpclient). "mavproxy": MAVProxy on SERIAL0 serving the crew, the bridge on
#: SERIAL1 (tcp 5762) as a companion on TELEM2 would be.
TOPOLOGIES = {
    "bare": ("tcp:127.0.0.1:5760", "udpin:127.0.0.1:14551"),
    "mavproxy": ("tcp:127.0.0.1:5762", "udpin:127.0.0.1:14551"),
}


def main(ardupilot_dir: str, topology: str, scenario: str, duration_s: float, fault: str = "") -> int:
    ap = Path(ardupilot_dir)
    work = Path(tempfile.mkdtemp(prefix="sitl-"))
    cmd = [str(ap / "arducopter"), "--model", "+", "--speedup", "1", "--wipe", "--defaults", str(ap / "copter.parm"),
           "-I0", "--home", "-35.363261,149.165230,584,353"]
    if topology == "bare":
        cmd.append("--serial1=udpclient:127.0.0.1:14551")
    procs = [subprocess.Popen(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        if topology == "mavproxy":
            time.sleep(1.0)
            mavproxy = shutil.which("mavproxy.py") or str(Path(sys.executable).with_name("mavproxy.py"))
            procs.append(subprocess.Popen(
                [sys.executable, mavproxy, "--master", "tcp:127.0.0.1:5760", "--out", "udpout:127.0.0.1:14551",
                 "--daemon", "--non-interactive"], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        connect, gcs = TOPOLOGIES[topology]
        t0 = time.monotonic()
        progress: list[str] = []
        kind, _, at = fault.partition(":")
        faults = SitlFaults(stall_at_s=float(at) if kind == "stall" else None,
                            companion_dead_at_s=float(at) if kind == "dead" else None)
        script = OperatorScript(
            deadman_lost_s=(float(at), float(at) + 4.0) if kind == "deadman" else None,
            pilot_mode_at_s=(float(at), "LOITER") if kind == "mode" else None)
        rec = ListRecorder()
        config = StackConfig.model_validate(json.loads(os.environ.get("DP_CONFIG", "{}")))
        result = run_sitl_scenario(scenario, config, connect=connect, gcs_connect=gcs, duration_s=duration_s,
                                   recorder=rec, faults=faults, operator_script=script,
                                   progress=lambda text: progress.append(f"{time.monotonic() - t0:.0f} s {text}"))
        summary = result.summary()
        if kind:
            summary["fault"] = {"kind": kind, "at_s": float(at),
                                **_fault_figures(rec, float(at))}
        summary["wall_s"] = round(time.monotonic() - t0, 1)
        summary["progress"] = progress
        print(json.dumps(summary))
        return 0
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), *sys.argv[5:6]))
