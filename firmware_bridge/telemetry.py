"""Telemetry decoding: autopilot messages -> :class:`VehicleState` plus the extras the stack reports.

Pure (no I/O): feed each message from the autopilot with its receive stamp to :meth:`TelemetryDecoder.update`.

Frames and units: LOCAL_POSITION_NED gives position (m) and velocity (m/s) in the autopilot's local NED
frame, whose origin is the EKF origin (normally home on the ground); it is used directly as
``position_ned_m``. ATTITUDE gives roll/pitch/yaw in rad (yaw 0 = north, positive east). Armed comes from
HEARTBEAT ``base_mode`` (MAV_MODE_FLAG_SAFETY_ARMED), the mode name from ``custom_mode`` via the dialect.
HOME_POSITION gives home in the local frame (m) and as WGS84 (deg, m AMSL). Battery from SYS_STATUS /
BATTERY_STATUS; gimbal angles from GIMBAL_DEVICE_ATTITUDE_STATUS (quaternion -> roll/pitch/yaw, rad;
pitch negative = looking down).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from drone_perception.types import VehicleState
from firmware_bridge.dialects import Dialect

MAV_MODE_FLAG_SAFETY_ARMED = 128
GIMBAL_DEVICE_FLAGS_YAW_IN_EARTH_FRAME = 2048


@dataclass(frozen=True)
class HomePosition:
    """Home in the local NED frame (m) and in WGS84 (deg, m above mean sea level)."""

    position_ned_m: tuple[float, float, float]
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    stamp_s: float


@dataclass(frozen=True)
class Battery:
    """``remaining_frac`` in [0, 1] or NaN when unknown; ``voltage_v`` NaN when unknown."""

    voltage_v: float
    remaining_frac: float
    stamp_s: float


@dataclass(frozen=True)
class GimbalAttitude:
    """Gimbal orientation, rad. ``yaw_in_earth_frame``: yaw is from north (else relative to the nose)."""

    roll_rad: float
    pitch_rad: float
    yaw_rad: float
    yaw_in_earth_frame: bool
    stamp_s: float


def quaternion_to_rpy(q_wxyz: Any) -> tuple[float, float, float]:
    """Roll, pitch, yaw (rad, ZYX aerospace sequence) from a unit quaternion (w, x, y, z)."""
    w, x, y, z = (float(v) for v in q_wxyz)
    n = math.sqrt(w * w + x * x + y * y + z * z)
    if not math.isfinite(n) or n < 1e-9:
        return (math.nan, math.nan, math.nan)
    w, x, y, z = w / n, x / n, y / n, z / n
    roll = math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x))))
    yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return (roll, pitch, yaw)


class TelemetryDecoder:
    """Accumulates the latest autopilot telemetry. Unknown or malformed messages are ignored."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self.position_ned_m = np.full(3, np.nan)
        self.velocity_ned_mps = np.full(3, np.nan)
        self.attitude_rpy_rad = np.full(3, np.nan)
        self.position_stamp_s = math.nan
        self.armed = False
        self.mode = "UNKNOWN"
        self.heartbeat_stamp_s = math.nan
        #: The autopilot's latest STATUSTEXT ("EKF3 IMU0 is using GPS", "PreArm: ..."), shown while waiting.
        self.last_text = ""
        self.home: HomePosition | None = None
        self.battery: Battery | None = None
        self.gimbal: GimbalAttitude | None = None
        self.ignored_count = 0

    def update(self, msg: Any, stamp_s: float) -> list[dict[str, Any]]:
        """Fold one autopilot message in; returns events for ``/autopilot/events`` (mode/armed changes,
        status texts). A message with non-finite or wrong-typed fields is ignored (counted)."""
        handler = getattr(self, "_on_" + msg.get_type().lower(), None)
        if handler is None:
            return []
        try:
            events: list[dict[str, Any]] = handler(msg, stamp_s)
        except (TypeError, ValueError, AttributeError, IndexError):
            self.ignored_count += 1
            return []
        return events

    def _on_heartbeat(self, msg: Any, stamp_s: float) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        armed = bool(int(msg.base_mode) & MAV_MODE_FLAG_SAFETY_ARMED)
        mode = self._dialect.mode_name(int(msg.base_mode), int(msg.custom_mode))
        if armed != self.armed:
            events.append({"kind": "armed", "armed": armed, "stamp_s": stamp_s})
        if mode != self.mode:
            events.append({"kind": "mode", "mode": mode, "previous": self.mode, "stamp_s": stamp_s})
        self.armed, self.mode, self.heartbeat_stamp_s = armed, mode, stamp_s
        return events

    def _on_local_position_ned(self, msg: Any, stamp_s: float) -> list[dict[str, Any]]:
        pos = np.array([msg.x, msg.y, msg.z], dtype=float)
        vel = np.array([msg.vx, msg.vy, msg.vz], dtype=float)
        if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(vel))):
            raise ValueError("non-finite LOCAL_POSITION_NED")
        self.position_ned_m, self.velocity_ned_mps, self.position_stamp_s = pos, vel, stamp_s
        return []

    def _on_attitude(self, msg: Any, stamp_s: float) -> list[dict[str, Any]]:
        rpy = np.array([msg.roll, msg.pitch, msg.yaw], dtype=float)
        if not np.all(np.isfinite(rpy)):
            raise ValueError("non-finite ATTITUDE")
        self.attitude_rpy_rad = rpy
        return []

    def _on_home_position(self, msg: Any, stamp_s: float) -> list[dict[str, Any]]:
        local = (float(msg.x), float(msg.y), float(msg.z))
        if not (all(math.isfinite(v) for v in local) and abs(msg.latitude) <= 900_000_000
                and abs(msg.longitude) <= 1_800_000_000):
            raise ValueError("implausible HOME_POSITION")  # a garbled report must not replace a good home
        self.home = HomePosition(position_ned_m=(float(msg.x), float(msg.y), float(msg.z)),
                                 lat_deg=msg.latitude * 1e-7, lon_deg=msg.longitude * 1e-7,
                                 alt_amsl_m=msg.altitude * 1e-3, stamp_s=stamp_s)
        return []

    def _on_sys_status(self, msg: Any, stamp_s: float) -> list[dict[str, Any]]:
        voltage = msg.voltage_battery * 1e-3 if msg.voltage_battery not in (0xFFFF, 0) else math.nan
        remaining = msg.battery_remaining / 100.0 if msg.battery_remaining >= 0 else math.nan
        self.battery = Battery(voltage_v=voltage, remaining_frac=remaining, stamp_s=stamp_s)
        return []

    def _on_battery_status(self, msg: Any, stamp_s: float) -> list[dict[str, Any]]:
        cells = [v for v in msg.voltages if v != 0xFFFF]
        voltage = sum(cells) * 1e-3 if cells else math.nan
        remaining = msg.battery_remaining / 100.0 if msg.battery_remaining >= 0 else math.nan
        self.battery = Battery(voltage_v=voltage, remaining_frac=remaining, stamp_s=stamp_s)
        return []

    def _on_gimbal_device_attitude_status(self, msg: Any, stamp_s: float) -> list[dict[str, Any]]:
        roll, pitch, yaw = quaternion_to_rpy(msg.q)
        if not all(math.isfinite(v) for v in (roll, pitch, yaw)):
            raise ValueError("invalid gimbal quaternion")
        self.gimbal = GimbalAttitude(roll, pitch, yaw,
                                     bool(int(msg.flags) & GIMBAL_DEVICE_FLAGS_YAW_IN_EARTH_FRAME), stamp_s)
        return []

    def _on_statustext(self, msg: Any, stamp_s: float) -> list[dict[str, Any]]:
        text = msg.text.decode("utf-8", "replace") if isinstance(msg.text, bytes) else str(msg.text)
        self.last_text = text.rstrip("\x00")
        return [{"kind": "statustext", "severity": int(msg.severity), "text": text.rstrip("\x00"),
                 "stamp_s": stamp_s}]

    def vehicle_state(self, link_ok: bool) -> VehicleState:
        """The latest state. ``stamp_s`` is the receive stamp of the last LOCAL_POSITION_NED (NaN before
        the first, so the governor sees it as non-finite and holds)."""
        return VehicleState(position_ned_m=self.position_ned_m, velocity_ned_mps=self.velocity_ned_mps,
                            attitude_rpy_rad=self.attitude_rpy_rad, armed=self.armed, mode=self.mode,
                            link_ok=link_ok, stamp_s=self.position_stamp_s)


__all__ = ["Battery", "GimbalAttitude", "HomePosition", "TelemetryDecoder", "quaternion_to_rpy"]
