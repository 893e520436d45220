"""Safety-parameter writes with read-back (PARAM_SET -> PARAM_VALUE, then PARAM_REQUEST_READ).

Only parameters on the allowlist (GUID_TIMEOUT, COM_OF_LOSS_T, FENCE_*) can be written. A write counts
only when the autopilot's PARAM_VALUE read back afterwards equals the requested value (within
``tolerance``); otherwise :class:`CommandRejected`; no answer within ``timeout_s``: :class:`LinkTimeout`.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from firmware_bridge.errors import BridgeError, CommandRejected, LinkTimeout
from firmware_bridge.link import MavlinkLink

log = logging.getLogger(__name__)

MAV_PARAM_TYPE_REAL32 = 9
MAV_PARAM_TYPE_INT32 = 6


def _name(raw: Any) -> str:
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("ascii", "replace")
    return str(raw).rstrip("\x00")


def read_param(link: MavlinkLink, name: str, *, timeout_s: float, now_s: float) -> float:
    """Read one parameter by name (PARAM_REQUEST_READ); raise LinkTimeout when unanswered."""
    if len(name) > 16:
        raise BridgeError(f"parameter name {name!r}: at most 16 characters")
    mav = link.mav
    link.send(mav.param_request_read_encode(link.target_system or 1, link.target_component or 1,
                                            name.encode("ascii"), -1), now_s)
    msg = link.wait_for(lambda m: m.get_type() == "PARAM_VALUE" and _name(m.param_id) == name,
                        timeout_s, f"PARAM_VALUE {name}")
    return float(msg.param_value)


def set_param_verified(link: MavlinkLink, name: str, value: float, *, timeout_s: float, now_s: float,
                       tolerance: float = 1e-4, param_type: int = MAV_PARAM_TYPE_REAL32,
                       attempts: int = 3) -> float:
    """Write ``name`` = ``value`` and read it back; returns the read-back value.

    The PARAM_SET is repeated (up to ``attempts`` times, within ``timeout_s`` overall) until a
    PARAM_VALUE for ``name`` arrives, as the parameter protocol prescribes over lossy links.
    """
    if not math.isfinite(value):
        raise BridgeError(f"parameter {name}: value must be finite, got {value}")
    if attempts < 1:
        raise BridgeError(f"attempts: must be >= 1, got {attempts}")
    mav = link.mav
    per_try_s = timeout_s / attempts
    echoed: float | None = None
    for attempt in range(attempts):
        link.send(mav.param_set_encode(link.target_system or 1, link.target_component or 1,
                                       name.encode("ascii"), float(value), param_type), now_s)
        try:
            msg = link.wait_for(lambda m: m.get_type() == "PARAM_VALUE" and _name(m.param_id) == name,
                                per_try_s, f"PARAM_VALUE {name}")
        except LinkTimeout:
            log.info("no PARAM_VALUE for %s (attempt %d/%d)", name, attempt + 1, attempts)
            continue
        echoed = float(msg.param_value)
        break
    if echoed is None:
        raise LinkTimeout(f"parameter {name}: no PARAM_VALUE after {attempts} PARAM_SET within {timeout_s:.2f} s")
    readback = read_param(link, name, timeout_s=per_try_s, now_s=now_s)
    if abs(readback - value) > tolerance * max(1.0, abs(value)):
        raise CommandRejected(f"parameter {name}: wrote {value}, autopilot reads back {readback}")
    log.info("parameter %s = %g (read back)", name, readback)
    return readback


__all__ = ["MAV_PARAM_TYPE_INT32", "MAV_PARAM_TYPE_REAL32", "read_param", "set_param_verified"]
