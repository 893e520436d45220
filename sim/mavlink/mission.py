"""Vehicle side of the MAVLink mission protocol, fence items only (``MAV_MISSION_TYPE_FENCE``).

Upload: ``MISSION_COUNT`` -> we request each item with ``MISSION_REQUEST_INT`` (re-requested after
``retry_s`` of silence, a few times) -> ``MISSION_ITEM_INT`` ... -> ``MISSION_ACK``. Download:
``MISSION_REQUEST_LIST`` -> ``MISSION_COUNT``; ``MISSION_REQUEST_INT``/``MISSION_REQUEST`` -> ``MISSION_ITEM_INT``.
Other mission types are empty here (count 0) and their uploads are refused with ``MAV_MISSION_UNSUPPORTED``.
Pure: returns the messages to send; the shell packs and sends them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_perception.errors import InvalidValueError
from sim.mavlink.fence import FENCE_COMMANDS, FenceGeometry, FenceItem, GeoOrigin

log = logging.getLogger(__name__)
M = mavlink2
FENCE = M.MAV_MISSION_TYPE_FENCE
_MAX_ITEMS = 256
_MAX_RETRIES = 5


@dataclass
class _Upload:
    system_id: int
    component_id: int
    count: int
    items: list[FenceItem] = field(default_factory=list)
    last_activity_s: float = 0.0
    retries: int = 0


class FenceMissionServer:
    """Holds the stored fence items; ``on_fence(geometry, items)`` is called after a valid upload."""

    def __init__(self, mav: Any, origin: GeoOrigin, on_fence: Callable[[FenceGeometry, int], None],
                 *, retry_s: float = 1.0) -> None:
        self.mav = mav
        self.origin = origin
        self.on_fence = on_fence
        self.retry_s = float(retry_s)
        self.items: list[FenceItem] = []
        self._upload: _Upload | None = None

    def _request(self, up: _Upload) -> Any:
        return self.mav.mission_request_int_encode(up.system_id, up.component_id, len(up.items), FENCE)

    def _ack(self, sys_id: int, comp_id: int, result: int, mission_type: int) -> Any:
        return self.mav.mission_ack_encode(sys_id, comp_id, result, mission_type)

    def handle(self, msg: Any, now_s: float) -> list[Any]:
        """Process one mission-protocol message addressed to us; return the replies."""
        t = msg.get_type()
        src_s, src_c = msg.get_srcSystem(), msg.get_srcComponent()
        mtype = int(getattr(msg, "mission_type", 0))
        if t == "MISSION_COUNT":
            if mtype != FENCE:
                return [self._ack(src_s, src_c, M.MAV_MISSION_UNSUPPORTED, mtype)]
            if not 0 <= msg.count <= _MAX_ITEMS:
                return [self._ack(src_s, src_c, M.MAV_MISSION_NO_SPACE, FENCE)]
            up = _Upload(src_s, src_c, int(msg.count), last_activity_s=now_s)
            if up.count == 0:
                return self._finish(up)
            self._upload = up
            return [self._request(up)]
        if t == "MISSION_ITEM_INT" and mtype == FENCE:
            cur = self._upload
            if cur is None or (src_s, src_c) != (cur.system_id, cur.component_id):
                return [self._ack(src_s, src_c, M.MAV_MISSION_DENIED, FENCE)]
            up = cur
            if msg.seq != len(up.items):
                return [self._request(up)] if msg.seq > len(up.items) else []  # duplicate: ignore
            if msg.command not in FENCE_COMMANDS:
                self._upload = None
                return [self._ack(src_s, src_c, M.MAV_MISSION_UNSUPPORTED, FENCE)]
            up.items.append(FenceItem(int(msg.command), float(msg.param1), int(msg.x), int(msg.y), int(msg.frame)))
            up.last_activity_s, up.retries = now_s, 0
            return self._finish(up) if len(up.items) == up.count else [self._request(up)]
        if t == "MISSION_REQUEST_LIST":
            n = len(self.items) if mtype == FENCE else 0
            return [self.mav.mission_count_encode(src_s, src_c, n, mtype)]
        if t in ("MISSION_REQUEST_INT", "MISSION_REQUEST") and mtype == FENCE:
            if not 0 <= msg.seq < len(self.items):
                return [self._ack(src_s, src_c, M.MAV_MISSION_INVALID_SEQUENCE, FENCE)]
            it = self.items[msg.seq]
            return [self.mav.mission_item_int_encode(src_s, src_c, msg.seq, it.frame, it.command, 0, 1, it.param1,
                                                     0.0, 0.0, 0.0, it.lat_e7, it.lon_e7, 0.0, FENCE)]
        if t == "MISSION_CLEAR_ALL" and mtype in (FENCE, M.MAV_MISSION_TYPE_ALL):
            self.items = []
            self.on_fence(FenceGeometry(), 0)
            return [self._ack(src_s, src_c, M.MAV_MISSION_ACCEPTED, mtype)]
        return []

    def _finish(self, up: _Upload) -> list[Any]:
        self._upload = None
        try:
            geometry = FenceGeometry.from_items(up.items, self.origin)
        except InvalidValueError as exc:
            log.warning("fence upload refused: %s", exc)
            return [self._ack(up.system_id, up.component_id, M.MAV_MISSION_INVALID, FENCE)]
        self.items = list(up.items)
        self.on_fence(geometry, len(self.items))
        return [self._ack(up.system_id, up.component_id, M.MAV_MISSION_ACCEPTED, FENCE)]

    def poll(self, now_s: float) -> list[Any]:
        """Re-request a stalled upload item; abandon the upload after a few silent retries."""
        up = self._upload
        if up is None or now_s - up.last_activity_s < self.retry_s:
            return []
        if up.retries >= _MAX_RETRIES:
            self._upload = None
            log.warning("fence upload from %d/%d timed out", up.system_id, up.component_id)
            return [self._ack(up.system_id, up.component_id, M.MAV_MISSION_OPERATION_CANCELLED, FENCE)]
        up.retries += 1
        up.last_activity_s = now_s
        return [self._request(up)]
