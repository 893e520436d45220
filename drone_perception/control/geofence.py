"""Geofence: polygon (north, east) + altitude floor/ceiling + optional tether sphere (charter item 5, 7).

Frames and signs: points are NED metres relative to home on the ground, so the height above home is
``-z``. Polygon vertices are (north_m, east_m); either winding is accepted. The tether is modelled as a
**sphere** of radius ``tether_length_m`` around the anchor on the ground (``tether_anchor_ne_m``, height
0): a tether limits slant range, and the sphere is stricter than a horizontal circle of the same radius.

All distances are signed: positive inside, negative outside. The code is plain Python on 3-tuples
(numpy on 3-vectors is slower than scalar math at this size); it accepts anything indexable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from drone_perception.config.limits import HARD_MAX_CEILING_M, HARD_MIN_FLOOR_M
from drone_perception.config.safety import FenceConfig
from drone_perception.control import limits as L

#: A 3-vector: a tuple/list of floats or a (3,) array.
PointLike = Sequence[float] | np.ndarray


@dataclass(frozen=True)
class Boundary:
    """One boundary near a point. ``normal_ned`` is the unit **outward** normal (for a polygon edge: from
    the point towards the nearest point of the edge when inside, away from it when outside);
    ``distance_m`` is positive inside, negative outside. ``limit`` names it (FENCE, ALTITUDE_FLOOR,
    ALTITUDE_CEILING or TETHER)."""

    limit: str
    normal_ned: tuple[float, float, float]
    distance_m: float


#: A :class:`Boundary` as a plain tuple ``(limit, normal_ned, distance_m)``.
BoundaryRow = tuple[str, tuple[float, float, float], float]


def _nearest_on_segment(pn: float, pe: float, an: float, ae: float, bn: float, be: float) -> tuple[float, float]:
    dn, de = bn - an, be - ae
    den = dn * dn + de * de
    t = 0.0 if den <= 0.0 else ((pn - an) * dn + (pe - ae) * de) / den
    t = 0.0 if t < 0.0 else (1.0 if t > 1.0 else t)
    return an + t * dn, ae + t * de


class Geofence:
    """The fence of one :class:`FenceConfig`. Stateless after construction; cheap to call."""

    def __init__(self, cfg: FenceConfig) -> None:
        self.polygon_ne_m: tuple[tuple[float, float], ...] = tuple(
            (float(n), float(e)) for n, e in cfg.polygon_ne_m)
        # Hard limits re-applied even to a config built without validation (a NaN gives an empty band).
        self.altitude_floor_m = max(float(cfg.altitude_floor_m), HARD_MIN_FLOOR_M)
        self.altitude_ceiling_m = min(float(cfg.altitude_ceiling_m), HARD_MAX_CEILING_M)
        self.tether_length_m: float | None = (
            float(cfg.tether_length_m) if cfg.tether_length_m is not None else None)
        self.tether_anchor_ned_m = (float(cfg.tether_anchor_ne_m[0]), float(cfg.tether_anchor_ne_m[1]), 0.0)
        verts = self.polygon_ne_m
        self._edges = tuple((verts[i][0], verts[i][1], verts[(i + 1) % len(verts)][0],
                             verts[(i + 1) % len(verts)][1]) for i in range(len(verts)))

    # -- polygon ---------------------------------------------------------------------------------
    def _inside_polygon(self, pn: float, pe: float) -> bool:
        inside = False
        for an, ae, bn, be in self._edges:
            if (ae > pe) != (be > pe):
                n_cross = an + (pe - ae) * (bn - an) / (be - ae)
                if pn < n_cross:
                    inside = not inside
        return inside

    def polygon_margin_m(self, pn: float, pe: float) -> float:
        """Signed horizontal distance to the polygon boundary (positive inside)."""
        best = math.inf
        for an, ae, bn, be in self._edges:  # _nearest_on_segment, inlined (hot: called every step)
            dn, de = bn - an, be - ae
            den = dn * dn + de * de
            t = 0.0 if den <= 0.0 else ((pn - an) * dn + (pe - ae) * de) / den
            t = 0.0 if t < 0.0 else (1.0 if t > 1.0 else t)
            d = math.hypot(pn - (an + t * dn), pe - (ae + t * de))
            if d < best:  # best = min(best, d), without the builtin call (same result, NaN included)
                best = d
        return best if self._inside_polygon(pn, pe) else -best

    # -- whole fence -----------------------------------------------------------------------------
    def tether_margin_m(self, point_ned_m: PointLike) -> float:
        """Tether length minus the slant distance to the anchor (+inf without a tether)."""
        if self.tether_length_m is None:
            return math.inf
        a = self.tether_anchor_ned_m
        r = math.sqrt((point_ned_m[0] - a[0]) ** 2 + (point_ned_m[1] - a[1]) ** 2 + (point_ned_m[2] - a[2]) ** 2)
        return self.tether_length_m - r

    def margin_m(self, point_ned_m: PointLike) -> float:
        """Signed distance to the nearest boundary, metres (>0 inside): the minimum of the polygon
        margin, height above the floor, distance below the ceiling and the tether margin."""
        pn, pe, pd = float(point_ned_m[0]), float(point_ned_m[1]), float(point_ned_m[2])
        h = -pd
        polygon, floor, ceiling = self.polygon_margin_m(pn, pe), h - self.altitude_floor_m, self.altitude_ceiling_m - h
        if self.tether_length_m is None:  # (tether margin +inf: min() of the other three is the same)
            return min(polygon, floor, ceiling)
        return min(polygon, floor, ceiling, self.tether_margin_m((pn, pe, pd)))

    def contains(self, point_ned_m: PointLike) -> bool:
        """True when the point is inside (or on) every boundary. NaN is never inside."""
        m = self.margin_m(point_ned_m)
        return m >= 0.0  # NaN compares False

    def boundaries(self, point_ned_m: PointLike, within_m: float) -> list[Boundary]:
        """Boundaries whose signed distance from the point is at most ``within_m`` (see
        :meth:`boundary_rows`, which returns the same as plain tuples, cheaper in the governor's loop)."""
        return [Boundary(limit, normal, dist) for limit, normal, dist in self.boundary_rows(point_ned_m, within_m)]

    def boundary_rows(self, point_ned_m: PointLike, within_m: float) -> list[BoundaryRow]:
        """Boundaries whose signed distance from the point is at most ``within_m``.

        Inside the polygon every edge within reach is returned, with its outward normal taken from the
        point to the nearest point of that edge (so the half-planes through those nearest points bound a
        convex region inside the polygon, also for non-convex polygons). Outside the polygon only the
        nearest edge is returned (normal pointing away from it, i.e. the outward direction). Floor,
        ceiling and tether are returned the same way (tether normal: radial from the anchor).
        """
        pn, pe, pd = float(point_ned_m[0]), float(point_ned_m[1]), float(point_ned_m[2])
        out: list[BoundaryRow] = []
        inside = self._inside_polygon(pn, pe)
        nearest: BoundaryRow | None = None
        for an, ae, bn, be in self._edges:
            qn, qe = _nearest_on_segment(pn, pe, an, ae, bn, be)
            dn, de = qn - pn, qe - pe
            dist = math.hypot(dn, de)
            if dist >= 1e-9 and (dist > within_m if inside else nearest is not None and
                                 -dist <= nearest[2]):
                continue  # would not be returned (shortcut of the rules below)
            if dist < 1e-9:  # on the edge: outward = edge normal, sign from the winding
                en, ee = bn - an, be - ae
                el = math.hypot(en, ee) or 1.0
                nrm = (-ee / el, en / el)
                if self._inside_polygon(pn + 1e-6 * nrm[0], pe + 1e-6 * nrm[1]):
                    nrm = (-nrm[0], -nrm[1])
            elif inside:
                nrm = (dn / dist, de / dist)
            else:
                nrm = (-dn / dist, -de / dist)
            b = (L.FENCE, (nrm[0], nrm[1], 0.0), dist if inside else -dist)
            if inside:
                if dist <= within_m:
                    out.append(b)
            elif nearest is None or b[2] > nearest[2]:
                nearest = b
        if nearest is not None:
            out.append(nearest)
        h = -pd
        if h - self.altitude_floor_m <= within_m:
            out.append((L.ALTITUDE_FLOOR, (0.0, 0.0, 1.0), h - self.altitude_floor_m))
        if self.altitude_ceiling_m - h <= within_m:
            out.append((L.ALTITUDE_CEILING, (0.0, 0.0, -1.0), self.altitude_ceiling_m - h))
        if self.tether_length_m is not None:
            a = self.tether_anchor_ned_m
            rn, re, rd = pn - a[0], pe - a[1], pd - a[2]
            r = math.sqrt(rn * rn + re * re + rd * rd)
            if self.tether_length_m - r <= within_m:
                nrm3 = (rn / r, re / r, rd / r) if r > 1e-9 else (0.0, 0.0, -1.0)
                out.append((L.TETHER, nrm3, self.tether_length_m - r))
        return out

    @staticmethod
    def stopping_point(position_ned_m: PointLike, velocity_ned_mps: PointLike, *,
                       decel_mps2: float, latency_s: float) -> np.ndarray:
        """See :func:`stopping_point`."""
        return stopping_point(position_ned_m, velocity_ned_mps, decel_mps2=decel_mps2, latency_s=latency_s)


def stopping_point(position_ned_m: PointLike, velocity_ned_mps: PointLike, *,
                   decel_mps2: float, latency_s: float) -> np.ndarray:
    """Where the vehicle stops if it keeps ``velocity_ned_mps`` for ``latency_s`` and then brakes along
    its velocity at ``decel_mps2``: ``p + v*latency + v*|v|/(2*decel)``. Returns a (3,) float64 array."""
    if not decel_mps2 > 0.0:
        raise ValueError(f"decel_mps2: must be > 0, got {decel_mps2!r}")
    vn, ve, vd = float(velocity_ned_mps[0]), float(velocity_ned_mps[1]), float(velocity_ned_mps[2])
    speed = math.sqrt(vn * vn + ve * ve + vd * vd)
    k = latency_s + speed / (2.0 * decel_mps2)
    return np.array([float(position_ned_m[0]) + vn * k, float(position_ned_m[1]) + ve * k,
                     float(position_ned_m[2]) + vd * k])


__all__ = ["Boundary", "Geofence", "stopping_point"]
