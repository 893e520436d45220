"""The explicit allowlist of everything the bridge may put on the wire (charter item 6).

Every outgoing message passes :meth:`Allowlist.check` inside the link's single send function; anything
not listed here raises :class:`AllowlistViolation` before a byte is written. The list is deliberately
short: heartbeats, velocity(+yaw-rate) setpoints in the local NED frame, message-interval requests,
safer-mode *requests*, safety-parameter writes, the fence mission protocol and the camera component's
own messages. Nothing that arms, takes off, moves a servo or actuator, or releases anything is listed;
a request for such a command id is refused by construction (it is simply not a member).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mav2

from firmware_bridge.errors import AllowlistViolation

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
    mav2.MAV_CMD_SET_MESSAGE_INTERVAL,
    mav2.MAV_CMD_REQUEST_MESSAGE,
    mav2.MAV_CMD_DO_SET_MODE,
})

#: Commands the camera component may ACK as *accepted* (any command may be denied/unsupported).
ACKABLE_COMMANDS: frozenset[int] = frozenset({
    mav2.MAV_CMD_CAMERA_TRACK_POINT,
    mav2.MAV_CMD_CAMERA_TRACK_RECTANGLE,
    mav2.MAV_CMD_CAMERA_STOP_TRACKING,
    mav2.MAV_CMD_REQUEST_MESSAGE,
    mav2.MAV_CMD_REQUEST_CAMERA_INFORMATION,
})

#: Fence mission items: polygon inclusion vertices and an inclusion circle (tether radius).
ALLOWED_MISSION_ITEM_COMMANDS: frozenset[int] = frozenset({
    mav2.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
    mav2.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION,
})

#: Safety parameters the bridge may write (and must read back).
WRITABLE_PARAMS: frozenset[str] = frozenset({
    "GUID_TIMEOUT", "COM_OF_LOSS_T",
    "FENCE_ENABLE", "FENCE_TYPE", "FENCE_ALT_MAX", "FENCE_ALT_MIN", "FENCE_RADIUS",
    "GF_MAX_VER_DIST",
})

#: SET_POSITION_TARGET_LOCAL_NED type_mask: velocity + yaw rate only (position, accel, yaw ignored).
VELOCITY_YAW_RATE_TYPE_MASK = (
    mav2.POSITION_TARGET_TYPEMASK_X_IGNORE | mav2.POSITION_TARGET_TYPEMASK_Y_IGNORE
    | mav2.POSITION_TARGET_TYPEMASK_Z_IGNORE | mav2.POSITION_TARGET_TYPEMASK_AX_IGNORE
    | mav2.POSITION_TARGET_TYPEMASK_AY_IGNORE | mav2.POSITION_TARGET_TYPEMASK_AZ_IGNORE
    | mav2.POSITION_TARGET_TYPEMASK_YAW_IGNORE
)

_MISSION_TYPED = {"MISSION_COUNT", "MISSION_ITEM_INT", "MISSION_REQUEST_INT", "MISSION_REQUEST_LIST",
                  "MISSION_ACK"}


def _param_name(raw: Any) -> str:
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("ascii", errors="replace")
    return str(raw).rstrip("\x00")


class Allowlist:
    """Checks one outgoing message against the lists above.

    ``safe_mode_params``: the (param1 base-mode flags, param2 custom main mode, param3 custom sub mode)
    triples that MAV_CMD_DO_SET_MODE may carry (the dialect's BRAKE/LOITER/HOLD/RTL/LAND requests).
    """

    def __init__(self, safe_mode_params: Iterable[tuple[int, int, int]]) -> None:
        self._safe_modes = frozenset((int(a), int(b), int(c)) for a, b, c in safe_mode_params)

    def check(self, msg: Any) -> None:
        """Raise :class:`AllowlistViolation` unless ``msg`` (a pymavlink message) may be sent."""
        kind = msg.get_type()
        if kind not in ALLOWED_MESSAGES:
            raise AllowlistViolation(f"message type {kind!r} is not on the outgoing allowlist "
                                     f"(allowed: {sorted(ALLOWED_MESSAGES)})")
        if kind == "COMMAND_LONG":
            self._check_command(msg)
        elif kind == "COMMAND_ACK":
            if msg.result == mav2.MAV_RESULT_ACCEPTED and msg.command not in ACKABLE_COMMANDS:
                raise AllowlistViolation(f"COMMAND_ACK accepting command id {msg.command} is not allowed")
        elif kind == "PARAM_SET":
            name = _param_name(msg.param_id)
            if name not in WRITABLE_PARAMS:
                raise AllowlistViolation(f"PARAM_SET of {name!r} is not allowed (writable: "
                                         f"{sorted(WRITABLE_PARAMS)})")
        elif kind == "SET_POSITION_TARGET_LOCAL_NED" and (
                msg.type_mask != VELOCITY_YAW_RATE_TYPE_MASK or msg.coordinate_frame != mav2.MAV_FRAME_LOCAL_NED):
            raise AllowlistViolation(
                    f"SET_POSITION_TARGET_LOCAL_NED must be a LOCAL_NED velocity+yaw-rate setpoint "
                    f"(type_mask {VELOCITY_YAW_RATE_TYPE_MASK}, frame {mav2.MAV_FRAME_LOCAL_NED}), got "
                    f"type_mask {msg.type_mask}, frame {msg.coordinate_frame}")
        if kind in _MISSION_TYPED and msg.mission_type != mav2.MAV_MISSION_TYPE_FENCE:
            raise AllowlistViolation(f"{kind} with mission_type {msg.mission_type}: only the fence "
                                     f"mission type ({mav2.MAV_MISSION_TYPE_FENCE}) is allowed")
        if kind == "MISSION_ITEM_INT" and msg.command not in ALLOWED_MISSION_ITEM_COMMANDS:
            raise AllowlistViolation(f"MISSION_ITEM_INT with command id {msg.command} is not allowed")

    def _check_command(self, msg: Any) -> None:
        cmd = int(msg.command)
        if cmd not in ALLOWED_COMMANDS:
            raise AllowlistViolation(f"command id {cmd} is not on the outgoing allowlist "
                                     f"(allowed: {sorted(ALLOWED_COMMANDS)})")
        if cmd == mav2.MAV_CMD_DO_SET_MODE:
            params = (msg.param1, msg.param2, msg.param3)
            if not all(math.isfinite(p) for p in params):
                raise AllowlistViolation(f"DO_SET_MODE with non-finite parameters {params}")
            triple = (round(params[0]), round(params[1]), round(params[2]))
            if triple not in self._safe_modes:
                raise AllowlistViolation(f"DO_SET_MODE to {triple} is not a safer-mode request "
                                         f"(allowed: {sorted(self._safe_modes)})")


__all__ = [
    "ACKABLE_COMMANDS",
    "ALLOWED_COMMANDS",
    "ALLOWED_MESSAGES",
    "ALLOWED_MISSION_ITEM_COMMANDS",
    "VELOCITY_YAW_RATE_TYPE_MASK",
    "WRITABLE_PARAMS",
    "Allowlist",
]
