"""Geofence upload to the autopilot (its own, second fence layer) and verification by download.

The FenceConfig polygon (north/east metres from home) becomes inclusion-polygon vertices
(MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION, param1 = vertex count, x/y = lat/lon * 1e7) and, when
tethered, an inclusion circle (MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION, param1 = tether length m) at the
anchor. They travel through the mission protocol with MAV_MISSION_TYPE_FENCE:

    upload:   MISSION_COUNT -> (MISSION_REQUEST_INT seq -> MISSION_ITEM_INT seq)* -> MISSION_ACK
    download: MISSION_REQUEST_LIST -> MISSION_COUNT -> (MISSION_REQUEST_INT -> MISSION_ITEM_INT)* -> MISSION_ACK

Altitude limits go as parameters (ArduPilot FENCE_ENABLE/FENCE_TYPE/FENCE_ALT_MAX/FENCE_ALT_MIN, PX4
GF_MAX_VER_DIST), each read back. North/east offsets become WGS84 with a local flat-earth
approximation around home (error < 1 cm per km at these ranges).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mav2

from drone_perception.config.safety import FenceConfig
from firmware_bridge.dialects import Dialect
from firmware_bridge.errors import BridgeError, CommandRejected, LinkTimeout
from firmware_bridge.link import MavlinkLink

log = logging.getLogger(__name__)

EARTH_RADIUS_M = 6378137.0
FENCE = mav2.MAV_MISSION_TYPE_FENCE
VERTEX = mav2.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
CIRCLE = mav2.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION
#: ArduPilot FENCE_TYPE bits: 1 max altitude, 4 polygon/circle fences from the fence mission, 8 min altitude.
ARDUPILOT_FENCE_TYPE = 1 | 4 | 8


@dataclass(frozen=True)
class FenceItem:
    """One fence mission item: ``command``, ``param1`` (vertex count or radius m), lat/lon * 1e7."""

    command: int
    param1: float
    lat_e7: int
    lon_e7: int


def ne_to_latlon(north_m: float, east_m: float, home_lat_deg: float, home_lon_deg: float) -> tuple[float, float]:
    """Offset (north, east) metres from home -> (lat, lon) degrees."""
    lat = home_lat_deg + math.degrees(north_m / EARTH_RADIUS_M)
    lon = home_lon_deg + math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(home_lat_deg))))
    return lat, lon


def fence_items(fence: FenceConfig, home_lat_deg: float, home_lon_deg: float,
                home_ne_m: tuple[float, float] = (0.0, 0.0)) -> list[FenceItem]:
    """The mission items for ``fence``. The fence is in the local NED frame (the frame of LOCAL_POSITION_NED,
    whose origin is the EKF origin); ``home_ne_m`` is home in that frame (HOME_POSITION x, y), so each vertex
    is placed at its offset from home, not at its local coordinates read as an offset (home is rarely exactly
    the EKF origin)."""
    if not (math.isfinite(home_lat_deg) and math.isfinite(home_lon_deg) and abs(home_lat_deg) < 89.0):
        raise BridgeError(f"home position ({home_lat_deg}, {home_lon_deg}) unusable for a fence upload")
    hn, he = (float(v) for v in home_ne_m)
    if not (math.isfinite(hn) and math.isfinite(he)):
        raise BridgeError(f"home local position {home_ne_m} unusable for a fence upload")
    n = len(fence.polygon_ne_m)
    items = []
    for north, east in fence.polygon_ne_m:
        lat, lon = ne_to_latlon(north - hn, east - he, home_lat_deg, home_lon_deg)
        items.append(FenceItem(VERTEX, float(n), round(lat * 1e7), round(lon * 1e7)))
    if fence.tethered and fence.tether_length_m is not None:
        an, ae = fence.tether_anchor_ne_m
        lat, lon = ne_to_latlon(an - hn, ae - he, home_lat_deg, home_lon_deg)
        items.append(FenceItem(CIRCLE, float(fence.tether_length_m), round(lat * 1e7), round(lon * 1e7)))
    return items


def fence_params(fence: FenceConfig, dialect: Dialect, *, altitude_floor: bool = True) -> dict[str, float]:
    """Altitude-limit parameters for the dialect (heights above home, metres). ``altitude_floor``: also
    write the floor (ArduCopter FENCE_ALT_MIN + FENCE_TYPE bit 8; autopilots without it never answer)."""
    if dialect.name == "ardupilot":
        fence_type = ARDUPILOT_FENCE_TYPE if altitude_floor else ARDUPILOT_FENCE_TYPE & ~8
        out = {"FENCE_TYPE": float(fence_type), "FENCE_ALT_MAX": fence.altitude_ceiling_m}
        if altitude_floor:
            out["FENCE_ALT_MIN"] = fence.altitude_floor_m
        out["FENCE_ENABLE"] = 1.0
        return out
    return {"GF_MAX_VER_DIST": fence.altitude_ceiling_m}


def _is(msg: Any, kind: str) -> bool:
    return bool(msg.get_type() == kind and getattr(msg, "mission_type", 0) == FENCE)


def _send_item(link: MavlinkLink, item: FenceItem, seq: int, now_s: float) -> None:
    msg = link.mav.mission_item_int_encode(link.target_system or 1, link.target_component or 1, seq,
                                           mav2.MAV_FRAME_GLOBAL, item.command, 0, 1, item.param1, 0.0, 0.0,
                                           0.0, item.lat_e7, item.lon_e7, 0.0, FENCE)
    link.send(msg, now_s)


def upload_fence_items(link: MavlinkLink, items: list[FenceItem], *, timeout_s: float, now_s: float,
                       retry_s: float = 0.5) -> None:
    """Upload ``items`` as the fence mission; raises LinkTimeout / CommandRejected."""
    ts, tc = link.target_system or 1, link.target_component or 1
    count_msg = link.mav.mission_count_encode(ts, tc, len(items), FENCE)
    link.send(count_msg, now_s)
    deadline = link.now() + timeout_s
    last_seq: int | None = None
    while True:
        remaining = deadline - link.now()
        if remaining <= 0:
            raise LinkTimeout(f"fence upload: no answer within {timeout_s:.2f} s (last item sent: {last_seq})")
        try:
            msg = link.wait_for(lambda m: _is(m, "MISSION_REQUEST_INT") or _is(m, "MISSION_REQUEST")
                                or _is(m, "MISSION_ACK"), min(retry_s, remaining), "fence mission reply")
        except LinkTimeout:
            if last_seq is None:
                link.send(count_msg, now_s)
            else:
                _send_item(link, items[last_seq], last_seq, now_s)
            continue
        if msg.get_type() == "MISSION_ACK":
            if msg.type != mav2.MAV_MISSION_ACCEPTED:
                raise CommandRejected(f"fence upload refused: MISSION_ACK type {msg.type}")
            if items and last_seq != len(items) - 1:
                raise CommandRejected(f"fence upload: accepted after item {last_seq} of {len(items)}")
            return
        seq = int(msg.seq)
        if not 0 <= seq < len(items):
            raise CommandRejected(f"fence upload: autopilot requested item {seq} of {len(items)}")
        _send_item(link, items[seq], seq, now_s)
        last_seq = seq


def download_fence_items(link: MavlinkLink, *, timeout_s: float, now_s: float,
                         retry_s: float = 0.5) -> list[FenceItem]:
    """Read the autopilot's fence mission back."""
    ts, tc = link.target_system or 1, link.target_component or 1
    mav = link.mav
    deadline = link.now() + timeout_s

    def remaining() -> float:
        left = deadline - link.now()
        if left <= 0:
            raise LinkTimeout(f"fence download: no answer within {timeout_s:.2f} s")
        return left

    while True:
        link.send(mav.mission_request_list_encode(ts, tc, FENCE), now_s)
        try:
            count = int(link.wait_for(lambda m: _is(m, "MISSION_COUNT"), min(retry_s, remaining()),
                                      "fence MISSION_COUNT").count)
            break
        except LinkTimeout:
            continue
    items: list[FenceItem] = []
    for seq in range(count):
        while True:
            link.send(mav.mission_request_int_encode(ts, tc, seq, FENCE), now_s)
            def is_item(m: Any, s: int = seq) -> bool:
                return _is(m, "MISSION_ITEM_INT") and int(m.seq) == s

            try:
                m = link.wait_for(is_item, min(retry_s, remaining()), f"fence item {seq}")
                break
            except LinkTimeout:
                continue
        items.append(FenceItem(int(m.command), float(m.param1), int(m.x), int(m.y)))
    link.send(mav.mission_ack_encode(ts, tc, mav2.MAV_MISSION_ACCEPTED, FENCE), now_s)
    return items


def verify_fence_items(expected: list[FenceItem], got: list[FenceItem]) -> None:
    """Raise CommandRejected unless the downloaded fence equals the uploaded one."""
    if len(expected) != len(got):
        raise CommandRejected(f"fence read-back: {len(got)} items, uploaded {len(expected)}")
    for i, (a, b) in enumerate(zip(expected, got)):
        if (a.command != b.command or abs(a.param1 - b.param1) > 1e-3 or abs(a.lat_e7 - b.lat_e7) > 1
                or abs(a.lon_e7 - b.lon_e7) > 1):
            raise CommandRejected(f"fence read-back: item {i} is {b}, uploaded {a}")


__all__ = ["ARDUPILOT_FENCE_TYPE", "FenceItem", "download_fence_items", "fence_items", "fence_params",
           "ne_to_latlon", "upload_fence_items", "verify_fence_items"]
