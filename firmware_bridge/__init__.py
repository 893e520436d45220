"""MAVLink bridge between the stack and an ArduPilot / PX4 flight controller.

Entry point: :class:`firmware_bridge.bridge.MavlinkBridge`. See DESIGN.md (safety charter) and each
module's docstring: ``link`` (connection, heartbeat, link loss), ``telemetry`` (-> VehicleState),
``dialects`` (ArduPilot / PX4 modes), ``engagement`` (operator + dead-man), ``camera_tracking``
(subject selection from the GCS), ``allowlist`` (what may be sent), ``params`` / ``fence`` (second
safety layer on the autopilot), ``signing`` (MAVLink 2 signing).
"""

from firmware_bridge.errors import AllowlistViolation, BridgeError, CommandRejected, LinkTimeout, SigningError

__all__ = ["AllowlistViolation", "BridgeError", "CommandRejected", "LinkTimeout", "SigningError"]
