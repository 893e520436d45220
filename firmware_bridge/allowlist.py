"""The explicit allowlist of everything the bridge may put on the wire (charter item 6).

Every outgoing message passes :meth:`Allowlist.check` inside the link's single send function; anything
not listed raises :class:`AllowlistViolation` before a byte is written. The list is deliberately
short: heartbeats, velocity(+yaw-rate) setpoints in the local NED frame, message-interval requests,
safer-mode *requests*, safety-parameter writes, the fence mission protocol and the camera component's
own messages. Nothing that arms, takes off, moves a servo or actuator, or releases anything is listed;
a request for such a command id is refused by construction (it is simply not a member).

The tables and the rule live in :mod:`drone_perception.mavlink_tables` (plain data, no pymavlink), so the
audit checks recorded traffic against the very same objects; this module only turns a violation into
:class:`AllowlistViolation`.
"""

from __future__ import annotations

from typing import Any

from drone_perception.mavlink_tables import (
    ACKABLE_COMMANDS,
    ALLOWED_COMMANDS,
    ALLOWED_MESSAGES,
    ALLOWED_MISSION_ITEM_COMMANDS,
    VELOCITY_YAW_RATE_TYPE_MASK,
    WRITABLE_PARAMS,
    OutgoingAllowlist,
)
from firmware_bridge.errors import AllowlistViolation


class Allowlist(OutgoingAllowlist):
    """Checks one outgoing message against :mod:`drone_perception.mavlink_tables`.

    ``safe_mode_params``: the (param1 base-mode flags, param2 custom main mode, param3 custom sub mode)
    triples that MAV_CMD_DO_SET_MODE may carry (the dialect's BRAKE/LOITER/HOLD/RTL/LAND requests).
    """

    def check(self, msg: Any) -> None:
        """Raise :class:`AllowlistViolation` unless ``msg`` (a pymavlink message) may be sent."""
        why = self.violation(msg)
        if why is not None:
            raise AllowlistViolation(why)


__all__ = [
    "ACKABLE_COMMANDS",
    "ALLOWED_COMMANDS",
    "ALLOWED_MESSAGES",
    "ALLOWED_MISSION_ITEM_COMMANDS",
    "VELOCITY_YAW_RATE_TYPE_MASK",
    "WRITABLE_PARAMS",
    "Allowlist",
]
