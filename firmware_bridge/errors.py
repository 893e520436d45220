"""Error hierarchy of ``firmware_bridge``.

Every error the bridge raises on purpose derives from :class:`BridgeError` (itself a
``DronePerceptionError``), so a shell can catch one type and fail closed to hold.
"""

from __future__ import annotations

from drone_perception.errors import DronePerceptionError


class BridgeError(DronePerceptionError):
    """Base of every bridge error: a link that cannot be opened (port in use, bad connection string),
    a protocol exchange that failed, or a refused operation."""


class LinkTimeout(BridgeError):
    """A blocking exchange with the autopilot got no (matching) answer within its ``timeout_s``."""


class CommandRejected(BridgeError):
    """The autopilot answered but refused or did not apply what was asked (NACK, wrong read-back)."""


class SigningError(BridgeError):
    """The MAVLink 2 signing key file is missing, unreadable or malformed."""


class AllowlistViolation(BridgeError):
    """Something tried to send a message type or command id that is not on the outgoing allowlist."""


__all__ = ["AllowlistViolation", "BridgeError", "CommandRejected", "LinkTimeout", "SigningError"]
