"""Fence geometry of the simulated vehicle and the flat-earth geodesy it needs.

Fence items arrive through the mission protocol with ``MAV_MISSION_TYPE_FENCE`` as ``MISSION_ITEM_INT``:
``MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION`` / ``_EXCLUSION`` (param1 = vertex count of that polygon,
x/y = lat/lon in 1e-7 degrees) and ``MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION`` / ``_EXCLUSION`` (param1 = radius, m).
Positions are NED metres relative to the EKF origin (the vehicle's start point on the ground).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_perception.errors import InvalidValueError

_EARTH_RADIUS_M = 6378137.0

POLY_INCLUSION = mavlink2.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
POLY_EXCLUSION = mavlink2.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION
CIRCLE_INCLUSION = mavlink2.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION
CIRCLE_EXCLUSION = mavlink2.MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION
FENCE_COMMANDS = frozenset({POLY_INCLUSION, POLY_EXCLUSION, CIRCLE_INCLUSION, CIRCLE_EXCLUSION})


@dataclass(frozen=True)
class GeoOrigin:
    """The EKF origin: latitude/longitude (degrees, WGS84) and altitude (m above mean sea level)."""

    lat_deg: float = -35.363262
    lon_deg: float = 149.165237
    alt_amsl_m: float = 584.0

    def ne_from_latlon(self, lat_deg: float, lon_deg: float) -> tuple[float, float]:
        """North/east metres of a lat/lon relative to the origin (equirectangular; fine within a few km)."""
        n = math.radians(lat_deg - self.lat_deg) * _EARTH_RADIUS_M
        e = math.radians(lon_deg - self.lon_deg) * _EARTH_RADIUS_M * math.cos(math.radians(self.lat_deg))
        return n, e

    def latlon_from_ne(self, north_m: float, east_m: float) -> tuple[float, float]:
        lat = self.lat_deg + math.degrees(north_m / _EARTH_RADIUS_M)
        lon = self.lon_deg + math.degrees(east_m / (_EARTH_RADIUS_M * math.cos(math.radians(self.lat_deg))))
        return lat, lon


@dataclass(frozen=True)
class FenceItem:
    """One stored fence item, kept as received so a download returns exactly what was uploaded."""

    command: int
    param1: float
    lat_e7: int
    lon_e7: int
    frame: int = mavlink2.MAV_FRAME_GLOBAL


def _point_in_polygon(p_ne: np.ndarray, poly_ne: np.ndarray) -> bool:
    """Even-odd ray casting; ``poly_ne`` (K, 2) north/east metres, implicitly closed."""
    x, y = float(p_ne[0]), float(p_ne[1])
    inside = False
    k = len(poly_ne)
    for i in range(k):
        x1, y1 = poly_ne[i]
        x2, y2 = poly_ne[(i + 1) % k]
        if (y1 > y) != (y2 > y):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < x_cross:
                inside = not inside
    return inside


@dataclass(frozen=True)
class FenceGeometry:
    """Polygons and circles in NED (north/east metres about the origin)."""

    inclusion_polygons: tuple[np.ndarray, ...] = ()
    exclusion_polygons: tuple[np.ndarray, ...] = ()
    inclusion_circles: tuple[tuple[float, float, float], ...] = ()  # (north_m, east_m, radius_m)
    exclusion_circles: tuple[tuple[float, float, float], ...] = ()

    @staticmethod
    def from_items(items: list[FenceItem], origin: GeoOrigin) -> FenceGeometry:
        """Validate and convert uploaded items; raise :class:`InvalidValueError` naming the bad item."""
        inc_p: list[np.ndarray] = []
        exc_p: list[np.ndarray] = []
        inc_c: list[tuple[float, float, float]] = []
        exc_c: list[tuple[float, float, float]] = []
        i = 0
        while i < len(items):
            it = items[i]
            n, e = origin.ne_from_latlon(it.lat_e7 * 1e-7, it.lon_e7 * 1e-7)
            if it.command in (CIRCLE_INCLUSION, CIRCLE_EXCLUSION):
                if not it.param1 > 0.0:
                    raise InvalidValueError(f"fence item {i}: circle radius {it.param1} m must be > 0")
                (inc_c if it.command == CIRCLE_INCLUSION else exc_c).append((n, e, float(it.param1)))
                i += 1
                continue
            if it.command not in (POLY_INCLUSION, POLY_EXCLUSION):
                raise InvalidValueError(f"fence item {i}: command {it.command} is not a fence command")
            count = int(it.param1)
            if count < 3 or i + count > len(items):
                raise InvalidValueError(f"fence item {i}: polygon vertex count {count} outside [3, {len(items) - i}]")
            verts = []
            for j in range(i, i + count):
                v = items[j]
                if v.command != it.command or int(v.param1) != count:
                    raise InvalidValueError(f"fence item {j}: polygon vertex does not match item {i}")
                verts.append(origin.ne_from_latlon(v.lat_e7 * 1e-7, v.lon_e7 * 1e-7))
            (inc_p if it.command == POLY_INCLUSION else exc_p).append(np.asarray(verts, dtype=float))
            i += count
        return FenceGeometry(tuple(inc_p), tuple(exc_p), tuple(inc_c), tuple(exc_c))

    @property
    def empty(self) -> bool:
        return not (self.inclusion_polygons or self.exclusion_polygons or self.inclusion_circles
                    or self.exclusion_circles)

    def outside(self, position_ned_m: np.ndarray) -> bool:
        """True if the point is outside every inclusion zone (when any exists) or inside an exclusion zone."""
        p = np.asarray(position_ned_m, dtype=float)[:2]
        incl = [_point_in_polygon(p, poly) for poly in self.inclusion_polygons]
        incl += [math.hypot(p[0] - c[0], p[1] - c[1]) <= c[2] for c in self.inclusion_circles]
        if incl and not all(incl):
            return True  # ArduPilot: the vehicle must be inside every inclusion zone
        if any(_point_in_polygon(p, poly) for poly in self.exclusion_polygons):
            return True
        return any(math.hypot(p[0] - c[0], p[1] - c[1]) < c[2] for c in self.exclusion_circles)


def fence_breaches(
    position_ned_m: np.ndarray, home_ned_m: np.ndarray, geometry: FenceGeometry, *, fence_type: int,
    alt_max_m: float, radius_m: float, alt_min_m: float | None = None,
) -> frozenset[str]:
    """Breached fence kinds (``"alt_max"``, ``"alt_min"``, ``"circle"``, ``"polygon"``) given ``FENCE_TYPE``
    bits. ``alt_min_m``: the floor, or None while it does not apply yet (ArduCopter enables it only once the
    vehicle has climbed above it)."""
    out = set()
    alt_above_home_m = float(home_ned_m[2] - position_ned_m[2])
    if fence_type & 1 and alt_above_home_m > alt_max_m:
        out.add("alt_max")
    if fence_type & 8 and alt_min_m is not None and alt_above_home_m < alt_min_m:
        out.add("alt_min")
    d = position_ned_m[:2] - home_ned_m[:2]
    if fence_type & 2 and math.hypot(float(d[0]), float(d[1])) > radius_m:
        out.add("circle")
    if fence_type & 4 and not geometry.empty and geometry.outside(position_ned_m):
        out.add("polygon")
    return frozenset(out)
