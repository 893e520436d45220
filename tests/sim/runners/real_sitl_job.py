"""Runs inside the network namespace of ``test_real_sitl.py``: launch ArduCopter SITL (bare, or behind MAVProxy),
fly one scenario through the stack against it, print the summary as one JSON line. Not a test module itself.

    python real_sitl_job.py ARDUCOPTER_DIR TOPOLOGY SCENARIO DURATION_S [FAULT]

    FAULT: stall:T | dead:T | deadman:T | mode:T | linkdrop:T[:D] | fence:N[:A] | clockjump:T[:J]

With a fault (world seconds T from the hand-over), the summary also carries what the bridge saw of the autopilot
(mode changes, mode requests, setpoints after the fault) and how far the vehicle coasted on the autopilot's own
GUID_TIMEOUT (from the crew's view of it, the simulator's truth). ``linkdrop:T:D``: the bridge reaches the
autopilot through :class:`~sim.runners.link_relay.LinkRelay`, which carries nothing either way for D seconds
(default 5) from T; the summary adds when the bridge noticed the loss and the return, and what the vehicle did
after. ``fence:N``: the fence uploaded to the autopilot ends N m north of the start (the stack keeps its own,
larger fence), so the follow takes the vehicle through it and the autopilot's own FENCE_ACTION acts; the summary
adds the mode it chose and the stack's disengage. The crew sets AVOID_ENABLE to A (default 0: ArduCopter's fence
avoidance, on by default, stops the vehicle FENCE_MARGIN short of its fence, so nothing is breached). The crew reads
FENCE_*/GUID_TIMEOUT/RTL_ALT after the launch. ``clockjump:T:J``: from T the companion's clock (the bridge's and the
stack's) reads J s (default 5) ahead of the autopilot's and the crew's; the fault figures count from the first stamp
on the jumped clock.

``DP_SITL_SPEEDUP=N``: the scenario flies at SIM_SPEEDUP N, the stack and the world on the SITL's clock
(``run_sitl_scenario(speedup=N)``); the summary's ``sitl_clock`` says the speed-up reached and the control rate
kept (periods per second of that clock). ``DP_SITL_BOOT_SPEEDUP``: see :class:`FastBoot`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from pymavlink import mavutil

from drone_perception.config import StackConfig
from sim.mavlink.ground_station import ScriptedGroundStation
from sim.runners.crew import OperatorScript
from sim.runners.link_relay import LinkRelay
from sim.runners.sitl import SitlFaults, run_sitl_scenario

#: Seconds the link stays cut when ``linkdrop:T`` gives no duration.
DEFAULT_LINK_CUT_S = 5.0
#: Seconds the companion's clock jumps when ``clockjump:T`` gives no size.
DEFAULT_CLOCK_JUMP_S = 5.0


class ListRecorder:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, Any]] = []

    def record(self, topic: str, stamp_s: float, message: Any) -> None:
        self.rows.append((topic, stamp_s, message))

    def close(self) -> None:
        return None


def _events(rec: ListRecorder, kind: str, after_s: float = -np.inf) -> list[tuple[float, dict[str, Any]]]:
    return [(t, m) for topic, t, m in rec.rows if topic == "/autopilot/events" and isinstance(m, dict)
            and m.get("kind") == kind and t >= after_s]


def _motion(m: dict[str, Any]) -> bool:
    return m.get("msg_type") == "SET_POSITION_TARGET_LOCAL_NED" and any(
        float(m["fields"][f]) != 0.0 for f in ("vx", "vy", "vz", "yaw_rate"))


def _subject_ned_m(truth: dict[str, Any]) -> list[float]:
    return next(p["position_ned_m"] for p in truth["people"] if p["is_subject"])  # type: ignore[no-any-return]


def _fault_stamp(rec: ListRecorder, fault_at_s: float) -> float:
    """The stack's time of the first period whose world time reached ``fault_at_s``."""
    return next(t for topic, t, m in rec.rows if topic == "/sim/truth" and m["world_t_s"] >= fault_at_s - 1e-9)


def _fault_figures(rec: ListRecorder, fault_stamp: float) -> dict[str, Any]:
    """From the record: the bridge's view of the autopilot, what was sent once the fault began (stack time
    ``fault_stamp``), and the coast from the simulator's truth (the crew's view once the stack's went quiet)."""
    truth = [(t, m) for topic, t, m in rec.rows if topic == "/sim/truth"]
    k = next(i for i, (t, _) in enumerate(truth) if t >= fault_stamp)
    after = [m for topic, t, m in rec.rows if topic == "/mavlink/out" and t >= fault_stamp
             and m.get("msg_type") == "SET_POSITION_TARGET_LOCAL_NED"]
    before = [m for topic, t, m in rec.rows if topic == "/mavlink/out" and t < fault_stamp
              and m.get("msg_type") == "SET_POSITION_TARGET_LOCAL_NED"]
    t_w = np.array([m["world_t_s"] for _, m in truth])
    pos = np.array([m["vehicle_position_ned_m"][:2] for _, m in truth])
    vel = np.array([m["vehicle_velocity_ned_mps"][:2] for _, m in truth])
    speed = np.linalg.norm(vel, axis=1)
    stop = next((j for j in range(k, len(speed)) if np.all(speed[j:j + 10] < 0.2)), len(speed) - 1)
    disengages = [(t, m["reason"]) for t, m in _events(rec, "disengage", fault_stamp)]
    motion_after_disengage = [m for topic, t, m in rec.rows if topic == "/mavlink/out" and disengages
                              and t > disengages[0][0] and _motion(m)]
    return {
        "world_t_s": round(float(t_w[k]), 2),
        "disengage_after_s": round(disengages[0][0] - fault_stamp, 3) if disengages else None,
        "disengage_reason": disengages[0][1] if disengages else None,
        "motion_after_disengage": len(motion_after_disengage),
        "engaged_again": len([m for _, m in _events(rec, "engage", fault_stamp) if m.get("ok")]),
        "modes": [m["mode"] for _, m in _events(rec, "mode")],
        "mode_requests": [m["mode"] for _, m in _events(rec, "mode_request")],
        "setpoints_after_fault": len(after),
        "first_setpoints_after_fault": [[float(m["fields"][f]) for f in ("vx", "vy", "vz")] for m in after[:3]],
        "speed_at_fault_mps": float(speed[k]),
        # the last setpoint that reached the autopilot: it keeps flying it until GUID_TIMEOUT (horizontal m/s)
        "last_command_mps": float(np.hypot(before[-1]["fields"]["vx"], before[-1]["fields"]["vy"])) if before else 0.0,
        "coast_m": float(np.linalg.norm(pos[stop] - pos[k])),
        "coast_s": round(float(t_w[stop] - t_w[k]), 2),
    }


def _link_cuts(rec: ListRecorder) -> list[float]:
    """The stack's times at which the link was cut and restored (``/sim/link_cut``)."""
    return [t for topic, t, _ in rec.rows if topic == "/sim/link_cut"]


def _link_drop_figures(rec: ListRecorder, relay: LinkRelay) -> dict[str, Any]:
    """When the relay cut and restored the link, when the bridge noticed each (its ``link`` events), and what
    the vehicle did after the link came back (the simulator's truth of the autopilot's reported pose)."""
    cut_s, restored_s = _link_cuts(rec)[:2]
    lost = _events(rec, "link", cut_s)
    lost_s = next((t for t, m in lost if not m["ok"]), None)
    back_s = next((t for t, m in _events(rec, "link", restored_s) if m["ok"]), None)
    truth = [(t, m) for topic, t, m in rec.rows if topic == "/sim/truth" and t >= restored_s + 1.0]
    speeds = [float(np.linalg.norm(m["vehicle_velocity_ned_mps"][:2])) for _, m in truth]
    moved = (float(np.linalg.norm(np.subtract(truth[-1][1]["vehicle_position_ned_m"][:2],
                                              truth[0][1]["vehicle_position_ned_m"][:2]))) if truth else None)
    subject_gap = [float(np.linalg.norm(np.subtract(m["vehicle_position_ned_m"][:2], _subject_ned_m(m)[:2])))
                   for _, m in truth]
    return {
        "cut_s": round(restored_s - cut_s, 2),
        "link_lost_after_s": round(lost_s - cut_s, 3) if lost_s is not None else None,
        "link_back_after_s": round(back_s - restored_s, 3) if back_s is not None else None,
        "motion_sent_after_restore": len([m for topic, t, m in rec.rows if topic == "/mavlink/out"
                                          and t >= restored_s and _motion(m)]),
        "max_speed_after_restore_mps": max(speeds) if speeds else None,
        "moved_after_restore_m": moved,
        "subject_gap_growth_after_restore_m": (subject_gap[-1] - subject_gap[0]) if subject_gap else None,
        "dropped_bytes": dict(relay.dropped_bytes),
    }


def _fence_figures(rec: ListRecorder, fence_north_m: float) -> dict[str, Any]:
    """The autopilot's own fence breach: its first mode change out of GUIDED after follow engaged, the
    vehicle's position then, how far past the autopilot's fence line it went (simulator truth), its
    fence STATUSTEXTs, and the stack's disengage after it."""
    engaged = [t for t, m in _events(rec, "engage") if m.get("ok")]
    change = next(((t, m["mode"]) for t, m in _events(rec, "mode", engaged[0] if engaged else np.inf)
                   if m["mode"] != "GUIDED"), None)
    truth = [(t, m) for topic, t, m in rec.rows if topic == "/sim/truth"]
    north = [float(m["vehicle_position_ned_m"][0]) for _, m in truth]
    out: dict[str, Any] = {
        "fence_north_m": fence_north_m,
        "max_north_m": round(max(north), 2),
        "statustext": sorted({m["text"] for _, m in _events(rec, "statustext") if "ence" in m["text"]}),
        "mode_after_breach": None,
    }
    if change is not None:
        t_change, mode = change
        at = next(m for t, m in truth if t >= t_change)
        # The mode's stamp is when its HEARTBEAT was read, a little after the start of the period (the stack's
        # time) that disengaged on it: look from the period before.
        disengages = _events(rec, "disengage", t_change - 0.1)
        out.update({"mode_after_breach": mode, "breach_world_t_s": round(float(at["world_t_s"]), 2),
                    "north_at_mode_change_m": round(float(at["vehicle_position_ned_m"][0]), 2),
                    "disengage_after_mode_change_s": round(disengages[0][0] - t_change, 3) if disengages else None,
                    "disengage_reason": disengages[0][1]["reason"] if disengages else None,
                    **{k: v for k, v in _fault_figures(rec, t_change - 0.1).items()
                       if k in ("motion_after_disengage", "engaged_again", "modes", "mode_requests",
                                "speed_at_fault_mps")}})
    return out


#: SITL's clock runs this many times faster while it boots (SIM_SPEEDUP; ``DP_SITL_BOOT_SPEEDUP``, 1: off).
DEFAULT_BOOT_SPEEDUP = 10.0
#: The job's own MAVLink port on the SITL (SERIAL2), for the boot speed-up only.
SIM_CONTROL_PORT = 14552


class FastBoot:
    """While ArduCopter SITL boots (EKF origin, GPS, pre-arm checks: ~42 s of its clock), its clock runs
    ``speedup`` times faster (SIM_SPEEDUP, as MAVProxy's ``sitl_autospeedup`` module does); back to 1 as soon as
    it has a position estimate and its pre-arm checks pass, before anyone arms: every flight runs in real time.
    On a port of its own (SERIAL2), in a thread, so the stack and the crew wait for the autopilot as they would
    for any other.
    :attr:`restored_s`: ``time.monotonic()`` when SIM_SPEEDUP 1 was read back (None before)."""

    def __init__(self, speedup: float) -> None:
        self.speedup = speedup
        self.restored_s: float | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sitl-fast-boot", daemon=True)
        self._thread.start()

    def _set(self, conn: Any, value: float) -> bool:
        for _ in range(20):
            conn.mav.param_set_send(1, 1, b"SIM_SPEEDUP", value, mavutil.mavlink.MAV_PARAM_TYPE_REAL32)
            msg = conn.recv_match(type="PARAM_VALUE", blocking=True, timeout=0.5)
            if msg is not None and msg.param_id == "SIM_SPEEDUP" and abs(msg.param_value - value) < 1e-3:
                return True
        return False

    def _run(self) -> None:
        conn = mavutil.mavlink_connection(f"udpin:127.0.0.1:{SIM_CONTROL_PORT}", source_system=250)
        try:
            if conn.wait_heartbeat(timeout=60) is None or not self._set(conn, self.speedup):
                self.error = "no answer on the sim-control port"
                return
            for msg_id in (1, 32):  # SYS_STATUS, LOCAL_POSITION_NED at 10 Hz (of the SITL's clock)
                conn.mav.command_long_send(1, 1, mavutil.mavlink.MAV_CMD_SET_MESSAGE_INTERVAL, 0, msg_id, 100_000,
                                           0, 0, 0, 0, 0)
            # The pre-arm bit reads healthy early in the boot, before the EKF uses GPS: wait for a position first.
            positioned = False
            while not self._stop.is_set():
                msg = conn.recv_match(type=["SYS_STATUS", "LOCAL_POSITION_NED"], blocking=True, timeout=0.5)
                if msg is None:
                    continue
                if msg.get_type() == "LOCAL_POSITION_NED":
                    positioned = True
                elif positioned and msg.onboard_control_sensors_health & mavutil.mavlink.MAV_SYS_STATUS_PREARM_CHECK:
                    break
            if not self._set(conn, 1.0):
                self.error = "SIM_SPEEDUP 1 not read back"
                return
            self.restored_s = time.monotonic()
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15.0)


#: (bridge connection, crew connection) per topology. "bare": the bridge on SERIAL0 (tcp 5760), the crew on a
#: second MAVLink port (--serial1 udpclient). "mavproxy": MAVProxy on SERIAL0 serving the crew, the bridge on
#: SERIAL1 (tcp 5762) as a companion on TELEM2 would be.
TOPOLOGIES = {
    "bare": ("tcp:127.0.0.1:5760", "udpin:127.0.0.1:14551"),
    "mavproxy": ("tcp:127.0.0.1:5762", "udpin:127.0.0.1:14551"),
}


def _parse_fault(fault: str) -> tuple[str, list[float]]:
    kind, *args = fault.split(":") if fault else ("",)
    return kind, [float(a) for a in args]


def main(ardupilot_dir: str, topology: str, scenario: str, duration_s: float, fault: str = "") -> int:
    ap = Path(ardupilot_dir)
    work = Path(tempfile.mkdtemp(prefix="sitl-"))
    cmd = [str(ap / "arducopter"), "--model", "+", "--speedup", "1", "--wipe", "--defaults", str(ap / "copter.parm"),
           "-I0", "--home", "-35.363261,149.165230,584,353"]
    if topology == "bare":
        cmd.append("--serial1=udpclient:127.0.0.1:14551")
    boot_speedup = float(os.environ.get("DP_SITL_BOOT_SPEEDUP", DEFAULT_BOOT_SPEEDUP))
    if boot_speedup != 1.0:
        cmd.append(f"--serial2=udpclient:127.0.0.1:{SIM_CONTROL_PORT}")
    procs = [subprocess.Popen(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    relay: LinkRelay | None = None
    fast_boot = FastBoot(boot_speedup) if boot_speedup != 1.0 else None
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
        kind, args = _parse_fault(fault)
        at = args[0] if args else float("nan")
        if kind == "linkdrop":  # the bridge reaches the autopilot's TCP port through a relay that can cut it
            host, port = connect.split(":")[1:]
            relay = LinkRelay((host, int(port)))
            connect = f"tcp:127.0.0.1:{relay.port}"
        cut_s = args[1] if len(args) > 1 else DEFAULT_LINK_CUT_S
        faults = SitlFaults(stall_at_s=at if kind == "stall" else None,
                            companion_dead_at_s=at if kind == "dead" else None,
                            link_cut_s=(at, at + cut_s) if relay is not None else None,
                            cut_link=relay.set_cut if relay is not None else None,
                            clock_jump=(at, args[1] if len(args) > 1 else DEFAULT_CLOCK_JUMP_S)
                            if kind == "clockjump" else None)
        script = OperatorScript(
            deadman_lost_s=(at, at + 4.0) if kind == "deadman" else None,
            pilot_mode_at_s=(at, "LOITER") if kind == "mode" else None)
        rec = ListRecorder()
        config = StackConfig.model_validate(json.loads(os.environ.get("DP_CONFIG", "{}")))
        autopilot_fence = None
        if kind == "fence":  # the autopilot's fence ends `at` m north of the start: tighter than the stack's
            south, west = (min(v[i] for v in config.fence.polygon_ne_m) for i in (0, 1))
            east = max(v[1] for v in config.fence.polygon_ne_m)
            autopilot_fence = config.fence.model_copy(update={
                "polygon_ne_m": ((south, west), (south, east), (at, east), (at, west))})
        params: dict[str, float] = {}

        def read_params(station: ScriptedGroundStation) -> None:
            if kind == "fence":  # ArduCopter's own fence avoidance (AVOID_ENABLE) would stop it short of the fence
                params["AVOID_ENABLE_before"] = station.get_param("AVOID_ENABLE", timeout_s=5.0)
                station.set_param("AVOID_ENABLE", args[1] if len(args) > 1 else 0.0, timeout_s=5.0)
            for name in ("FENCE_ACTION", "FENCE_ENABLE", "FENCE_TYPE", "FENCE_MARGIN", "AVOID_ENABLE",
                         "GUID_TIMEOUT", "RTL_ALT"):
                params[name] = station.get_param(name, timeout_s=5.0)

        speedup = float(os.environ.get("DP_SITL_SPEEDUP", "1"))
        result = run_sitl_scenario(scenario, config, connect=connect, gcs_connect=gcs, duration_s=duration_s,
                                   recorder=rec, faults=faults, operator_script=script, speedup=speedup,
                                   autopilot_fence=autopilot_fence, on_launched=read_params,
                                   progress=lambda text: progress.append(f"{time.monotonic() - t0:.0f} s {text}"))
        summary = result.summary()
        dump = os.environ.get("DP_DUMP")
        if dump:  # the record's truth, autopilot events and sent messages, one JSON line each, for a post-mortem
            with open(dump, "w") as fh:
                for topic, t, m in rec.rows:
                    if topic in ("/sim/truth", "/autopilot/events", "/mavlink/out"):
                        fh.write(json.dumps([topic, t, m], default=str) + "\n")
        summary["autopilot_params"] = params
        summary["sitl_clock"] = next((m for topic, _, m in rec.rows if topic == "/sim/sitl_clock"), None)
        stamps = [t for topic, t, _ in rec.rows if topic == "/sim/truth"]
        if summary["sitl_clock"] is not None and len(stamps) > 1:  # control periods per second of the SITL's clock
            summary["sitl_clock"]["loop_hz"] = round((len(stamps) - 1) / (stamps[-1] - stamps[0]), 2)
        if kind in ("stall", "dead", "deadman", "mode"):
            summary["fault"] = {"kind": kind, "at_s": at, **_fault_figures(rec, _fault_stamp(rec, at))}
        elif kind == "linkdrop" and relay is not None:
            summary["fault"] = {"kind": kind, "at_s": at, **_fault_figures(rec, _link_cuts(rec)[0]),
                                **_link_drop_figures(rec, relay)}
        elif kind == "fence":
            summary["fault"] = {"kind": kind, **_fence_figures(rec, at)}
        elif kind == "clockjump":  # figures from the first stamp on the jumped clock
            jump_t, jump = next((t, m) for topic, t, m in rec.rows if topic == "/sim/clock_jump")
            summary["fault"] = {"kind": kind, "at_s": at, "jump_s": jump["jump_s"], **_fault_figures(rec, jump_t)}
        engaged = [t for t, m in _events(rec, "engage") if m.get("ok")]
        summary["engaged_after_launch_s"] = round(engaged[0] - t0, 1) if engaged else None
        armed = [t for t, m in _events(rec, "armed") if m.get("armed")]
        summary["armed_after_launch_s"] = round(armed[0] - t0, 1) if armed else None
        summary["wall_s"] = round(time.monotonic() - t0, 1)
        if fast_boot is not None:
            summary["boot_speedup"] = {"speedup": boot_speedup, "error": fast_boot.error, "real_time_after_launch_s":
                                       round(fast_boot.restored_s - t0, 1) if fast_boot.restored_s else None}
        summary["progress"] = progress
        print(json.dumps(summary))
        return 0
    finally:
        if fast_boot is not None:
            fast_boot.close()
        if relay is not None:
            relay.close()
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), *sys.argv[5:6]))
