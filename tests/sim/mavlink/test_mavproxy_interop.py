"""MAVProxy (headless) routes between the simulated vehicle and a pymavlink ground-station client:
heartbeats and telemetry cross it one way, commands and their COMMAND_ACK the other way.

Topology: vehicle ``udpin:127.0.0.1:A`` <- MAVProxy ``--master=udpout:...:A --out=udpout:...:B`` -> client
``udpin:127.0.0.1:B``. Skipped (with the reason) only if MAVProxy is not installed or cannot start.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pymavlink.dialects.v20 import ardupilotmega as M

from sim.mavlink.ground_station import ScriptedGroundStation
from sim.mavlink.link import SimTimeout
from sim.mavlink.vehicle import MavlinkSimVehicle

STARTUP_TIMEOUT_S = 45.0


def _mavproxy_exe() -> str | None:
    here = Path(sys.executable).parent / "mavproxy.py"
    return str(here) if here.exists() else shutil.which("mavproxy.py")


@pytest.fixture
def routed() -> Iterator[tuple[MavlinkSimVehicle, ScriptedGroundStation, subprocess.Popen[bytes]]]:
    exe = _mavproxy_exe()
    if exe is None:
        pytest.skip("MAVProxy not installed (pip install MAVProxy, it is in the dev extra)")
    vehicle = MavlinkSimVehicle("udpin:127.0.0.1:0", rng=np.random.default_rng(0))
    gcs = ScriptedGroundStation("udpin:127.0.0.1:0", pump=lambda: vehicle.run_realtime(0.02))
    with tempfile.TemporaryDirectory() as state:
        cmd = [sys.executable, exe, f"--master=udpout:127.0.0.1:{vehicle.local_address[1]}",
               f"--out=udpout:127.0.0.1:{gcs.link.local_address[1]}", "--daemon", "--non-interactive",
               "--mav20", "--no-state", f"--state-basedir={state}", "--default-modules=mode,cmdlong,param"]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, cwd=state)
        try:
            try:
                gcs.wait_heartbeat(STARTUP_TIMEOUT_S)
            except SimTimeout:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode(errors="replace")[-500:] if proc.stderr else ""
                    pytest.skip(f"MAVProxy could not start (exit {proc.returncode}): {err}")
                raise
            yield vehicle, gcs, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            gcs.close()
            vehicle.close()


def test_mavproxy_routes_heartbeats_telemetry_and_commands(
    routed: tuple[MavlinkSimVehicle, ScriptedGroundStation, subprocess.Popen[bytes]],
) -> None:
    vehicle, gcs, proc = routed
    hb = gcs.wait_heartbeat(5)
    assert (hb.type, hb.autopilot) == (M.MAV_TYPE_QUADROTOR, M.MAV_AUTOPILOT_ARDUPILOTMEGA)
    for telemetry in ("GLOBAL_POSITION_INT", "ATTITUDE", "SYS_STATUS", "RC_CHANNELS"):
        assert gcs.recv_match(telemetry, 10).get_srcSystem() == 1
    # commands and acks across MAVProxy: mode, parameter, and the operator's arming
    gcs.wait_prearm_ok(10)
    gcs.set_mode("GUIDED", 10)
    assert gcs.recv_match("HEARTBEAT", 5, lambda m: m.custom_mode == 4).custom_mode == 4
    assert gcs.set_param("GUID_TIMEOUT", 1.5, 10) == pytest.approx(1.5)
    gcs.arm(10)
    assert vehicle.mode == "GUIDED" and vehicle.armed
    assert vehicle.ap.params.get("GUID_TIMEOUT") == pytest.approx(1.5)
    assert proc.poll() is None  # MAVProxy still running
