"""The report's figures, rendered with matplotlib (Agg) to PNG and returned base64-encoded so the HTML
embeds them (no files beside the report, nothing fetched when viewing it).

Each function returns None when the record has nothing to draw; the report then says so.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from drone_perception.audit.checks import TRUTH_SPEED_TOLERANCE_MPS, separation_series
from drone_perception.audit.series import Context, sent_setpoints, vec
from drone_perception.record import topics
from drone_perception.record.reader import FlightLog

_DPI = 90


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _engaged_spans(ctx: Context, t_end: float) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []
    start = None
    for s, v in zip(ctx.engaged.stamps, ctx.engaged.values):
        if v and start is None:
            start = s
        elif not v and start is not None:
            spans.append((start, s))
            start = None
    if start is not None:
        spans.append((start, t_end))
    return spans


def _shade_engaged(ax: Any, ctx: Context, t_end: float) -> None:
    for i, (a, b) in enumerate(_engaged_spans(ctx, t_end)):
        ax.axvspan(a, b, color="tab:green", alpha=0.08, label="follow engaged" if i == 0 else None)


def separation_plot(log: FlightLog, ctx: Context) -> str | None:
    sep = separation_series(log)
    if sep is None:
        return None
    fig, ax = plt.subplots(figsize=(9, 3.6))
    _shade_engaged(ax, ctx, float(sep.t_s[-1]))
    ax.plot(sep.t_s, sep.subject_m, color="tab:blue", lw=1.4, label="to subject")
    ax.plot(sep.t_s, sep.nearest_m, color="tab:orange", lw=1.0, ls="--", label="to nearest person")
    if ctx.standoff_m is not None:
        ax.axhline(ctx.standoff_m, color="tab:red", lw=1.5, label=f"standoff {ctx.standoff_m:.1f} m")
    if np.any(np.isfinite(sep.nearest_m)):
        i = int(np.nanargmin(sep.nearest_m))
        ax.plot(sep.t_s[i], sep.nearest_m[i], "v", color="black", label=f"closest {sep.nearest_m[i]:.2f} m")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("3D distance to body (m)")
    ax.set_title(f"Separation - {sep.basis}", fontsize=10)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    return _png(fig)


def map_plot(log: FlightLog, ctx: Context) -> str | None:
    """Top-down: east to the right, north up."""
    truth = log.get(topics.TRUTH)
    fig, ax = plt.subplots(figsize=(7, 7))
    drawn = False
    if ctx.fence and ctx.fence.get("polygon_ne_m"):
        poly = np.array(ctx.fence["polygon_ne_m"], float)
        closed = np.vstack([poly, poly[:1]])
        ax.plot(closed[:, 1], closed[:, 0], "k--", lw=1, label="geofence")
        if ctx.fence.get("tethered") and isinstance(ctx.fence.get("tether_length_m"), (int, float)):
            a = vec(ctx.fence.get("tether_anchor_ne_m") or [0, 0], 2)
            th = np.linspace(0, 2 * math.pi, 100)
            r = float(ctx.fence["tether_length_m"])
            ax.plot(a[1] + r * np.sin(th), a[0] + r * np.cos(th), "k:", lw=1, label="tether radius")
    if truth:
        veh = np.array([vec(m.get("vehicle_position_ned_m")) for _, m in truth])
        people: dict[Any, list[np.ndarray]] = {}
        subject_ids = set()
        for _, m in truth:
            for p in m.get("people") or []:
                people.setdefault(p.get("id"), []).append(vec(p.get("position_ned_m")))
                if p.get("is_subject"):
                    subject_ids.add(p.get("id"))
        for k, (pid, pts) in enumerate(people.items()):
            arr = np.array(pts)
            is_subj = pid in subject_ids
            ax.plot(arr[:, 1], arr[:, 0], color="tab:blue" if is_subj else "tab:gray", lw=1.6 if is_subj else 1.0,
                    label="subject" if is_subj else ("bystanders" if k == len(subject_ids) or k == 0 else None))
            ax.plot(arr[-1, 1], arr[-1, 0], "o", color="tab:blue" if is_subj else "tab:gray", ms=4)
        basis = "ground truth"
    else:
        veh = np.array([vec(m.get("position_ned_m")) for _, m in log.get(topics.VEHICLE)]).reshape(-1, 3)
        subj = np.array([vec(m.get("position_ned_m")) for _, m in log.get(topics.SUBJECT) if m.get("valid")])
        if subj.size:
            ax.plot(subj[:, 1], subj[:, 0], color="tab:blue", lw=1.4, label="subject (estimate)")
        pts = [vec(p) for _, m in log.get(topics.PEOPLE)[::10] for p, s in
               zip(m.get("position_ned_m") or [], m.get("is_subject") or []) if not s]
        if pts:
            arr = np.array(pts)
            ax.plot(arr[:, 1], arr[:, 0], ".", color="tab:gray", ms=2, label="bystanders (estimates)")
        basis = "estimated"
    if veh.size:
        ax.plot(veh[:, 1], veh[:, 0], color="tab:red", lw=1.4, label="vehicle")
        ax.plot(veh[0, 1], veh[0, 0], "s", color="tab:red", ms=5)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("east (m)")
    ax.set_ylabel("north (m)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(f"Top-down map ({basis}); square = start", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def speed_plot(log: FlightLog, ctx: Context) -> str | None:
    sps, _ = sent_setpoints(log)
    truth = log.get(topics.TRUTH)
    if not sps and not truth:
        return None
    fig, (ax_h, ax_v) = plt.subplots(2, 1, figsize=(9, 4.6), sharex=True)
    t_end = max([sp.stamp_s for sp in sps] + [s for s, _ in truth] + [0.0])
    for ax in (ax_h, ax_v):
        _shade_engaged(ax, ctx, t_end)
    if sps:
        t = np.array([sp.stamp_s for sp in sps])
        v = np.array([sp.velocity_ned_mps for sp in sps])
        ax_h.plot(t, np.hypot(v[:, 0], v[:, 1]), ".", ms=2, color="tab:purple", label="commanded (sent)")
        ax_v.plot(t, np.abs(v[:, 2]), ".", ms=2, color="tab:purple", label="commanded (sent)")
    if truth:
        t = np.array([s for s, _ in truth])
        v = np.array([vec(m.get("vehicle_velocity_ned_mps")) for _, m in truth])
        ax_h.plot(t, np.hypot(v[:, 0], v[:, 1]), color="tab:blue", lw=1, label="true")
        ax_v.plot(t, np.abs(v[:, 2]), color="tab:blue", lw=1, label="true")
    for ax, name, label in ((ax_h, "max_horizontal_speed_mps", "horizontal speed (m/s)"),
                            (ax_v, "max_vertical_speed_mps", "|vertical speed| (m/s)")):
        cap = ctx.cap(name)
        if cap is not None:
            ax.axhline(cap, color="tab:red", lw=1.4, label=f"cap {cap:.1f}")
            if truth:
                ax.axhline(cap + TRUTH_SPEED_TOLERANCE_MPS, color="tab:red", lw=0.8, ls=":", label="cap + tolerance")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    ax_v.set_xlabel("time (s)")
    ax_h.set_title("Speed against the caps", fontsize=10)
    return _png(fig)


_VERDICT_LEVEL = {"pass": 0, "limited": 1, "hold": 2}


def timeline_plot(log: FlightLog, ctx: Context) -> str | None:
    safe = log.get(topics.SAFE)
    if not safe and not len(ctx.engaged):
        return None
    fig, (ax_e, ax_g) = plt.subplots(2, 1, figsize=(9, 4.2), sharex=True, height_ratios=[1, 2])
    if len(ctx.engaged):
        ax_e.step(ctx.engaged.stamps, [int(v) for v in ctx.engaged.values], where="post", color="tab:green")
    ax_e.set_yticks([0, 1], ["disengaged", "engaged"])
    ax_e.set_title(f"Engagement ({ctx.engaged_source}) and governor interventions", fontsize=10)
    if safe:
        t = np.array([s for s, _ in safe])
        lvl = np.array([_VERDICT_LEVEL.get(str(m.get("verdict")), -1) for _, m in safe])
        ax_g.plot(t, lvl, ".", ms=3, color="tab:gray", label="verdict")
        limits = sorted({lim for _, m in safe for lim in (m.get("limits_applied") or [])})
        for k, lim in enumerate(limits):
            ts = [s for s, m in safe if lim in (m.get("limits_applied") or [])]
            ax_g.plot(ts, [3 + k] * len(ts), "|", ms=8, label=f"limit: {lim}")
        req = [(s, m.get("mode_request")) for s, m in safe if m.get("mode_request")]
        for i, (s, r) in enumerate(req[:50]):
            ax_g.axvline(s, color="tab:red", lw=0.8, alpha=0.6, label="mode request" if i == 0 else None)
            if i < 5:
                ax_g.text(s, 2.5, str(r), fontsize=7, color="tab:red", rotation=90)
        ax_g.set_yticks([0, 1, 2, *range(3, 3 + len(limits))], ["pass", "limited", "hold", *limits], fontsize=7)
    for s, _m in log.get(topics.AUTOPILOT_EVENTS)[:200]:
        ax_e.axvline(s, color="tab:brown", lw=0.6, alpha=0.5)
    ax_g.set_xlabel("time (s)")
    ax_g.grid(alpha=0.3)
    ax_g.legend(fontsize=7, loc="upper right")
    return _png(fig)


def link_plot(log: FlightLog, ctx: Context) -> str | None:
    veh = log.get(topics.VEHICLE)
    out = log.get(topics.MAVLINK_OUT)
    if not veh and not out:
        return None
    fig, (ax_l, ax_g, ax_r) = plt.subplots(3, 1, figsize=(9, 5), sharex=True)
    if veh:
        t = np.array([s for s, _ in veh])
        ax_l.step(t, [int(bool(m.get("link_ok", False))) for _, m in veh], where="post", color="tab:blue")
        if len(t) > 1:
            ax_g.plot(t[1:], np.diff(t) * 1000, color="tab:blue", lw=0.8)
    ax_l.set_yticks([0, 1], ["down", "ok"])
    ax_l.set_title("Link health: telemetry link flag, telemetry gaps, setpoint send rate", fontsize=10)
    ax_g.set_ylabel("telemetry gap (ms)", fontsize=8)
    sps, _ = sent_setpoints(log)
    if sps:
        t = np.array([sp.stamp_s for sp in sps])
        bins = np.arange(math.floor(t[0]), math.ceil(t[-1]) + 1.0, 1.0)
        if len(bins) > 1:
            counts, edges = np.histogram(t, bins=bins)
            ax_r.step(edges[:-1], counts, where="post", color="tab:purple")
    ax_r.set_ylabel("setpoints / s", fontsize=8)
    ax_r.set_xlabel("time (s)")
    for ax in (ax_l, ax_g, ax_r):
        ax.grid(alpha=0.3)
    return _png(fig)


def all_plots(log: FlightLog, ctx: Context) -> list[tuple[str, str, str | None]]:
    """(id, title, base64 PNG or None) for every figure of the report, in order."""
    return [
        ("separation", "Separation to the subject and the nearest person", separation_plot(log, ctx)),
        ("map", "Top-down map", map_plot(log, ctx)),
        ("speed", "Speed against caps", speed_plot(log, ctx)),
        ("timeline", "Governor interventions and engagement", timeline_plot(log, ctx)),
        ("link", "Link health", link_plot(log, ctx)),
    ]
