"""Runs inside the network namespace of ``test_real_sitl.py``: launch ArduCopter SITL (bare, or behind MAVProxy),
fly one scenario through the stack against it, print the summary as one JSON line. Not a test module itself.

    python real_sitl_job.py ARDUCOPTER_DIR TOPOLOGY SCENARIO DURATION_S [stall:T | dead:T]

With a fault (world seconds from the hand-over), the summary also carries what the bridge saw of the autopilot
(mode changes, mode requests, setpoints after the fault) and, for a dead companion, how far the vehicle coasted
on the autopilot's own GUID_TIMEOUT (from the crew's view of it, the simulator's truth).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from drone_perception.config import StackConfig
from sim.runners.sitl import SitlFaults, run_sitl_scenario


class ListRecorder:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, Any]] = []

    def record(self, topic: str, stamp_s: float, message: Any) -> None:
        self.rows.append((topic, stamp_s, message))

    def close(self) -> None:
        return None


def _fault_figures(rec: ListRecorder, result: Any, fault_at_s: float, dt_s: float) -> dict[str, Any]:
    events = [m for topic, _, m in rec.rows if topic == "/autopilot/events" and isinstance(m, dict)]
    out_rows = [(t, m) for topic, t, m in rec.rows if topic == "/mavlink/out" and isinstance(m, dict)]
    handover = result.trajectory["t"][0] - dt_s
    fault_stamp = handover + fault_at_s
    setpoints_after = [m for t, m in out_rows
                       if t >= fault_stamp and m.get("msg_type") == "SET_POSITION_TARGET_LOCAL_NED"]
    veh = np.array(result.trajectory["vehicle"], dtype=float)
    k = round(fault_at_s / dt_s)
    speed = np.linalg.norm(np.diff(veh[:, :2], axis=0), axis=1) / dt_s
    stop = next((j for j in range(k, len(speed)) if np.all(speed[j:j + 10] < 0.2)), len(speed))
    return {
        "modes": [m["mode"] for m in events if m.get("kind") == "mode"],
        "mode_requests": [m["mode"] for m in events if m.get("kind") == "mode_request"],
        "setpoints_after_fault": len(setpoints_after),
        "hold_after_fault": [[float(m["fields"][k]) for k in ("vx", "vy", "vz")] for m in setpoints_after[:3]],
        "speed_at_fault_mps": float(np.mean(speed[max(k - 10, 0):k])) if k > 0 else 0.0,
        "coast_m": float(np.linalg.norm(veh[min(stop, len(veh) - 1), :2] - veh[k, :2])),
        "coast_s": round((stop - k) * dt_s, 2),
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
        rec = ListRecorder()
        config = StackConfig()
        result = run_sitl_scenario(scenario, config, connect=connect, gcs_connect=gcs, duration_s=duration_s,
                                   recorder=rec, faults=faults,
                                   progress=lambda text: progress.append(f"{time.monotonic() - t0:.0f} s {text}"))
        summary = result.summary()
        if kind:
            summary["fault"] = {"kind": kind, "at_s": float(at),
                                **_fault_figures(rec, result, float(at), 1.0 / config.control_rate_hz)}
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
