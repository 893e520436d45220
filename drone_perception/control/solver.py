"""Finds the admissible velocity nearest to a desired one (the governor's projection step).

The admissible set is the intersection of convex sets (see :mod:`drone_perception.control.standoff`):
people half-spaces, fence half-spaces and balls, the speed-cap cylinder and (optionally, when it is
convex) the unobserved-direction set. :meth:`VelocityConstraints.project` runs Dykstra's alternating
projection algorithm, which converges to the Euclidean projection of the desired velocity onto the
intersection (minimum change of the command). Every set is tightened by ``TIGHTEN_MPS`` during the
projection and the result is verified against the untightened sets, so a returned velocity satisfies
every constraint exactly.

When the intersection is empty (someone approaches faster than the vehicle can retreat, or the fence
blocks the retreat), :meth:`VelocityConstraints.best_effort` evaluates a fixed fan of candidate
velocities (hold, climbs, 16 horizontal directions at full and half speed, each level or climbing) plus
the projections onto the fence sets alone, all within the caps, and picks the one that breaks the fence
least (not at all when one can), then has the largest worst-case slack of the people constraints (for a
person inside the standoff: the largest worst-case opening rate, away + up), ties going to the candidate
nearest the desired velocity. Deterministic, no randomness.
"""

from __future__ import annotations

import math

from drone_perception.control.standoff import Ball, HalfSpace, Vec, sector_project

#: Each set is shrunk by this much (m/s) while projecting, so the result verifies exactly.
TIGHTEN_MPS = 1e-5
#: Dykstra sweeps before giving up (each sweep visits every set once; a converged projection stops early). 150
#: was too few for a thin intersection: a climbing vehicle outside its tether (the return half-space, the
#: floor and the speed cylinder nearly tangent) needed ~400, and the governor fell back to a candidate.
MAX_SWEEPS = 1000
#: Sweeps that each move the iterate by the same distance (a cycle: the sets do not meet) before giving up.
STALL_SWEEPS = 20
_FAN_DIRECTIONS = 16


class VelocityConstraints:
    """Hard constraints on one command. ``people`` and ``fence`` are half-space lists, ``balls`` the
    tether sets, ``vh_mps``/``vv_mps`` the horizontal/vertical speed caps; ``sector``/``u_mps`` the
    unobserved-direction set (used only when ``use_sector`` is passed)."""

    __slots__ = ("balls", "fence", "people", "sector", "u_mps", "vh_mps", "vv_mps")

    def __init__(self, people: list[HalfSpace], fence: list[HalfSpace], balls: list[Ball], vh_mps: float,
                 vv_mps: float, sector: tuple[float, float] | None, u_mps: float) -> None:
        self.people = people
        self.fence = fence
        self.balls = balls
        self.vh_mps = vh_mps
        self.vv_mps = vv_mps
        self.sector = sector
        self.u_mps = u_mps

    # -- checks ------------------------------------------------------------------------------------
    def violated(self, v: Vec, tol: float = 0.0) -> list[str]:
        """Names of the people/fence constraints ``v`` violates by more than ``tol`` (caps excluded)."""
        out = []
        for cn, ce, cd, h, name in self.people:
            if cn * v[0] + ce * v[1] + cd * v[2] > h + tol:
                out.append(name)
        for cn, ce, cd, h, name in self.fence:
            if cn * v[0] + ce * v[1] + cd * v[2] > h + tol:
                out.append(name)
        for cn, ce, cd, r, name in self.balls:
            if (v[0] - cn) ** 2 + (v[1] - ce) ** 2 + (v[2] - cd) ** 2 > (r + tol) ** 2:
                out.append(name)
        return out

    def active(self, v: Vec, tol: float) -> list[str]:
        """Names of the people/fence constraints within ``tol`` of their boundary at ``v``."""
        return self.violated(v, -tol)

    def within_caps(self, v: Vec, tol: float = 0.0) -> bool:
        return math.hypot(v[0], v[1]) <= self.vh_mps + tol and abs(v[2]) <= self.vv_mps + tol

    def feasible(self, v: Vec, use_sector: bool, tol: float = 0.0) -> bool:
        if not self.within_caps(v, tol) or self.violated(v, tol):
            return False
        if use_sector:
            s = sector_project(v, self.sector, self.u_mps)
            return abs(s[0] - v[0]) + abs(s[1] - v[1]) <= 2.0 * tol + 1e-12
        return True

    def fence_feasible(self, v: Vec) -> bool:
        for cn, ce, cd, h, _ in self.fence:
            if cn * v[0] + ce * v[1] + cd * v[2] > h:
                return False
        return all((v[0] - cn) ** 2 + (v[1] - ce) ** 2 + (v[2] - cd) ** 2 <= r * r
                   for cn, ce, cd, r, _ in self.balls)

    def people_slack(self, v: Vec) -> float:
        """Smallest ``h - c.v`` over people (+inf without people); negative = violated."""
        worst = math.inf
        for cn, ce, cd, h, _ in self.people:
            s = h - (cn * v[0] + ce * v[1] + cd * v[2])
            if s < worst:
                worst = s
        return worst

    # -- projection --------------------------------------------------------------------------------
    def project(self, v0: Vec, use_sector: bool) -> Vec | None:
        """Dykstra projection of ``v0`` onto the intersection; None if it does not verify (empty
        intersection or no convergence within ``MAX_SWEEPS``)."""
        t = TIGHTEN_MPS
        half = [(cn, ce, cd, h - t) for cn, ce, cd, h, _ in self.people]
        half += [(cn, ce, cd, h - t) for cn, ce, cd, h, _ in self.fence]
        balls = [(cn, ce, cd, max(0.0, r - t)) for cn, ce, cd, r, _ in self.balls]
        vh, vv = max(0.0, self.vh_mps - t), max(0.0, self.vv_mps - t)
        n_sets = len(half) + len(balls) + 1 + (1 if use_sector else 0)
        inc = [[0.0, 0.0, 0.0] for _ in range(n_sets)]
        xn, xe, xd = v0
        last_moved, flat = -1.0, 0
        for _sweep in range(MAX_SWEEPS):
            moved = 0.0
            k = 0
            for cn, ce, cd, h in half:
                q = inc[k]
                yn, ye, yd = xn + q[0], xe + q[1], xd + q[2]
                s = cn * yn + ce * ye + cd * yd - h
                if s > 0.0:
                    yn, ye, yd = yn - s * cn, ye - s * ce, yd - s * cd
                q[0], q[1], q[2] = xn + q[0] - yn, xe + q[1] - ye, xd + q[2] - yd
                moved += abs(yn - xn) + abs(ye - xe) + abs(yd - xd)
                xn, xe, xd = yn, ye, yd
                k += 1
            for cn, ce, cd, r in balls:
                q = inc[k]
                yn, ye, yd = xn + q[0], xe + q[1], xd + q[2]
                dn, de, dd = yn - cn, ye - ce, yd - cd
                dl = math.sqrt(dn * dn + de * de + dd * dd)
                if dl > r:
                    f = r / dl
                    yn, ye, yd = cn + dn * f, ce + de * f, cd + dd * f
                q[0], q[1], q[2] = xn + q[0] - yn, xe + q[1] - ye, xd + q[2] - yd
                moved += abs(yn - xn) + abs(ye - xe) + abs(yd - xd)
                xn, xe, xd = yn, ye, yd
                k += 1
            # speed-cap cylinder (a product set: project each part)
            q = inc[k]
            yn, ye, yd = xn + q[0], xe + q[1], xd + q[2]
            sp = math.hypot(yn, ye)
            if sp > vh:
                yn, ye = yn * vh / sp, ye * vh / sp
            yd = vv if yd > vv else (-vv if yd < -vv else yd)
            q[0], q[1], q[2] = xn + q[0] - yn, xe + q[1] - ye, xd + q[2] - yd
            moved += abs(yn - xn) + abs(ye - xe) + abs(yd - xd)
            xn, xe, xd = yn, ye, yd
            k += 1
            if use_sector:
                q = inc[k]
                yn, ye, yd = sector_project((xn + q[0], xe + q[1], xd + q[2]), self.sector,
                                            max(0.0, self.u_mps - t))
                q[0], q[1], q[2] = xn + q[0] - yn, xe + q[1] - ye, xd + q[2] - yd
                moved += abs(yn - xn) + abs(ye - xe) + abs(yd - xd)
                xn, xe, xd = yn, ye, yd
            if moved < 1e-12:
                break
            # An empty intersection never converges: the iterate cycles between the sets and moves the same
            # distance every sweep. Stop after STALL_SWEEPS such sweeps instead of MAX_SWEEPS (a converging
            # projection, however thin its sets, moves less each sweep); the result is verified below anyway.
            flat = flat + 1 if abs(moved - last_moved) <= 1e-12 * max(1.0, moved) else 0
            if flat >= STALL_SWEEPS:
                break
            last_moved = moved
        x = (xn, xe, xd)
        return x if self.feasible(x, use_sector) else None

    # -- infeasible case ---------------------------------------------------------------------------
    def candidates(self) -> list[Vec]:
        """The fixed fan of candidate velocities, all within the caps (negative down = climb)."""
        vh, vv = self.vh_mps, self.vv_mps
        out: list[Vec] = [(0.0, 0.0, 0.0), (0.0, 0.0, -vv), (0.0, 0.0, -0.5 * vv)]
        for i in range(_FAN_DIRECTIONS):
            ang = 2.0 * math.pi * i / _FAN_DIRECTIONS
            c, s = math.cos(ang), math.sin(ang)
            for sp in (vh, 0.5 * vh):
                for vd in (0.0, -vv, -0.5 * vv):
                    out.append((c * sp, s * sp, vd))
        return out

    def fence_candidates(self, v0: Vec) -> list[Vec]:
        """Projections of ``v0`` and of the hardest climb onto the fence sets and caps alone (people left out).

        The fixed fan can miss a thin fence set: a vehicle settling below the floor with a ceiling near enough
        that neither hold nor a full climb keeps the stopping point inside (the floor demands a climb of at
        least 0.5 m/s, the ceiling allows at most 1.9). These projections find such a set whenever it is not
        empty, so the feasibility check and the best effort do not mistake it for an empty one."""
        fence_only = VelocityConstraints([], self.fence, self.balls, self.vh_mps, self.vv_mps, None, 0.0)
        out = []
        for v in (v0, (0.0, 0.0, -self.vv_mps)):
            x = fence_only.project(v, use_sector=False)
            if x is not None:
                out.append(x)
        return out

    def fence_violation(self, v: Vec) -> float:
        """Largest amount (m/s) by which ``v`` breaks a fence set; 0 when it keeps every one."""
        worst = 0.0
        for cn, ce, cd, h, _ in self.fence:
            worst = max(worst, cn * v[0] + ce * v[1] + cd * v[2] - h)
        for cn, ce, cd, r, _ in self.balls:
            worst = max(worst, math.sqrt((v[0] - cn) ** 2 + (v[1] - ce) ** 2 + (v[2] - cd) ** 2) - r)
        return worst

    def best_effort(self, v0: Vec, extra: list[Vec]) -> Vec:
        """The candidate that breaks the fence least (not at all when any can), then has the largest worst-case
        people slack (see module doc), then is nearest ``v0``. ``extra`` candidates (e.g. a near-converged
        projection) are considered too when within caps, and so are :meth:`fence_candidates`. Zero has no
        privilege: when a fence return demands motion, a hold that breaks it loses to a climb that breaks it
        less (a vehicle sinking through the floor with the ceiling near, say)."""
        best: Vec = (0.0, 0.0, 0.0)
        best_key = (-math.inf, -math.inf, -math.inf)
        for v in [*extra, *self.fence_candidates(v0), *self.candidates()]:
            if not self.within_caps(v):
                continue
            key = (-self.fence_violation(v), self.people_slack(v),
                   -((v[0] - v0[0]) ** 2 + (v[1] - v0[1]) ** 2 + (v[2] - v0[2]) ** 2))
            if (key[0] > best_key[0] + 1e-9
                    or (abs(key[0] - best_key[0]) <= 1e-9
                        and (key[1] > best_key[1] + 1e-9
                             or (abs(key[1] - best_key[1]) <= 1e-9 and key[2] > best_key[2])))):
                best, best_key = v, key
        return best


__all__ = ["MAX_SWEEPS", "STALL_SWEEPS", "TIGHTEN_MPS", "VelocityConstraints"]
