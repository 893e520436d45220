"""Telemetry messages of the simulated vehicle and their rate scheduler.

Units on the wire are MAVLink's (degE7, mm, cm/s, cdeg, mV); inside they are SI. Positions come from the
autopilot's estimate (truth plus GPS glitch), as a real autopilot reports its EKF.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from sim.mavlink.autopilot import CopterAutopilot, CopterMode
from sim.mavlink.fence import GeoOrigin

M = mavlink2

#: Streams and their default rates (Hz); SET_MESSAGE_INTERVAL changes them, 0 Hz = off.
DEFAULT_RATES_HZ: dict[int, float] = {
    M.MAVLINK_MSG_ID_HEARTBEAT: 1.0,
    M.MAVLINK_MSG_ID_SYS_STATUS: 1.0,
    M.MAVLINK_MSG_ID_GPS_RAW_INT: 1.0,
    M.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: 4.0,
    M.MAVLINK_MSG_ID_LOCAL_POSITION_NED: 4.0,
    M.MAVLINK_MSG_ID_ATTITUDE: 4.0,
    M.MAVLINK_MSG_ID_VFR_HUD: 2.0,
    M.MAVLINK_MSG_ID_RC_CHANNELS: 2.0,
    M.MAVLINK_MSG_ID_HOME_POSITION: 0.2,
    M.MAVLINK_MSG_ID_BATTERY_STATUS: 0.5,
}

_GUIDED_FLAG_MODES = frozenset({CopterMode.GUIDED, CopterMode.RTL, CopterMode.AUTO})


class TelemetryBuilder:
    """Builds telemetry messages from the autopilot state (pymavlink message objects, not yet packed)."""

    def __init__(self, mav: Any, ap: CopterAutopilot, origin: GeoOrigin) -> None:
        self.mav = mav
        self.ap = ap
        self.origin = origin
        self._builders: dict[int, Callable[[], Any]] = {
            M.MAVLINK_MSG_ID_HEARTBEAT: self.heartbeat,
            M.MAVLINK_MSG_ID_SYS_STATUS: self.sys_status,
            M.MAVLINK_MSG_ID_GPS_RAW_INT: self.gps_raw_int,
            M.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: self.global_position_int,
            M.MAVLINK_MSG_ID_LOCAL_POSITION_NED: self.local_position_ned,
            M.MAVLINK_MSG_ID_ATTITUDE: self.attitude,
            M.MAVLINK_MSG_ID_VFR_HUD: self.vfr_hud,
            M.MAVLINK_MSG_ID_RC_CHANNELS: self.rc_channels,
            M.MAVLINK_MSG_ID_HOME_POSITION: self.home_position,
            M.MAVLINK_MSG_ID_BATTERY_STATUS: self.battery_status,
            M.MAVLINK_MSG_ID_AUTOPILOT_VERSION: self.autopilot_version,
        }

    def supports(self, msg_id: int) -> bool:
        return msg_id in self._builders

    def build(self, msg_id: int) -> Any:
        return self._builders[msg_id]()

    @property
    def time_boot_ms(self) -> int:
        return int(self.ap.time_s * 1000.0) & 0xFFFFFFFF

    def heartbeat(self) -> Any:
        ap = self.ap
        base = M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | M.MAV_MODE_FLAG_STABILIZE_ENABLED
        base |= M.MAV_MODE_FLAG_MANUAL_INPUT_ENABLED
        if ap.mode in _GUIDED_FLAG_MODES:
            base |= M.MAV_MODE_FLAG_GUIDED_ENABLED
        if ap.armed:
            base |= M.MAV_MODE_FLAG_SAFETY_ARMED
        status = M.MAV_STATE_ACTIVE if ap.armed else M.MAV_STATE_STANDBY
        return self.mav.heartbeat_encode(M.MAV_TYPE_QUADROTOR, M.MAV_AUTOPILOT_ARDUPILOTMEGA, base,
                                         int(ap.mode), status)

    def sys_status(self) -> Any:
        sensors = (M.MAV_SYS_STATUS_SENSOR_3D_GYRO | M.MAV_SYS_STATUS_SENSOR_3D_ACCEL
                   | M.MAV_SYS_STATUS_SENSOR_GPS | M.MAV_SYS_STATUS_SENSOR_RC_RECEIVER
                   | M.MAV_SYS_STATUS_GEOFENCE | M.MAV_SYS_STATUS_PREARM_CHECK)
        health = sensors
        if not self.ap.position_ok:
            health &= ~M.MAV_SYS_STATUS_SENSOR_GPS
        if self.ap.breached:
            health &= ~M.MAV_SYS_STATUS_GEOFENCE
        if self.ap.prearm_failure() is not None:
            health &= ~M.MAV_SYS_STATUS_PREARM_CHECK
        enabled = sensors if self.ap.params.get("FENCE_ENABLE") else sensors & ~M.MAV_SYS_STATUS_GEOFENCE
        pct = self.ap.battery_remaining_pct
        return self.mav.sys_status_encode(sensors, enabled, health, 100, int(14000 + 2800 * pct / 100.0),
                                          1000 if self.ap.armed else 50, int(pct), 0, 0, 0, 0, 0, 0)

    def _latlon_e7(self, pos_ned: np.ndarray) -> tuple[int, int]:
        lat, lon = self.origin.latlon_from_ne(float(pos_ned[0]), float(pos_ned[1]))
        return round(lat * 1e7), round(lon * 1e7)

    def gps_raw_int(self) -> Any:
        pos = self.ap.estimated_position_ned_m
        lat, lon = self._latlon_e7(pos)
        vel = np.asarray(self.ap.dyn.velocity_ned_mps, dtype=float)
        fix = M.GPS_FIX_TYPE_3D_FIX if self.ap.position_ok else M.GPS_FIX_TYPE_NO_FIX
        cog = int(math.degrees(math.atan2(vel[1], vel[0])) % 360.0 * 100.0)
        return self.mav.gps_raw_int_encode(int(self.ap.time_s * 1e6), fix, lat, lon,
                                           int((self.origin.alt_amsl_m - pos[2]) * 1000.0), 80, 120,
                                           int(math.hypot(vel[0], vel[1]) * 100.0), cog, 14)

    def global_position_int(self) -> Any:
        pos = self.ap.estimated_position_ned_m
        vel = np.asarray(self.ap.dyn.velocity_ned_mps, dtype=float)
        lat, lon = self._latlon_e7(pos)
        hdg = int(math.degrees(self.ap.dyn.yaw_rad) % 360.0 * 100.0)
        return self.mav.global_position_int_encode(
            self.time_boot_ms, lat, lon, round(float(self.origin.alt_amsl_m - pos[2]) * 1000.0),
            round(float(self.ap.home_ned_m[2] - pos[2]) * 1000.0),
            round(float(vel[0]) * 100.0), round(float(vel[1]) * 100.0), round(float(vel[2]) * 100.0), hdg)

    def local_position_ned(self) -> Any:
        pos = self.ap.estimated_position_ned_m
        vel = np.asarray(self.ap.dyn.velocity_ned_mps, dtype=float)
        return self.mav.local_position_ned_encode(self.time_boot_ms, *(float(x) for x in pos),
                                                  *(float(x) for x in vel))

    def attitude(self) -> Any:
        r, p, y = (float(a) for a in self.ap.dyn.attitude_rpy_rad)
        y = math.atan2(math.sin(y), math.cos(y))
        return self.mav.attitude_encode(self.time_boot_ms, r, p, y, 0.0, 0.0, 0.0)

    def vfr_hud(self) -> Any:
        vel = np.asarray(self.ap.dyn.velocity_ned_mps, dtype=float)
        gs = float(math.hypot(vel[0], vel[1]))
        hdg = int(math.degrees(self.ap.dyn.yaw_rad) % 360.0)
        alt = float(self.origin.alt_amsl_m - self.ap.estimated_position_ned_m[2])
        return self.mav.vfr_hud_encode(gs, gs, hdg, 50 if self.ap.armed else 0, alt, float(-vel[2]))

    def rc_channels(self) -> Any:
        return self.mav.rc_channels_encode(self.time_boot_ms, 16, *self.ap.rc.values_us(), 255)

    def home_position(self) -> Any:
        home = self.ap.home_ned_m
        lat, lon = self._latlon_e7(home)
        return self.mav.home_position_encode(lat, lon, round(float(self.origin.alt_amsl_m - home[2]) * 1000.0),
                                             float(home[0]), float(home[1]), float(home[2]),
                                             [1.0, 0.0, 0.0, 0.0], 0.0, 0.0, 0.0, int(self.ap.time_s * 1e6))

    def battery_status(self) -> Any:
        pct = self.ap.battery_remaining_pct
        cells = [int(3500 + 700 * pct / 100.0)] * 4 + [65535] * 6
        return self.mav.battery_status_encode(0, M.MAV_BATTERY_FUNCTION_ALL, M.MAV_BATTERY_TYPE_LIPO, 32767,
                                              cells, 1000 if self.ap.armed else 50, -1, -1, int(pct))

    def autopilot_version(self) -> Any:
        caps = (M.MAV_PROTOCOL_CAPABILITY_MAVLINK2 | M.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE
                | M.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_LOCAL_NED | M.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT
                | M.MAV_PROTOCOL_CAPABILITY_COMMAND_INT | M.MAV_PROTOCOL_CAPABILITY_MISSION_INT)
        return self.mav.autopilot_version_encode(caps, 0x04050000, 0, 0, 0, [0] * 8, [0] * 8, [0] * 8, 0, 0, 0)


class RateScheduler:
    """Per-message intervals on simulated time: a message is due every ``1/rate`` seconds."""

    def __init__(self, rates_hz: dict[int, float]) -> None:
        self._interval_s: dict[int, float] = {}
        self._next_s: dict[int, float] = {}
        for msg_id, hz in rates_hz.items():
            self.set_rate(msg_id, hz, now_s=0.0)

    def set_rate(self, msg_id: int, rate_hz: float, *, now_s: float) -> None:
        """``rate_hz`` <= 0 stops the stream."""
        if rate_hz <= 0.0 or not math.isfinite(rate_hz):
            self._interval_s.pop(msg_id, None)
            self._next_s.pop(msg_id, None)
            return
        self._interval_s[msg_id] = 1.0 / rate_hz
        self._next_s[msg_id] = now_s

    def rate_hz(self, msg_id: int) -> float:
        iv = self._interval_s.get(msg_id)
        return 1.0 / iv if iv else 0.0

    def due(self, now_s: float) -> list[int]:
        """Messages due at ``now_s``; each is rescheduled one interval later (no burst after a stall)."""
        out = []
        for msg_id, t in self._next_s.items():
            if now_s + 1e-9 >= t:
                out.append(msg_id)
                iv = self._interval_s[msg_id]
                nxt = t + iv
                self._next_s[msg_id] = nxt if nxt > now_s else now_s + iv
        return out
