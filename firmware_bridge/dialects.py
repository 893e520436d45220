"""Autopilot dialects: how mode numbers map to canonical names and how safer modes are *requested*.

ArduPilot Copter: the companion flies in GUIDED with SET_POSITION_TARGET_LOCAL_NED velocity + yaw-rate
setpoints; safer modes BRAKE / LOITER / RTL / LAND are requested with MAV_CMD_DO_SET_MODE
(param1 = MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, param2 = copter mode number).

PX4: the companion flies in OFFBOARD. PX4 only accepts a switch into OFFBOARD while setpoints are already
streaming (> 2 Hz), so the owner keeps sending the governor's *hold* commands before the operator switches;
the bridge never switches into OFFBOARD itself. HOLD (= AUTO_LOITER) / RTL / LAND are requested with
DO_SET_MODE (param1 = custom-mode flag, param2 = main mode, param3 = sub mode).

Canonical mode names are upper case; PX4's AUTO_LOITER is reported as ``LOITER`` (shown as "Hold" in QGC).
"""

from __future__ import annotations

from dataclasses import dataclass

from pymavlink.dialects.v20 import ardupilotmega as mav2

from drone_perception.errors import ConfigError
from drone_perception.types import ModeRequest

_CUSTOM = mav2.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED

#: ArduCopter custom_mode numbers (ArduCopter/mode.h).
ARDUCOPTER_MODES: dict[int, str] = {
    0: "STABILIZE", 1: "ACRO", 2: "ALT_HOLD", 3: "AUTO", 4: "GUIDED", 5: "LOITER", 6: "RTL", 7: "CIRCLE",
    9: "LAND", 11: "DRIFT", 13: "SPORT", 14: "FLIP", 15: "AUTOTUNE", 16: "POSHOLD", 17: "BRAKE",
    18: "THROW", 19: "AVOID_ADSB", 20: "GUIDED_NOGPS", 21: "SMART_RTL", 22: "FLOWHOLD", 23: "FOLLOW",
    24: "ZIGZAG", 25: "SYSTEMID", 26: "AUTOROTATE", 27: "AUTO_RTL", 28: "TURTLE",
}

#: PX4 main modes (px4_custom_mode.h) and AUTO sub modes.
PX4_MAIN_MODES: dict[int, str] = {1: "MANUAL", 2: "ALTCTL", 3: "POSCTL", 5: "ACRO", 6: "OFFBOARD",
                                  7: "STABILIZED", 8: "RATTITUDE"}
PX4_MAIN_AUTO = 4
PX4_AUTO_SUB_MODES: dict[int, str] = {1: "READY", 2: "TAKEOFF", 3: "LOITER", 4: "MISSION", 5: "RTL",
                                      6: "LAND", 8: "FOLLOWME", 9: "PRECLAND"}


@dataclass(frozen=True)
class Dialect:
    """What differs between autopilots, as data.

    ``companion_mode``: the mode in which the operator hands velocity control to the companion.
    ``command_timeout_param``: the autopilot's loss-of-setpoint timeout parameter (seconds).
    ``mode_requests``: ModeRequest -> DO_SET_MODE (param1, param2, param3).
    """

    name: str
    companion_mode: str
    command_timeout_param: str
    mode_requests: dict[ModeRequest, tuple[int, int, int]]

    def mode_name(self, base_mode: int, custom_mode: int) -> str:
        """Canonical mode name from a HEARTBEAT's ``base_mode`` / ``custom_mode``."""
        if not base_mode & _CUSTOM:
            return "UNKNOWN"
        if self.name == "ardupilot":
            return ARDUCOPTER_MODES.get(int(custom_mode), f"MODE_{int(custom_mode)}")
        main = (int(custom_mode) >> 16) & 0xFF
        sub = (int(custom_mode) >> 24) & 0xFF
        if main == PX4_MAIN_AUTO:
            return PX4_AUTO_SUB_MODES.get(sub, f"AUTO_{sub}")
        return PX4_MAIN_MODES.get(main, f"MODE_{main}")

    def request_name(self, request: ModeRequest) -> str:
        """Canonical name of the mode a request lands in (PX4 BRAKE -> LOITER, i.e. Hold)."""
        _, p2, p3 = self.mode_requests[request]
        custom = p2 if self.name == "ardupilot" else (p2 << 16) | (p3 << 24)
        return self.mode_name(_CUSTOM, custom)

    @property
    def safe_mode_params(self) -> frozenset[tuple[int, int, int]]:
        return frozenset(self.mode_requests.values())


ARDUPILOT = Dialect(
    name="ardupilot",
    companion_mode="GUIDED",
    command_timeout_param="GUID_TIMEOUT",
    mode_requests={
        ModeRequest.BRAKE: (_CUSTOM, 17, 0),
        ModeRequest.LOITER: (_CUSTOM, 5, 0),
        ModeRequest.RTL: (_CUSTOM, 6, 0),
        ModeRequest.LAND: (_CUSTOM, 9, 0),
    },
)

PX4 = Dialect(
    name="px4",
    companion_mode="OFFBOARD",
    command_timeout_param="COM_OF_LOSS_T",
    mode_requests={
        ModeRequest.BRAKE: (_CUSTOM, PX4_MAIN_AUTO, 3),  # HOLD
        ModeRequest.LOITER: (_CUSTOM, PX4_MAIN_AUTO, 3),
        ModeRequest.RTL: (_CUSTOM, PX4_MAIN_AUTO, 5),
        ModeRequest.LAND: (_CUSTOM, PX4_MAIN_AUTO, 6),
    },
)


def dialect_for(autopilot: str) -> Dialect:
    """``"ardupilot"`` or ``"px4"`` (LinkConfig.autopilot)."""
    table = {"ardupilot": ARDUPILOT, "px4": PX4}
    try:
        return table[autopilot.lower()]
    except KeyError:
        raise ConfigError(f"link.autopilot = {autopilot!r}: must be one of {sorted(table)}") from None


__all__ = ["ARDUCOPTER_MODES", "ARDUPILOT", "PX4", "Dialect", "dialect_for"]
