"""The governor's hard constraints on the commanded velocity, as simple convex sets in velocity space.

Everything here is plain-Python math on 3-tuples (NED, m/s): at this size it is several times faster
than numpy. Sets:

* **half-space** ``(cn, ce, cd, h, limit)``: ``c . v <= h`` with ``|c| = 1``;
* **ball** ``(cn, ce, cd, radius, limit)``: ``|v - centre| <= radius`` (the tether);
* **cylinder** of the speed caps: ``|v_horizontal| <= vh`` and ``|v_down| <= vv``;
* **sector** set of the unobserved-direction cap: the horizontal velocity is within ``u`` of the observed
  cone (the part of it pointing outside the observed sector is at most ``u``).

People (charter item 1). A person is a vertical segment from the foot point up ``PERSON_HEIGHT_M``, standing on
the ground anywhere within a horizontal disc of radius ``k*sigma`` (``k = UNCERTAINTY_SIGMAS``) around the
estimate. With ``n`` the unit vector from the nearest point of those segments to the vehicle, the distance
``d`` to it, the budget ``b = d - standoff`` and
``T`` the time the last command may keep flying, the allowed closing speed is
``v_allow = -a*T + sqrt((a*T)^2 + 2*a*b)`` for ``b > 0`` and ``max(b / STANDOFF_RECOVERY_S,
-STANDOFF_RECOVERY_MAX_MPS)`` otherwise (an opening speed that gets the vehicle out; a = braking deceleration):
closing at ``v_allow`` for ``T`` and then braking at ``a`` uses exactly the budget (tightened to
``b / (T + S/(2a))`` where that is smaller, see :func:`allowed_closing_speed`). The relative closing
speed must not exceed it: ``(v - v_person) . (-n) <= v_allow``, i.e. the half-space
``(-n) . v <= v_allow - n . v_person - g |n_horizontal|``, where ``g`` is the speed at which an unseen person's
disc may grow toward the vehicle (the design person speed; 0 for a person seen now): an unseen person is never
credited with leaving. A person coming at the vehicle faster than ``v_allow`` makes this half-space exclude
zero: the vehicle is then *required* to move away (or up).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from drone_perception.config.limits import PERSON_HEIGHT_M
from drone_perception.control import limits as L
from drone_perception.control.geofence import Geofence
from drone_perception.geometry import wrap_angle_rad

Vec = tuple[float, float, float]
HalfSpace = tuple[float, float, float, float, str]
Ball = tuple[float, float, float, float, str]

#: Position uncertainty (1-sigma) is multiplied by this before it is subtracted from the distance.
UNCERTAINTY_SIGMAS = 2.0
#: Margin (m) kept from the fence by the predicted stopping point: what commanded-but-not-achieved motion
#: (gusts the vehicle rejects only after a lag, the altitude controller's error) may add to the prediction.
#: With 5 cm the strong-gust search drifted the vehicle 0.05-0.27 m out (#12 item 6).
FENCE_EPS_M = 0.5
#: Inside that margin or outside the fence the vehicle is steered back at this rate per metre (1/s) ...
FENCE_RETURN_GAIN_PER_S = 1.0
#: ... at up to this speed (m/s): a vehicle pushed out is brought back, not merely stopped from going further.
FENCE_RETURN_MAX_MPS = 1.0
#: Margin (m) kept from the standoff by the stopping budget. Each period constrains the closing speed along the
#: current direction to the person (a linearisation of the body's surface) and the vehicle flies between
#: periods, so an approach that ends exactly on the boundary could cross it by millimetres (Hypothesis found
#: 1.6 mm in tests/drone_perception/control/test_governor_closed_loop.py); this margin absorbs that.
STANDOFF_EPS_M = 0.05
#: Inside the standoff (budget ``b < 0``: a person, or the disc they may be in, already nearer than it) the
#: vehicle must open the distance at ``-b / STANDOFF_RECOVERY_S`` at least, not merely stop closing: hovering
#: over a person who may be under the vehicle is not safe, climbing out is.
STANDOFF_RECOVERY_S = 1.0
#: ... but never faster than this (m/s): deep inside a wide disc the demand stays one the vehicle can meet.
STANDOFF_RECOVERY_MAX_MPS = 1.0
#: Margin (rad) taken off each side of the observed sector (the image edges count as unobserved).
SECTOR_MARGIN_RAD = 0.1


def allowed_closing_speed(budget_m: float, decel_mps2: float, horizon_s: float,
                          max_speed_mps: float | None = None) -> float:
    """Allowed closing speed (m/s) for a stopping budget (m), braking deceleration (m/s^2), horizon T
    (s) and the largest commanded speed S (m/s); 0 for ``budget_m <= 0``.

    ``min(-a*T + sqrt((a*T)^2 + 2*a*b), b / (T + S/(2a)))``. The first term assumes braking along the
    direction to the person; a vehicle that brakes along its velocity vector at ``a`` slows its closing
    component ``c`` only at ``a*c/|v|`` and travels ``c*|v|/(2a)`` towards the person while stopping,
    which the second term bounds for every ``|v| <= S``. ``max_speed_mps=None``: the first term only.
    """
    if not budget_m > 0.0:
        return 0.0
    at = decel_mps2 * horizon_s
    v = -at + math.sqrt(at * at + 2.0 * decel_mps2 * budget_m)
    if max_speed_mps is None:
        return v
    return min(v, budget_m / (horizon_s + max_speed_mps / (2.0 * decel_mps2)))


def _nearest_body_point(p: Vec, foot: Vec, radius_m: float) -> tuple[float, float, float]:
    """Offset (n, e, d) from the nearest point of a person's possible bodies to ``p``: every vertical segment
    from a foot point within ``radius_m`` horizontally of ``foot`` (same height) up ``PERSON_HEIGHT_M``."""
    top_d = foot[2] - PERSON_HEIGHT_M
    qd = top_d if p[2] < top_d else (foot[2] if p[2] > foot[2] else p[2])
    hn, he = p[0] - foot[0], p[1] - foot[1]
    dh = math.sqrt(hn * hn + he * he)
    if dh > radius_m:
        k = (dh - radius_m) / dh
        return hn * k, he * k, p[2] - qd
    return 0.0, 0.0, p[2] - qd


def person_halfspace(p: Vec, foot: Vec, vel: Vec, sigma_m: float, *, standoff_m: float,
                     decel_mps2: float, horizon_s: float, max_speed_mps: float | None = None,
                     growth_mps: float = 0.0) -> tuple[HalfSpace, float, float]:
    """The half-space of one person, the 3D distance of the vehicle to the nearest body the person may have
    and the budget ``b`` (m). The person stands on the ground at ``foot`` (NED) within a horizontal disc of
    radius ``UNCERTAINTY_SIGMAS * sigma_m``, moves at ``vel`` and (``growth_mps`` > 0, a person not seen now)
    the disc's edge may also come at the vehicle at ``growth_mps`` in any horizontal direction, which matters
    only below the person's ground-safe height (the reference for :func:`people_halfspaces`)."""
    dn, de, dd = _nearest_body_point(p, foot, UNCERTAINTY_SIGMAS * max(sigma_m, 0.0))
    dist = math.sqrt(dn * dn + de * de + dd * dd)
    if dist > 1e-6:
        nn, ne, nd = dn / dist, de / dist, dd / dist
    else:  # on a possible body: away = up
        nn, ne, nd = 0.0, 0.0, -1.0
    budget = dist - standoff_m - STANDOFF_EPS_M
    if budget > 0.0:
        v_allow = allowed_closing_speed(budget, decel_mps2, horizon_s, max_speed_mps)
    else:
        v_allow = max(budget / STANDOFF_RECOVERY_S, -STANDOFF_RECOVERY_MAX_MPS)
    h = v_allow - (nn * vel[0] + ne * vel[1] + nd * vel[2])
    if growth_mps > 0.0 and (foot[2] - PERSON_HEIGHT_M) - p[2] < standoff_m + STANDOFF_EPS_M:
        h -= growth_mps * math.sqrt(nn * nn + ne * ne)
    return (-nn, -ne, -nd, h, L.STANDOFF if budget <= 0.0 else L.CLOSING_SPEED), dist, budget


#: One person for :func:`people_halfspaces`: (foot point NED, velocity NED, 1-sigma uncertainty m, extra
#: uncertainty radius m, boundary growth m/s: the speed at which the edge of an unseen person's disc may come
#: at the vehicle, 0 for a person seen now).
PersonRow = tuple[Sequence[float], Sequence[float], float, float, float]


def people_halfspaces(rows: list[PersonRow], p_act: Vec, p: Vec, *, age_s: float, latency_s: float,
                      growth_mps: float, standoff_m: float, decel_mps2: float, horizon_s: float,
                      max_speed_mps: float, stop_s: float = 0.0) -> tuple[list[HalfSpace], float | None]:
    """:func:`person_halfspace` for many people, inlined (about 3x faster than calling it per person).

    Each person is first predicted ``age_s`` ahead (the data's age) and their disc grows by
    ``growth_mps * age_s`` (they may have run anywhere at the design speed); the half-space is built for the
    vehicle at ``p_act`` and the person predicted another ``latency_s`` ahead (where both are when the command
    takes effect). An unseen person's disc (row growth ``g`` > 0) is also grown by ``g * (latency_s + stop_s)``,
    where they may be by the time the vehicle has stopped (``stop_s`` bounds the stopping time), and its edge
    may keep coming at ``g`` (the ``g |n_horizontal|`` term) while the vehicle is below the person's ground-safe
    height (``standoff_m`` above the head): above it no disc can ever bring a body within the standoff. The
    uncertainty is
    horizontal: people stand on the ground, so the nearest possible body is the vertical segment on the disc's
    nearest point (a vehicle above the ground-safe height is outside every disc's standoff, however wide).
    Half-spaces that cannot bind below ``max_speed_mps`` are dropped. Also returns the smallest 3D separation
    of ``p`` from a body now at its estimated position (None without people), nothing subtracted.
    """
    a, T, k = decel_mps2, horizon_s, UNCERTAINTY_SIGMAS
    at = a * T
    lin = T + max_speed_mps / (2.0 * a)
    top, lat, age = PERSON_HEIGHT_M, latency_s, age_s
    grow = growth_mps * age
    bound = max_speed_mps + 1.0
    halfspaces: list[HalfSpace] = []
    append = halfspaces.append
    sqrt = math.sqrt
    min_sep2 = math.inf
    p0, p1, p2 = p[0], p[1], p[2]
    a0, a1, a2 = p_act[0], p_act[1], p_act[2]
    closing, standoff = L.CLOSING_SPEED, L.STANDOFF
    for pos, vel, sig, extra, g in rows:
        vn, ve, vd = vel[0], vel[1], vel[2]
        fn, fe, fd = pos[0] + vn * age, pos[1] + ve * age, pos[2] + vd * age
        ft = fd - top
        qd = p2 if ft <= p2 <= fd else (ft if p2 < ft else fd)
        sn, se, sd = p0 - fn, p1 - fe, p2 - qd
        d2 = sn * sn + se * se + sd * sd
        if d2 < min_sep2:
            min_sep2 = d2
        fn, fe, fd = fn + vn * lat, fe + ve * lat, fd + vd * lat
        ft = fd - top
        qd = a2 if ft <= a2 <= fd else (ft if a2 < ft else fd)
        radius = k * (sig if sig > 0.0 else 0.0) + grow + extra + g * (lat + stop_s)
        hn, he, dd = a0 - fn, a1 - fe, a2 - qd
        dh = sqrt(hn * hn + he * he)
        if dh > radius:
            r = (dh - radius) / dh
            dn, de = hn * r, he * r
        else:
            dn = de = 0.0
        dist = sqrt(dn * dn + de * de + dd * dd)
        if dist > 1e-6:
            nn, ne, nd = dn / dist, de / dist, dd / dist
        else:
            nn, ne, nd = 0.0, 0.0, -1.0
        budget = dist - standoff_m - STANDOFF_EPS_M
        if budget > 0.0:
            v1, v2 = -at + sqrt(at * at + 2.0 * a * budget), budget / lin
            v_allow = v2 if v2 < v1 else v1  # min(v1, v2)
            name = closing
        else:
            v_allow, name = max(budget / STANDOFF_RECOVERY_S, -STANDOFF_RECOVERY_MAX_MPS), standoff
        h = v_allow - (nn * vn + ne * ve + nd * vd)
        if g > 0.0 and ft - a2 < standoff_m + STANDOFF_EPS_M:
            # Below this person's ground-safe height the growing disc can reach the standoff: its edge comes at
            # up to g, so the vehicle must open the distance at that rate (climbing does). Above it the nearest
            # possible body is at most straight below, farther than the standoff however far the disc grows.
            h -= g * sqrt(nn * nn + ne * ne)
        if h < bound:
            append((-nn, -ne, -nd, h, name))
    return halfspaces, (math.sqrt(min_sep2) if rows else None)


def fence_sets(fence: Geofence, p: Vec, tau_s: float, reach_m: float,
               return_max_mps: float = FENCE_RETURN_MAX_MPS,
               eps_m: float = FENCE_EPS_M) -> tuple[list[HalfSpace], list[Ball]]:
    """Constraints keeping the point ``p + v*tau_s`` inside the fence by ``eps_m`` (at least ``FENCE_EPS_M``; the
    governor adds its disturbance allowance).

    ``tau_s`` must bound ``T + |v|/(2a)`` for every admissible ``v`` (the stopping point of ``v`` then
    lies on the segment from ``p`` to ``p + v*tau_s``, and each set is convex and contains ``p``, so
    the stopping point is inside too). Boundaries farther than ``reach_m`` are skipped. Where the vehicle
    is already within ``eps_m`` of a boundary or outside it, the set demands moving back in at
    ``FENCE_RETURN_GAIN_PER_S`` per metre short of the margin, at most ``return_max_mps`` (zero velocity
    is then not admissible: the vehicle is steered back, #12 item 6); the tether likewise.
    """
    halfspaces: list[HalfSpace] = []
    balls: list[Ball] = []
    for limit, normal, distance_m in fence.boundary_rows(p, reach_m):
        if limit == L.TETHER:
            a = fence.tether_anchor_ned_m
            length = fence.tether_length_m or 0.0
            r = length - distance_m  # the vehicle's distance from the anchor
            short = r - (length - eps_m)
            if short <= 0.0:
                balls.append(((a[0] - p[0]) / tau_s, (a[1] - p[1]) / tau_s, (a[2] - p[2]) / tau_s,
                              max(length - eps_m, 0.0) / tau_s, L.TETHER))
            else:  # outside the margin: back toward the anchor, as a half-space along the anchor direction
                un, ue, ud = (a[0] - p[0]) / r, (a[1] - p[1]) / r, (a[2] - p[2]) / r
                back = min(FENCE_RETURN_GAIN_PER_S * short, return_max_mps)
                halfspaces.append((-un, -ue, -ud, -back, L.TETHER))
        else:
            slack = distance_m - eps_m
            rhs = slack / tau_s if slack >= 0.0 else max(FENCE_RETURN_GAIN_PER_S * slack, -return_max_mps)
            halfspaces.append((normal[0], normal[1], normal[2], rhs, limit))
    return halfspaces, balls


def sector_project(v: Vec, sector: tuple[float, float] | None, u_mps: float) -> Vec:
    """Cap the horizontal part of ``v`` that points outside the observed sector at ``u_mps``.

    ``sector`` is ``(center_yaw_rad, half_width_rad)`` (yaw 0 = north, positive east); it is narrowed
    by ``SECTOR_MARGIN_RAD``. ``None`` means nothing is observed (the whole horizontal speed is capped).
    The nearest point of the observed cone is kept and the remainder is shortened to ``u_mps``; for a
    sector no wider than pi this is the Euclidean projection onto a convex set.
    """
    vn, ve = v[0], v[1]
    sp = math.hypot(vn, ve)
    if sp <= u_mps:
        return v
    if sector is None or sector[1] - SECTOR_MARGIN_RAD <= 0.0:
        k = u_mps / sp
        return (vn * k, ve * k, v[2])
    center, half = sector[0], sector[1] - SECTOR_MARGIN_RAD
    if half >= math.pi:
        return v
    delta = wrap_angle_rad(math.atan2(ve, vn) - center)
    if abs(delta) <= half:
        return v
    edge = center + (half if delta > 0.0 else -half)
    en, ee = math.cos(edge), math.sin(edge)
    along = max(0.0, vn * en + ve * ee)
    qn, qe = along * en, along * ee
    rn, re = vn - qn, ve - qe
    rl = math.hypot(rn, re)
    if rl <= u_mps:
        return v
    k = u_mps / rl
    return (qn + rn * k, qe + re * k, v[2])


def sector_is_convex(sector: tuple[float, float] | None) -> bool:
    return sector is None or sector[1] - SECTOR_MARGIN_RAD <= math.pi / 2.0


def as_vec(a: Sequence[float]) -> Vec:
    return (float(a[0]), float(a[1]), float(a[2]))


__all__ = [
    "FENCE_EPS_M",
    "FENCE_RETURN_GAIN_PER_S",
    "FENCE_RETURN_MAX_MPS",
    "SECTOR_MARGIN_RAD",
    "STANDOFF_EPS_M",
    "STANDOFF_RECOVERY_MAX_MPS",
    "STANDOFF_RECOVERY_S",
    "UNCERTAINTY_SIGMAS",
    "Ball",
    "HalfSpace",
    "PersonRow",
    "Vec",
    "allowed_closing_speed",
    "as_vec",
    "fence_sets",
    "people_halfspaces",
    "person_halfspace",
    "sector_is_convex",
    "sector_project",
]
