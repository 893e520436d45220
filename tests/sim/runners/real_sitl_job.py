"""Runs inside the network namespace of ``test_real_sitl.py``: launch ArduCopter SITL (bare, or behind MAVProxy),
fly one scenario through the stack against it, print the summary as one JSON line. Not a test module itself.

    python real_sitl_job.py ARDUCOPTER_DIR TOPOLOGY SCENARIO DURATION_S
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drone_perception.config import StackConfig
from sim.runners.sitl import run_sitl_scenario

#: (bridge connection, crew connection) per topology. "bare": the bridge on SERIAL0 (tcp 5760), the crew on a
#: second MAVLink port (--serial1 udpclient). "mavproxy": MAVProxy on SERIAL0 serving the crew, the bridge on
#: SERIAL1 (tcp 5762) as a companion on TELEM2 would be.
TOPOLOGIES = {
    "bare": ("tcp:127.0.0.1:5760", "udpin:127.0.0.1:14551"),
    "mavproxy": ("tcp:127.0.0.1:5762", "udpin:127.0.0.1:14551"),
}


def main(ardupilot_dir: str, topology: str, scenario: str, duration_s: float) -> int:
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
        result = run_sitl_scenario(scenario, StackConfig(), connect=connect, gcs_connect=gcs, duration_s=duration_s,
                                   progress=lambda text: progress.append(f"{time.monotonic() - t0:.0f} s {text}"))
        summary = result.summary()
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
    raise SystemExit(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
