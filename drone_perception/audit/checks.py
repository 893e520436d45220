"""Charter invariants checked against a flight record: geometry (standoff, fence, speed caps) here,
command-stream invariants in :mod:`drone_perception.audit.checks_commands`.

:func:`run_checks` is the entry point. Every check returns ``pass`` only when the record holds evidence
for it; no evidence gives ``unverifiable``, nothing to check (nothing sent, never engaged) ``not_exercised``
(neither is a pass). Ground truth (/sim/truth) is preferred; without it the stack's own estimates are used
and the result says so (``basis``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from drone_perception.audit.checks_commands import (
    check_allowlist,
    check_commands_expire,
    check_evidence,
    check_exercised,
    check_no_commands_while_disengaged,
    check_operator_in_command,
    check_tether_or_sim,
)
from drone_perception.audit.model import AuditVerdict, CheckResult, Status, downgrade_if_partial
from drone_perception.audit.series import (
    Context,
    StepSeries,
    build_context,
    distance_to_bodies_m,
    fence_margin_m,
    sent_setpoints,
    vec,
)
from drone_perception.config import limits as L
from drone_perception.record import topics
from drone_perception.record.reader import FlightLog

#: Truth speed may exceed a cap by this much (the autopilot's velocity loop overshoots a step a little).
TRUTH_SPEED_TOLERANCE_MPS = 0.25
#: Margins are compared with this tolerance (float noise).
EPS = 1e-6


@dataclass(frozen=True)
class Separation:
    """Separation over time: ``subject_m`` to the subject's body, ``nearest_m`` to any person's body."""

    t_s: np.ndarray
    subject_m: np.ndarray
    nearest_m: np.ndarray
    basis: str


def separation_series(log: FlightLog) -> Separation | None:
    """From ground truth when recorded, else from /estimate/people against /vehicle/state.

    Samples where the vehicle is known to be disarmed are left out (on the ground before take-off the
    operator stands next to it)."""
    armed = StepSeries([(s, bool(m.get("armed", True))) for s, m in log.get(topics.VEHICLE)])
    ts: list[float] = []
    subj: list[float] = []
    near: list[float] = []
    truth = log.get(topics.TRUTH)
    if truth:
        basis = "ground truth (/sim/truth)"
        for s, m in truth:
            people = m.get("people") or []
            if not people or not armed.at(s, True):
                continue
            feet = np.array([vec(p.get("position_ned_m")) for p in people])
            d = distance_to_bodies_m(vec(m.get("vehicle_position_ned_m")), feet)
            is_subj = np.array([bool(p.get("is_subject")) for p in people])
            ts.append(s)
            near.append(float(np.nanmin(d)) if np.any(np.isfinite(d)) else math.nan)
            subj.append(float(np.nanmin(d[is_subj])) if np.any(is_subj & np.isfinite(d)) else math.nan)
    else:
        basis = "estimated (/estimate/people vs /vehicle/state; no ground truth in this record)"
        vehicle = StepSeries([(s, vec(m.get("position_ned_m"))) for s, m in log.get(topics.VEHICLE)])
        for s, m in log.get(topics.PEOPLE):
            pos = m.get("position_ned_m") or []
            v = vehicle.at(s)
            if not pos or v is None or not armed.at(s, True):
                continue
            feet = np.array([vec(p) for p in pos])
            d = distance_to_bodies_m(v, feet)
            is_subj = np.array(m.get("is_subject") or [False] * len(pos), dtype=bool)
            if is_subj.shape != d.shape:
                is_subj = np.zeros(d.shape, bool)
            ts.append(s)
            near.append(float(np.nanmin(d)) if np.any(np.isfinite(d)) else math.nan)
            subj.append(float(np.nanmin(d[is_subj])) if np.any(is_subj & np.isfinite(d)) else math.nan)
    if not ts:
        return None
    return Separation(np.array(ts), np.array(subj), np.array(near), basis)


def check_standoff(log: FlightLog, ctx: Context) -> CheckResult:
    """Charter 1: 3D distance to every person's 2 m body >= min_standoff_m at all times."""
    title, item = "Standoff from every person", 1
    sep = separation_series(log)
    standoff = ctx.standoff_m
    if sep is None or not np.any(np.isfinite(sep.nearest_m)):
        return CheckResult("standoff", title, item, Status.UNVERIFIABLE,
                           "no person positions recorded (no /sim/truth people and no /estimate/people with "
                           "anyone in them): separation cannot be evaluated", unit="m")
    i = int(np.nanargmin(sep.nearest_m))
    worst = float(sep.nearest_m[i])
    n = int(np.sum(np.isfinite(sep.nearest_m)))
    if standoff is None:
        if worst < L.HARD_MIN_STANDOFF_M - EPS:
            return CheckResult("standoff", title, item, Status.FAIL,
                               f"configured standoff unknown (no /meta config), but the closest approach "
                               f"{worst:.2f} m is below the hard floor {L.HARD_MIN_STANDOFF_M} m",
                               worst - L.HARD_MIN_STANDOFF_M, "m", float(sep.t_s[i]), sep.basis, 1, n)
        return CheckResult("standoff", title, item, Status.UNVERIFIABLE,
                           f"configured standoff unknown (no /meta config); closest approach {worst:.2f} m "
                           f"(>= hard floor {L.HARD_MIN_STANDOFF_M} m)", None, "m", float(sep.t_s[i]), sep.basis,
                           0, n)
    margin = sep.nearest_m - standoff
    bad = int(np.sum(margin < -EPS))
    status = Status.FAIL if bad else Status.PASS
    detail = (f"closest approach {worst:.2f} m to a person's body (standoff {standoff:.1f} m) at t={sep.t_s[i]:.2f} s"
              + (f"; {bad} of {n} samples inside the standoff" if bad else f" over {n} samples"))
    return CheckResult("standoff", title, item, status, detail, worst - standoff, "m", float(sep.t_s[i]),
                       sep.basis, bad, n)


def check_fence(log: FlightLog, ctx: Context) -> CheckResult:
    """Charter 5: while the stack is in control, the predicted stopping point (and the vehicle) stay
    inside the polygon, between floor and ceiling, and within the tether radius."""
    title, item = "Geofence on the stopping point", 5
    if not ctx.fence:
        return CheckResult("fence", title, item, Status.UNVERIFIABLE, "no /fence (or fence config) recorded",
                           unit="m")
    if len(ctx.engaged) == 0:
        return CheckResult("fence", title, item, Status.UNVERIFIABLE,
                           "engagement state unknown (no operator input or governor flag recorded)", unit="m")
    worst = (math.inf, math.nan, "")
    bad = n = 0
    bases = []
    sources: list[tuple[str, list[tuple[float, np.ndarray]]]] = [
        ("stopping point", [(s, vec(m.get("stopping_point_ned_m"))) for s, m in log.get(topics.SAFE)])]
    truth = log.get(topics.TRUTH)
    if truth:
        sources.append(("vehicle (ground truth)", [(s, vec(m.get("vehicle_position_ned_m"))) for s, m in truth]))
    else:
        sources.append(("vehicle (estimated)", [(s, vec(m.get("position_ned_m"))) for s, m in log.get(topics.VEHICLE)]))
    for name, samples in sources:
        used = 0
        for s, p in samples:
            if not ctx.engaged.at(s, False) or not np.all(np.isfinite(p)):
                continue
            margin, which = fence_margin_m(p, ctx.fence)
            if not math.isfinite(margin):
                continue
            used += 1
            bad += int(margin < -EPS)
            if margin < worst[0]:
                worst = (margin, s, f"{name}, {which}")
        n += used
        if used:
            bases.append(name)
    if n == 0:
        if any(ctx.engaged.values):
            return CheckResult("fence", title, item, Status.UNVERIFIABLE,
                               "follow was engaged but no stopping point or vehicle position was recorded", unit="m")
        return CheckResult("fence", title, item, Status.NOT_EXERCISED,
                           "follow was never engaged: the stack commanded nothing", basis=ctx.engaged_source)
    detail = f"worst margin {worst[0]:.2f} m ({worst[2]}) at t={worst[1]:.2f} s over {n} engaged samples"
    if bad:
        detail += f"; {bad} samples outside the fence"
    return CheckResult("fence", title, item, Status.FAIL if bad else Status.PASS, detail, worst[0], "m",
                       worst[1], " + ".join(bases), bad, n)


def check_speed_caps(log: FlightLog, ctx: Context) -> CheckResult:
    """Charter 5: commanded (and, in simulation, true) horizontal/vertical speed and yaw rate within
    the configured caps."""
    title, item = "Speed and yaw-rate caps", 5
    caps = {k: ctx.cap(k) for k in ("max_horizontal_speed_mps", "max_vertical_speed_mps", "max_yaw_rate_radps")}
    known = all(v is not None for v in caps.values())
    cap_h = caps["max_horizontal_speed_mps"] or L.HARD_MAX_HORIZONTAL_SPEED_MPS
    cap_v = caps["max_vertical_speed_mps"] or L.HARD_MAX_VERTICAL_SPEED_MPS
    cap_y = caps["max_yaw_rate_radps"] or L.HARD_MAX_YAW_RATE_RADPS
    sps, basis = sent_setpoints(log)
    rows: list[tuple[float, float, str]] = []  # (margin m/s or rad/s, t, what)
    for sp in sps:
        v = sp.velocity_ned_mps
        if np.all(np.isfinite(v)):
            rows.append((cap_h - float(np.hypot(v[0], v[1])), sp.stamp_s, "commanded horizontal"))
            rows.append((cap_v - abs(float(v[2])), sp.stamp_s, "commanded vertical"))
        if math.isfinite(sp.yaw_rate_radps):
            rows.append((cap_y - abs(sp.yaw_rate_radps), sp.stamp_s, "commanded yaw rate (rad/s)"))
    truth = log.get(topics.TRUTH)
    for s, m in truth:
        v = vec(m.get("vehicle_velocity_ned_mps"))
        if ctx.engaged.at(s, False) and np.all(np.isfinite(v)):
            rows.append((cap_h + TRUTH_SPEED_TOLERANCE_MPS - float(np.hypot(v[0], v[1])), s, "true horizontal"))
            rows.append((cap_v + TRUTH_SPEED_TOLERANCE_MPS - abs(float(v[2])), s, "true vertical"))
    if truth:
        basis += f" + ground-truth speed while engaged (tolerance {TRUTH_SPEED_TOLERANCE_MPS} m/s)"
    if not rows:
        if sps or not (log.get(topics.SAFE) or log.get(topics.MAVLINK_OUT)):
            return CheckResult("speed_caps", title, item, Status.UNVERIFIABLE,
                               "no commanded or true velocities recorded", unit="m/s")
        return CheckResult("speed_caps", title, item, Status.NOT_EXERCISED, "no setpoints were sent (and no "
                           "ground-truth speed while engaged): no speed to check", basis=basis)
    speed_rows = [r for r in rows if "yaw" not in r[2]] or rows
    worst = min(speed_rows, key=lambda r: r[0])  # the margin is reported in m/s; yaw only counts
    bad = sum(1 for r in rows if r[0] < -EPS)
    yaw = [r for r in rows if "yaw" in r[2]]
    if yaw:
        worst_yaw = min(yaw, key=lambda r: r[0])
        caps_note = f"; worst yaw-rate margin {worst_yaw[0]:.3f} rad/s at t={worst_yaw[1]:.2f} s"
    else:
        caps_note = ""
    caps_txt = f"caps {cap_h:.1f} m/s horizontal, {cap_v:.1f} m/s vertical, {cap_y:.2f} rad/s yaw"
    detail = f"worst margin {worst[0]:.3f} m/s ({worst[2]}) at t={worst[1]:.2f} s{caps_note}; {caps_txt}"
    if bad:
        detail += f"; {bad} samples over a cap"
    if not known:
        detail += "; configured caps unknown (no /meta config): checked against the hard maxima only"
        status = Status.FAIL if bad else Status.UNVERIFIABLE
    else:
        status = Status.FAIL if bad else Status.PASS
    return CheckResult("speed_caps", title, item, status, detail, worst[0], "m/s", worst[1], basis, bad, len(rows))


def run_checks(log: FlightLog) -> AuditVerdict:
    """Every charter invariant against ``log``. Passes over a damaged record become unverifiable."""
    ctx = build_context(log)
    results = [
        check_standoff(log, ctx),
        check_no_commands_while_disengaged(log, ctx),
        check_operator_in_command(log, ctx),
        check_commands_expire(log, ctx),
        check_fence(log, ctx),
        check_speed_caps(log, ctx),
        check_allowlist(log, ctx),
        check_tether_or_sim(log, ctx),
        check_exercised(log, ctx),
    ]
    partial = None
    if not log.complete or log.problems:
        span = log.time_span_s
        upto = f" (readable up to t={span[1]:.2f} s)" if span else ""
        partial = f"the record is incomplete or damaged{upto}: what followed cannot be checked"
    results = [downgrade_if_partial(r, partial) for r in results]
    results.append(check_evidence(log, ctx))
    return AuditVerdict(record=str(log.path), results=tuple(results), problems=log.problems,
                        span_s=log.time_span_s, record_complete=log.complete, provenance=_provenance(ctx.meta))


def _provenance(meta: dict[str, Any] | None) -> dict[str, Any]:
    """What produced the run, as the record says (stack version and commit, config sha256, model sha256, seed,
    scenario, autopilot), and the version of the audit itself."""
    from drone_perception.version import version_text

    m = meta or {}
    run = dict(m.get("provenance") or {})
    for key in ("seed", "scenario", "link", "autopilot", "source"):
        if m.get(key) is not None:
            run[key] = m[key]
    if not run:
        run["record"] = "no provenance in the record (older than this stack version, or /meta missing)"
    run["audited_by"] = version_text()
    return run
