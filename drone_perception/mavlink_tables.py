"""Every MAVLink number the stack relies on, as plain data: the outgoing allowlist, the commands that must
never leave the companion, and the autopilot dialects (mode numbers <-> names, safer-mode requests).

One table for the bridge and the audit: the bridge's ``allowlist`` and ``dialects`` modules enforce it on the
wire (they import these objects), :mod:`drone_perception.audit` checks recorded traffic and autopilot logs
against the same objects. No MAVLink library is imported: the audit runs where the bridge is not installed,
and the core must not depend on its shells. ``tests/drone_perception/test_mavlink_tables.py`` checks every id
against the MAVLink dialect's enums by name, and that the bridge and the audit use these very objects.

Ids and bit values are from MAVLink ``common.xml`` / ``ardupilotmega.xml``; the mode numbers from
ArduCopter ``mode.h`` and PX4 ``px4_custom_mode.h``.

Dialects. ArduPilot Copter: the companion flies in GUIDED with SET_POSITION_TARGET_LOCAL_NED velocity +
yaw-rate setpoints; safer modes BRAKE / LOITER / RTL / LAND are requested with MAV_CMD_DO_SET_MODE
(param1 = MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, param2 = copter mode number). PX4: the companion flies in
OFFBOARD; HOLD (= AUTO_LOITER) / RTL / LAND are requested with DO_SET_MODE (param1 = custom-mode flag,
param2 = main mode, param3 = sub mode). Canonical mode names are upper case; PX4's AUTO_LOITER is reported
as ``LOITER`` (shown as "Hold" in QGC).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from drone_perception.errors import ConfigError
from drone_perception.types import ModeRequest

# --------------------------------------------------------------------------------------------------
# MAVLink enum values (common.xml)

MAV_CMD_DO_SET_MODE = 176
MAV_CMD_SET_MESSAGE_INTERVAL = 511
MAV_CMD_REQUEST_MESSAGE = 512
MAV_CMD_REQUEST_CAMERA_INFORMATION = 521
MAV_CMD_CAMERA_TRACK_POINT = 2004
MAV_CMD_CAMERA_TRACK_RECTANGLE = 2005
MAV_CMD_CAMERA_STOP_TRACKING = 2010
MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION = 5001
MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION = 5003

MAV_RESULT_ACCEPTED = 0
MAV_FRAME_LOCAL_NED = 1
MAV_MISSION_TYPE_FENCE = 1
#: HEARTBEAT ``base_mode`` bits.
MAV_MODE_FLAG_CUSTOM_MODE_ENABLED = 1
MAV_MODE_FLAG_SAFETY_ARMED = 128
#: HEARTBEAT ``system_status``: a failsafe is active in either.
MAV_STATE_CRITICAL = 5
MAV_STATE_EMERGENCY = 6
#: HEARTBEAT ``autopilot`` of a component that is not a flight controller.
MAV_AUTOPILOT_INVALID = 8

#: POSITION_TARGET_TYPEMASK bits.
POSITION_TARGET_TYPEMASK_X_IGNORE = 1
POSITION_TARGET_TYPEMASK_Y_IGNORE = 2
POSITION_TARGET_TYPEMASK_Z_IGNORE = 4
POSITION_TARGET_TYPEMASK_AX_IGNORE = 64
POSITION_TARGET_TYPEMASK_AY_IGNORE = 128
POSITION_TARGET_TYPEMASK_AZ_IGNORE = 256
POSITION_TARGET_TYPEMASK_YAW_IGNORE = 1024

#: SET_POSITION_TARGET_LOCAL_NED type_mask: velocity + yaw rate only (position, accel, yaw ignored).
VELOCITY_YAW_RATE_TYPE_MASK = (
    POSITION_TARGET_TYPEMASK_X_IGNORE | POSITION_TARGET_TYPEMASK_Y_IGNORE
    | POSITION_TARGET_TYPEMASK_Z_IGNORE | POSITION_TARGET_TYPEMASK_AX_IGNORE
    | POSITION_TARGET_TYPEMASK_AY_IGNORE | POSITION_TARGET_TYPEMASK_AZ_IGNORE
    | POSITION_TARGET_TYPEMASK_YAW_IGNORE
)

# --------------------------------------------------------------------------------------------------
# What may be sent (charter item 6)

#: Outgoing message types (MAVLink names).
ALLOWED_MESSAGES: frozenset[str] = frozenset({
    "HEARTBEAT",
    "SET_POSITION_TARGET_LOCAL_NED",
    "COMMAND_LONG",
    "COMMAND_ACK",
    "PARAM_SET",
    "PARAM_REQUEST_READ",
    "MISSION_COUNT",
    "MISSION_ITEM_INT",
    "MISSION_REQUEST_INT",
    "MISSION_REQUEST_LIST",
    "MISSION_ACK",
    "CAMERA_INFORMATION",
    "CAMERA_TRACKING_IMAGE_STATUS",
    "CAMERA_TRACKING_GEO_STATUS",
    "STATUSTEXT",
})

#: MAV_CMD ids the bridge may send in COMMAND_LONG. DO_SET_MODE is further restricted to safer modes.
ALLOWED_COMMANDS: frozenset[int] = frozenset({
    MAV_CMD_SET_MESSAGE_INTERVAL,
    MAV_CMD_REQUEST_MESSAGE,
    MAV_CMD_DO_SET_MODE,
})

#: Commands the camera component may ACK as *accepted* (any command may be denied/unsupported).
ACKABLE_COMMANDS: frozenset[int] = frozenset({
    MAV_CMD_CAMERA_TRACK_POINT,
    MAV_CMD_CAMERA_TRACK_RECTANGLE,
    MAV_CMD_CAMERA_STOP_TRACKING,
    MAV_CMD_REQUEST_MESSAGE,
    MAV_CMD_REQUEST_CAMERA_INFORMATION,
})

#: Fence mission items: polygon inclusion vertices and an inclusion circle (tether radius).
ALLOWED_MISSION_ITEM_COMMANDS: frozenset[int] = frozenset({
    MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
    MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION,
})

#: Safety parameters the bridge may write (and must read back).
WRITABLE_PARAMS: frozenset[str] = frozenset({
    "GUID_TIMEOUT", "COM_OF_LOSS_T",
    "FENCE_ENABLE", "FENCE_TYPE", "FENCE_ALT_MAX", "FENCE_ALT_MIN", "FENCE_RADIUS",
    "GF_MAX_VER_DIST",
})

#: Messages that carry a ``mission_type`` (only the fence mission type may be sent).
MISSION_TYPED_MESSAGES: frozenset[str] = frozenset({
    "MISSION_COUNT", "MISSION_ITEM_INT", "MISSION_REQUEST_INT", "MISSION_REQUEST_LIST", "MISSION_ACK",
})

# --------------------------------------------------------------------------------------------------
# What must never be sent (the audit looks for these in records; nothing here sends anything)

# Named without their MAVLink spelling on purpose, like the bridge's own source: the bridge imports this module,
# and the bridge's allowlist test fails if either ever spells an arming/take-off/actuator constant.
_CMD_TAKEOFF = 22
_CMD_TAKEOFF_LOCAL = 24
_CMD_VTOL_TAKEOFF = 84
MAV_CMD_NAV_GUIDED_ENABLE = 92
_CMD_SERVO = 183
_CMD_REPEAT_SERVO = 184
_CMD_GRIPPER = 211
MAV_CMD_MISSION_START = 300
#: The arm/disarm command (param1 >= 0.5: arm).
CMD_ARMING = 400

#: MAV_CMD ids that hand control away from the operator or actuate something, with a readable name.
FORBIDDEN_COMMANDS: dict[int, str] = {
    _CMD_TAKEOFF: "take-off", _CMD_TAKEOFF_LOCAL: "local take-off",
    _CMD_VTOL_TAKEOFF: "VTOL take-off", MAV_CMD_NAV_GUIDED_ENABLE: "NAV_GUIDED_ENABLE",
    _CMD_SERVO: "servo", _CMD_REPEAT_SERVO: "repeat servo",
    _CMD_GRIPPER: "gripper", MAV_CMD_MISSION_START: "MISSION_START",
    CMD_ARMING: "arm/disarm",
}
#: Message types that take control from the operator.
FORBIDDEN_MESSAGES: frozenset[str] = frozenset({"SET_MODE", "RC_CHANNELS_OVERRIDE", "MANUAL_CONTROL"})

# --------------------------------------------------------------------------------------------------
# Vehicle types (HEARTBEAT ``type``, MAV_TYPE) and autopilots (HEARTBEAT ``autopilot``, MAV_AUTOPILOT)

#: MAV_TYPE values of vehicles this stack flies (multirotors), with their MAV_TYPE name.
MULTIROTOR_TYPES: dict[int, str] = {2: "QUADROTOR", 3: "COAXIAL", 4: "HELICOPTER", 13: "HEXAROTOR",
                                    14: "OCTOROTOR", 15: "TRICOPTER", 29: "DODECAROTOR", 35: "DECAROTOR"}
#: Heartbeats from these MAV_TYPEs are not the vehicle (GCS, companion, gimbal, ADS-B, camera, ...).
NOT_VEHICLE_TYPES: frozenset[int] = frozenset({6, 18, 26, 27, 30, 31, 32, 33, 34})
#: MAV_AUTOPILOT values -> the dialect name (``LinkConfig.autopilot``).
AUTOPILOT_DIALECT_NAMES: dict[int, str] = {3: "ardupilot", 12: "px4"}

# --------------------------------------------------------------------------------------------------
# Dialects: mode numbers and safer-mode requests

_CUSTOM = MAV_MODE_FLAG_CUSTOM_MODE_ENABLED

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


# --------------------------------------------------------------------------------------------------
# The allowlist rule


def _param_name(raw: Any) -> str:
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("ascii", errors="replace")
    return str(raw).rstrip("\x00")


class OutgoingAllowlist:
    """The rule every outgoing message must pass, over the tables above.

    ``safe_mode_params``: the (param1 base-mode flags, param2 custom main mode, param3 custom sub mode)
    triples that MAV_CMD_DO_SET_MODE may carry (the dialect's BRAKE/LOITER/HOLD/RTL/LAND requests).
    :meth:`violation` reads ``msg.get_type()`` and the MAVLink field names as attributes, so it takes a
    MAVLink message object (the bridge, before sending) or any object shaped like one (the audit, on a record);
    a message lacking a field it needs raises ``AttributeError``.
    """

    def __init__(self, safe_mode_params: Iterable[tuple[int, int, int]]) -> None:
        self._safe_modes = frozenset((int(a), int(b), int(c)) for a, b, c in safe_mode_params)

    def violation(self, msg: Any) -> str | None:
        """Why ``msg`` may not be sent, or None when it may."""
        kind = msg.get_type()
        if kind not in ALLOWED_MESSAGES:
            return f"message type {kind!r} is not on the outgoing allowlist (allowed: {sorted(ALLOWED_MESSAGES)})"
        if kind == "COMMAND_LONG":
            why = self._command_violation(msg)
            if why is not None:
                return why
        elif kind == "COMMAND_ACK":
            if msg.result == MAV_RESULT_ACCEPTED and msg.command not in ACKABLE_COMMANDS:
                return f"COMMAND_ACK accepting command id {msg.command} is not allowed"
        elif kind == "PARAM_SET":
            name = _param_name(msg.param_id)
            if name not in WRITABLE_PARAMS:
                return f"PARAM_SET of {name!r} is not allowed (writable: {sorted(WRITABLE_PARAMS)})"
        elif kind == "SET_POSITION_TARGET_LOCAL_NED" and (
                msg.type_mask != VELOCITY_YAW_RATE_TYPE_MASK or msg.coordinate_frame != MAV_FRAME_LOCAL_NED):
            return (f"SET_POSITION_TARGET_LOCAL_NED must be a LOCAL_NED velocity+yaw-rate setpoint "
                    f"(type_mask {VELOCITY_YAW_RATE_TYPE_MASK}, frame {MAV_FRAME_LOCAL_NED}), got "
                    f"type_mask {msg.type_mask}, frame {msg.coordinate_frame}")
        if kind in MISSION_TYPED_MESSAGES and msg.mission_type != MAV_MISSION_TYPE_FENCE:
            return (f"{kind} with mission_type {msg.mission_type}: only the fence "
                    f"mission type ({MAV_MISSION_TYPE_FENCE}) is allowed")
        if kind == "MISSION_ITEM_INT" and msg.command not in ALLOWED_MISSION_ITEM_COMMANDS:
            return f"MISSION_ITEM_INT with command id {msg.command} is not allowed"
        return None

    def _command_violation(self, msg: Any) -> str | None:
        cmd = int(msg.command)
        if cmd not in ALLOWED_COMMANDS:
            return f"command id {cmd} is not on the outgoing allowlist (allowed: {sorted(ALLOWED_COMMANDS)})"
        if cmd == MAV_CMD_DO_SET_MODE:
            params = (msg.param1, msg.param2, msg.param3)
            if not all(math.isfinite(p) for p in params):
                return f"DO_SET_MODE with non-finite parameters {params}"
            triple = (round(params[0]), round(params[1]), round(params[2]))
            if triple not in self._safe_modes:
                return f"DO_SET_MODE to {triple} is not a safer-mode request (allowed: {sorted(self._safe_modes)})"
        return None


__all__ = [
    "ACKABLE_COMMANDS",
    "ALLOWED_COMMANDS",
    "ALLOWED_MESSAGES",
    "ALLOWED_MISSION_ITEM_COMMANDS",
    "ARDUCOPTER_MODES",
    "ARDUPILOT",
    "AUTOPILOT_DIALECT_NAMES",
    "CMD_ARMING",
    "FORBIDDEN_COMMANDS",
    "FORBIDDEN_MESSAGES",
    "MAV_AUTOPILOT_INVALID",
    "MAV_CMD_DO_SET_MODE",
    "MAV_FRAME_LOCAL_NED",
    "MAV_MISSION_TYPE_FENCE",
    "MAV_MODE_FLAG_CUSTOM_MODE_ENABLED",
    "MAV_MODE_FLAG_SAFETY_ARMED",
    "MAV_RESULT_ACCEPTED",
    "MISSION_TYPED_MESSAGES",
    "MULTIROTOR_TYPES",
    "NOT_VEHICLE_TYPES",
    "PX4",
    "PX4_AUTO_SUB_MODES",
    "PX4_MAIN_AUTO",
    "PX4_MAIN_MODES",
    "VELOCITY_YAW_RATE_TYPE_MASK",
    "WRITABLE_PARAMS",
    "Dialect",
    "OutgoingAllowlist",
    "dialect_for",
]
