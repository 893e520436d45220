"""MAVLink 2 message signing for the bridge's link.

Key file format: the 32-byte MAVLink 2 secret key, stored either as exactly 32 raw bytes, or as text
holding 64 hexadecimal characters (surrounding whitespace ignored). Both sides of the link (autopilot,
ground station, companion) must hold the same key. Keep the file private (mode 0600); a key readable by
group or others is accepted but logged as a warning.

When signing is configured every outgoing message is signed and every incoming *unsigned* or badly
signed message is refused by the parser (it never reaches the bridge), with one exception: RADIO_STATUS,
which radios inject unsigned (as ArduPilot also allows). In particular unsigned COMMAND_LONG /
COMMAND_INT addressed to the companion (camera tracking commands) are refused.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mav2

from firmware_bridge.errors import SigningError

log = logging.getLogger(__name__)

KEY_LEN = 32
#: Message ids accepted unsigned on a signed link.
UNSIGNED_ALLOWED_IDS: frozenset[int] = frozenset({mav2.MAVLINK_MSG_ID_RADIO_STATUS})
#: Seconds between 1970-01-01 and 2015-01-01 (the MAVLink signing epoch).
_SIGNING_EPOCH_S = 1420070400


def parse_key(data: bytes) -> bytes:
    """The 32-byte key from a key file's content (raw 32 bytes, or 64 hex characters)."""
    if len(data) == KEY_LEN:
        return bytes(data)
    text = data.strip()
    if len(text) == 2 * KEY_LEN:
        try:
            return bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            pass
    raise SigningError(f"signing key: expected {KEY_LEN} raw bytes or {2 * KEY_LEN} hex characters, "
                       f"got {len(data)} bytes that are neither")


def load_key(path: str | os.PathLike[str]) -> bytes:
    """Read and validate a key file (see the module docstring for the format)."""
    p = Path(path)
    try:
        data = p.read_bytes()
        mode = p.stat().st_mode
    except OSError as exc:
        raise SigningError(f"signing_key_file {str(p)!r}: cannot read: {exc.strerror or exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("signing key file %s is readable by group/others (mode %o); use chmod 600", p,
                    stat.S_IMODE(mode))
    return parse_key(data)


def _allow_unsigned(_mav: Any, msg_id: int) -> bool:
    return msg_id in UNSIGNED_ALLOWED_IDS


def setup_signing(conn: Any, key: bytes, *, link_id: int = 0, now_epoch_s: float) -> None:
    """Enable signing on a pymavlink connection: sign outgoing, refuse unsigned incoming.

    ``now_epoch_s``: wall-clock Unix time (the signing timestamp must increase across restarts).
    """
    if len(key) != KEY_LEN:
        raise SigningError(f"signing key: must be {KEY_LEN} bytes, got {len(key)}")
    if not 0 <= link_id <= 255:
        raise SigningError(f"signing link_id: must be in [0, 255], got {link_id}")
    stamp_10us = int(max(now_epoch_s - _SIGNING_EPOCH_S, 0.0) * 100_000)
    conn.setup_signing(key, sign_outgoing=True, allow_unsigned_callback=_allow_unsigned,
                       initial_timestamp=stamp_10us, link_id=link_id)


def refused_count(conn: Any) -> int:
    """How many incoming messages the signing check refused so far."""
    signing = conn.mav.signing
    return int(signing.reject_count)


__all__ = ["KEY_LEN", "UNSIGNED_ALLOWED_IDS", "load_key", "parse_key", "refused_count", "setup_signing"]
