"""Loopback MAVLink peers for the firmware_bridge tests: a minimal autopilot and a ground station.

The autopilot peer runs in a thread (bounded by a stop event) and answers the parameter and fence
mission protocols, streams heartbeat/telemetry while ``streaming`` is set, and records every message the
bridge sent it. Everything is on 127.0.0.1 with ports picked by the OS.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

os.environ["MAVLINK20"] = "1"
from pymavlink import mavutil

from drone_perception.config.link import LinkConfig
from firmware_bridge.bridge import MavlinkBridge

if not mavutil.mavlink.__name__.startswith("pymavlink.dialects.v20"):
    mavutil.set_dialect("ardupilotmega")
mav2 = mavutil.mavlink

ARDU_GUIDED, ARDU_LOITER, ARDU_BRAKE = 4, 5, 17
ARMED_FLAGS = mav2.MAV_MODE_FLAG_SAFETY_ARMED | mav2.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED


class ListRecorder:
    """A Recorder that keeps everything in memory."""

    def __init__(self) -> None:
        self.items: list[tuple[str, float, Any]] = []
        self._lock = threading.Lock()

    def record(self, topic: str, stamp_s: float, message: Any) -> None:
        with self._lock:
            self.items.append((topic, stamp_s, message))

    def close(self) -> None:
        return None

    def topic(self, name: str) -> list[Any]:
        with self._lock:
            return [m for t, _, m in self.items if t == name]


class FakeAutopilot:
    """An ArduCopter-like (or PX4-like) autopilot peer on loopback UDP."""

    def __init__(self, bridge_port: int, *, sysid: int = 1, compid: int = 1, px4: bool = False,
                 heartbeat_hz: float = 5.0, telemetry_hz: float = 20.0, signing_key: bytes | None = None,
                 rc_channels_us: list[int] | None = None) -> None:
        self.conn = mavutil.mavlink_connection(f"udpout:127.0.0.1:{bridge_port}", source_system=sysid,
                                               source_component=compid)
        if signing_key is not None:
            self.conn.setup_signing(signing_key, sign_outgoing=True)
        self.px4 = px4
        self.armed = True
        self.custom_mode = (6 << 16) if px4 else ARDU_GUIDED
        self.heartbeat_hz = heartbeat_hz
        self.telemetry_hz = telemetry_hz
        self.streaming = threading.Event()
        self.streaming.set()
        self.rc_channels_us = rc_channels_us  # sent as RC_CHANNELS with the telemetry when set
        self.position_ned_m = (1.0, 2.0, -10.0)
        self.velocity_ned_mps = (0.5, -0.25, 0.0)
        self.params: dict[str, float] = {"GUID_TIMEOUT": 3.0, "COM_OF_LOSS_T": 1.0, "FENCE_ENABLE": 0.0,
                                         "FENCE_TYPE": 7.0, "FENCE_ALT_MAX": 100.0, "FENCE_ALT_MIN": -10.0,
                                         "GF_MAX_VER_DIST": 120.0, "WPNAV_ACCEL": 250.0, "PSC_JERK_XY": 5.0}
        self.param_override: dict[str, float] = {}  # value reported regardless of what was written
        self.answer_params = True
        self.answer_mission = True
        self.corrupt_fence_readback = False
        self.fence: list[Any] = []
        self._upload: list[Any] | None = None
        self.received: list[tuple[float, Any]] = []
        self.heartbeats_sent: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._boot = time.monotonic()

    # -------------------------------------------------------------- control from the test
    def start(self) -> FakeAutopilot:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.conn.close()

    def send(self, msg: Any) -> None:
        with self._lock:
            self.conn.mav.send(msg)

    def of_type(self, kind: str) -> list[Any]:
        with self._lock:
            return [m for _, m in self.received if m.get_type() == kind]

    def wait_for(self, pred: Callable[[Any], bool], timeout_s: float = 2.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                for _, m in self.received:
                    if pred(m):
                        return m
            time.sleep(0.005)
        raise AssertionError("peer did not receive the expected message")

    # -------------------------------------------------------------- loop
    def _ms(self) -> int:
        return int((time.monotonic() - self._boot) * 1000)

    def _heartbeat(self) -> None:
        base = mav2.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | (mav2.MAV_MODE_FLAG_SAFETY_ARMED if self.armed else 0)
        ap = mav2.MAV_AUTOPILOT_PX4 if self.px4 else mav2.MAV_AUTOPILOT_ARDUPILOTMEGA
        self.conn.mav.heartbeat_send(mav2.MAV_TYPE_QUADROTOR, ap, base, self.custom_mode, 4)
        self.heartbeats_sent.append(time.monotonic())

    def _telemetry(self) -> None:
        (x, y, z), (vx, vy, vz) = self.position_ned_m, self.velocity_ned_mps
        self.conn.mav.local_position_ned_send(self._ms(), x, y, z, vx, vy, vz)
        self.conn.mav.attitude_send(self._ms(), 0.01, -0.02, 1.5, 0.0, 0.0, 0.0)
        if self.rc_channels_us is not None:
            ch = (list(self.rc_channels_us) + [65535] * 18)[:18]
            self.conn.mav.rc_channels_send(self._ms(), 8, *ch, 255)

    def _run(self) -> None:
        next_hb = next_tel = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                if self.streaming.is_set():
                    if now >= next_hb:
                        self._heartbeat()
                        next_hb = now + 1.0 / self.heartbeat_hz
                    if now >= next_tel and self.telemetry_hz > 0:
                        self._telemetry()
                        next_tel = now + 1.0 / self.telemetry_hz
                while True:
                    m = self.conn.recv_msg()
                    if m is None:
                        break
                    if m.get_type() == "BAD_DATA":
                        continue
                    self.received.append((time.monotonic(), m))
                    self._answer(m)
            self.conn.select(0.002)

    def _answer(self, m: Any) -> None:
        kind = m.get_type()
        mav = self.conn.mav
        if kind == "PARAM_SET" and self.answer_params:
            name = m.param_id if isinstance(m.param_id, str) else m.param_id.decode()
            self.params[name] = float(m.param_value)
            self._param_value(name)
        elif kind == "PARAM_REQUEST_READ" and self.answer_params:
            name = m.param_id if isinstance(m.param_id, str) else m.param_id.decode()
            if name in self.params:
                self._param_value(name)
        elif kind == "COMMAND_LONG" and m.command == mav2.MAV_CMD_DO_SET_MODE:
            self.custom_mode = int(m.param2) if not self.px4 else (int(m.param2) << 16) | (int(m.param3) << 24)
            mav.command_ack_send(m.command, mav2.MAV_RESULT_ACCEPTED)
        elif kind == "COMMAND_LONG" and m.command == mav2.MAV_CMD_REQUEST_MESSAGE and int(m.param1) == 242:
            mav.home_position_send(473977420, 85455940, 488000, 0.0, 0.0, 0.0, [1, 0, 0, 0], 0, 0, 0)
        elif not self.answer_mission:
            return
        elif kind == "MISSION_COUNT":
            self._upload = [None] * m.count
            if m.count:
                mav.mission_request_int_send(m.get_srcSystem(), m.get_srcComponent(), 0, m.mission_type)
            else:
                self.fence = []
                mav.mission_ack_send(m.get_srcSystem(), m.get_srcComponent(), 0, m.mission_type)
        elif kind == "MISSION_ITEM_INT" and self._upload is not None:
            self._upload[m.seq] = m
            nxt = m.seq + 1
            if nxt < len(self._upload):
                mav.mission_request_int_send(m.get_srcSystem(), m.get_srcComponent(), nxt, m.mission_type)
            else:
                self.fence, self._upload = list(self._upload), None
                mav.mission_ack_send(m.get_srcSystem(), m.get_srcComponent(), 0, m.mission_type)
        elif kind == "MISSION_REQUEST_LIST":
            mav.mission_count_send(m.get_srcSystem(), m.get_srcComponent(), len(self.fence), m.mission_type)
        elif kind == "MISSION_REQUEST_INT" and m.seq < len(self.fence):
            it = self.fence[m.seq]
            x = it.x + (1000 if self.corrupt_fence_readback and m.seq == 1 else 0)
            mav.mission_item_int_send(m.get_srcSystem(), m.get_srcComponent(), m.seq, it.frame, it.command, 0, 1,
                                      it.param1, 0, 0, 0, x, it.y, 0, m.mission_type)

    def _param_value(self, name: str) -> None:
        value = self.param_override.get(name, self.params[name])
        names = sorted(self.params)
        self.conn.mav.param_value_send(name.encode(), value, mav2.MAV_PARAM_TYPE_REAL32, len(names),
                                       names.index(name))


class FakeGcs:
    """A ground station: heartbeats (dead-man) and commands to the companion, on its own socket."""

    def __init__(self, bridge_port: int, *, signing_key: bytes | None = None) -> None:
        self.conn = mavutil.mavlink_connection(f"udpout:127.0.0.1:{bridge_port}", source_system=255,
                                               source_component=190)
        if signing_key is not None:
            self.conn.setup_signing(signing_key, sign_outgoing=True)

    def heartbeat(self) -> None:
        self.conn.mav.heartbeat_send(mav2.MAV_TYPE_GCS, mav2.MAV_AUTOPILOT_INVALID, 0, 0, 4)

    def command(self, command: int, *params: float, target_component: int = 100) -> None:
        p = list(params) + [0.0] * (7 - len(params))
        self.conn.mav.command_long_send(1, target_component, command, 0, *p)

    def recv(self, kinds: set[str], timeout_s: float = 1.0) -> list[Any]:
        out, deadline = [], time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            m = self.conn.recv_match(blocking=True, timeout=0.02)
            if m is not None and m.get_type() in kinds:
                out.append(m)
        return out

    def recv_one(self, kind: str, timeout_s: float = 1.0, pred: Callable[[Any], bool] | None = None) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            m = self.conn.recv_match(type=kind, blocking=True, timeout=0.05)
            if m is not None and (pred is None or pred(m)):
                return m
        raise AssertionError(f"GCS did not receive {kind}")

    def close(self) -> None:
        self.conn.close()


def pump(bridge: MavlinkBridge, duration_s: float, gcs: FakeGcs | None = None, step_s: float = 0.01) -> None:
    """Run the owner's loop (poll; GCS heartbeats) for ``duration_s``."""
    end = time.monotonic() + duration_s
    next_gcs = 0.0
    while time.monotonic() < end:
        now = time.monotonic()
        if gcs is not None and now >= next_gcs:
            gcs.heartbeat()
            next_gcs = now + 0.2
        bridge.poll(now, timeout_s=step_s)


def link_config(**overrides: Any) -> LinkConfig:
    return LinkConfig(connection="udpin:127.0.0.1:0", **overrides)


def safe_command(now_s: float, velocity_ned_mps: tuple[float, float, float] = (1.0, 0.0, 0.0),
                 yaw_rate_radps: float = 0.0, ttl_s: float = 0.2, mode_request: Any = None) -> Any:
    """A governor-style SafeCommand stamped ``now_s``."""
    import numpy as np

    from drone_perception.types import SafeCommand, VelocityCommand, Verdict

    cmd = VelocityCommand(np.array(velocity_ned_mps, float), yaw_rate_radps, now_s)
    verdict = Verdict.HOLD if not any(velocity_ned_mps) and yaw_rate_radps == 0 else Verdict.PASS
    return SafeCommand(cmd, verdict, frozenset(), now_s + ttl_s, mode_request)


def setpoints(ap: FakeAutopilot) -> list[tuple[float, float, float, float]]:
    """(vx, vy, vz, yaw_rate) of every SET_POSITION_TARGET_LOCAL_NED the autopilot received."""
    return [(m.vx, m.vy, m.vz, m.yaw_rate) for m in ap.of_type("SET_POSITION_TARGET_LOCAL_NED")]


def engaged_rig(rig: Any, gcs_factory: Any, **kwargs: Any) -> tuple[MavlinkBridge, FakeAutopilot, FakeGcs]:
    """A connected bridge whose operator (GCS heartbeat dead-man) engaged follow."""
    bridge, ap = rig(**kwargs)
    gcs = gcs_factory(bridge)
    pump(bridge, 0.15, gcs)
    ok, reason = bridge.engage(time.monotonic())
    assert ok, reason
    return bridge, ap, gcs
