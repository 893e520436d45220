"""ArduCopter-style parameters of the simulated vehicle (names, units and defaults as in ArduCopter 4.5).

Values are floats on the wire (ArduPilot sends integer parameters as float values with an integer
``param_type``). Units are ArduPilot's: note ``RTL_ALT`` and the ``*_SPEED*`` ones are centimetres (per second).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_perception.errors import InvalidValueError

_I8 = mavlink2.MAV_PARAM_TYPE_INT8
_I16 = mavlink2.MAV_PARAM_TYPE_INT16
_I32 = mavlink2.MAV_PARAM_TYPE_INT32
_F32 = mavlink2.MAV_PARAM_TYPE_REAL32

#: name -> (default, MAV_PARAM_TYPE, unit / meaning)
DEFAULT_PARAMS: dict[str, tuple[float, int, str]] = {
    "SYSID_THISMAV": (1, _I16, "this vehicle's MAVLink system id"),
    "SYSID_MYGCS": (255, _I16, "system id whose RC overrides are accepted"),
    "GUID_TIMEOUT": (3.0, _F32, "s: GUIDED velocity target kept this long after the last setpoint"),
    "FENCE_ENABLE": (0, _I8, "0 off, 1 on"),
    "FENCE_TYPE": (7, _I8, "bitmask: 1 max altitude, 2 circle around home, 4 polygons, 8 min altitude"),
    "FENCE_ACTION": (1, _I8, "0 report only, 1 RTL, 2 LAND, 4 BRAKE"),
    "FENCE_ALT_MAX": (100.0, _F32, "m above home"),
    "FENCE_ALT_MIN": (-10.0, _F32, "m above home; applies once the vehicle has climbed above it"),
    "FENCE_RADIUS": (300.0, _F32, "m from home (circle fence)"),
    "FENCE_MARGIN": (2.0, _F32, "m: RTL altitude stays this far under FENCE_ALT_MAX"),
    "FENCE_TOTAL": (0, _I8, "number of fence items stored (read only in practice)"),
    "RTL_ALT": (1500.0, _F32, "cm above home for the return leg"),
    "LAND_SPEED": (50.0, _F32, "cm/s final descent"),
    "LAND_SPEED_HIGH": (0.0, _F32, "cm/s descent above 10 m (0: WPNAV_SPEED_DN)"),
    "WPNAV_SPEED": (500.0, _F32, "cm/s horizontal speed of RTL"),
    "WPNAV_ACCEL": (250.0, _F32, "cm/s/s horizontal acceleration of the position controller (GUIDED braking); "
                    "read by the bridge only: this vehicle brakes with its multicopter's own limit"),
    "PSC_JERK_XY": (5.0, _F32, "m/s/s/s horizontal jerk limit (read by the bridge only, as WPNAV_ACCEL)"),
    "WPNAV_SPEED_UP": (250.0, _F32, "cm/s climb (takeoff, RTL climb)"),
    "WPNAV_SPEED_DN": (150.0, _F32, "cm/s descent"),
    "LOIT_SPEED": (1250.0, _F32, "cm/s max pilot horizontal speed in LOITER"),
    "PILOT_SPEED_UP": (250.0, _F32, "cm/s max pilot climb rate"),
    "PILOT_SPEED_DN": (0.0, _F32, "cm/s max pilot descent rate (0: PILOT_SPEED_UP)"),
    "DISARM_DELAY": (10, _I8, "s on the ground armed before auto-disarm (0: never)"),
    "RC_OVERRIDE_TIME": (3.0, _F32, "s an RC override lasts without refresh"),
    "ARMING_CHECK": (1, _I32, "0 skips pre-arm checks (mode checks still apply)"),
}


class ParamStore:
    """Name -> value with ArduPilot's 16-character upper-case names; insertion order is the index order."""

    def __init__(self, overrides: Mapping[str, float] | None = None) -> None:
        self._values: dict[str, float] = {k: float(v[0]) for k, v in DEFAULT_PARAMS.items()}
        for name, value in (overrides or {}).items():
            if name not in self._values:
                raise InvalidValueError(f"parameter {name!r} unknown; known: {', '.join(self._values)}")
            self.set(name, value)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def get(self, name: str) -> float:
        return self._values[name]

    def set(self, name: str, value: float) -> float:
        """Set and return the stored value (integer types are rounded, as the autopilot stores them)."""
        if name not in self._values:
            raise InvalidValueError(f"parameter {name!r} unknown")
        v = float(value)
        if not math.isfinite(v):
            raise InvalidValueError(f"parameter {name} value {value} is not finite")
        if self.param_type(name) != _F32:
            v = float(round(v))
        self._values[name] = v
        return v

    def index(self, name: str) -> int:
        return list(self._values).index(name)

    def name_at(self, index: int) -> str | None:
        names = list(self._values)
        return names[index] if 0 <= index < len(names) else None

    @staticmethod
    def param_type(name: str) -> int:
        return DEFAULT_PARAMS[name][1]
