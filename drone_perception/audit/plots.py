"""The report's figures, rendered with matplotlib (Agg) to PNG and returned base64-encoded so the HTML
embeds them (no files beside the report, nothing fetched when viewing it).

Each function returns None when the record has nothing to draw; the report then says so.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Rectangle

from drone_perception.audit.checks import TRUTH_SPEED_TOLERANCE_MPS, separation_series
from drone_perception.audit.series import Context, distance_to_bodies_m, sent_setpoints, vec
from drone_perception.config.limits import PERSON_HEIGHT_M
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


def _legend_outside(ax: Any, fontsize: float = 8) -> None:
    """The legend to the right of the axes, so it never covers a curve or a marker."""
    ax.legend(fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _shade_engaged(ax: Any, ctx: Context, t_end: float) -> None:
    for i, (a, b) in enumerate(_engaged_spans(ctx, t_end)):
        ax.axvspan(a, b, color="tab:green", alpha=0.08, label="follow engaged" if i == 0 else None)


def separation_plot(log: FlightLog, ctx: Context) -> str | None:
    sep = separation_series(log)
    if sep is None:
        return None
    fig, ax = plt.subplots(figsize=(8, 3.6))
    _shade_engaged(ax, ctx, float(sep.t_s[-1]))
    ax.plot(sep.t_s, sep.subject_m, color=SUBJECT_COLOUR, lw=1.4, label="to subject")
    ax.plot(sep.t_s, sep.nearest_m, color="dimgray", lw=1.0, ls="--", label="to nearest person")
    if ctx.standoff_m is not None:
        ax.axhline(ctx.standoff_m, color="tab:red", lw=1.5, label=f"standoff {ctx.standoff_m:.1f} m")
    if np.any(np.isfinite(sep.nearest_m)):
        i = int(np.nanargmin(sep.nearest_m))
        ax.plot(sep.t_s[i], sep.nearest_m[i], "v", color="black", ms=8, zorder=5,
                label=f"closest {sep.nearest_m[i]:.2f} m at {sep.t_s[i]:.1f} s")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("3D distance to body (m)")
    ax.set_title(f"Separation - {sep.basis}", fontsize=10)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    _legend_outside(ax)
    return _png(fig)


# ------------------------------------------------------------------------------------------------ the map
# One scheme for every top-down map: the report's and the simulator's trajectory.png (sim.runners.plots).
# People are wide translucent bands and the vehicle a thin dark line drawn over them, so a vehicle that flies
# along the subject's path stays visible.

VEHICLE_COLOUR = "black"
SUBJECT_COLOUR = "tab:blue"
#: Bystanders in order of id; none of them is the subject's, the vehicle's, the fence's or the standoff's colour.
BYSTANDER_COLOURS = ("tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:green",
                     "goldenrod")
FENCE_COLOUR = "dimgray"
STANDOFF_COLOUR = "tab:red"
#: The main map shows the tracks with at least this margin (m), and the standoff circles whole.
MAP_MARGIN_M = 10.0
#: A fence whose extent is within this factor of the tracks' view is shown whole on the main map (no inset).
FENCE_FITS_FACTOR = 1.6


@dataclass(frozen=True)
class MapTrack:
    """One person on the map. ``t_s`` (N,) stack seconds; ``position_ned_m`` (N, 3) foot point, NaN where the
    person is not in that sample. ``points``: drawn as dots (estimates without identity), not as a line."""

    label: str
    is_subject: bool
    t_s: np.ndarray
    position_ned_m: np.ndarray
    colour: str
    points: bool = False


@dataclass(frozen=True)
class MapScene:
    """What a top-down map shows (east right, north up). NED metres; the fence polygon is (north, east)."""

    vehicle_t_s: np.ndarray  # (N,)
    vehicle_ned_m: np.ndarray  # (N, 3)
    people: tuple[MapTrack, ...]
    fence_polygon_ne_m: np.ndarray | None = None  # (K, 2)
    tether_anchor_ne_m: np.ndarray | None = None  # (2,)
    tether_length_m: float | None = None
    standoff_m: float | None = None
    basis: str = "ground truth"


@dataclass(frozen=True)
class Approach:
    """A person's closest approach to the vehicle: 3D distance from the vehicle to the body (the standoff
    check's measure) at ``t_s``, where both were then (north, east), and ``vertical_gap_m``: the vehicle's
    height above the top of the body (or below its feet; 0 when level with the body)."""

    distance_m: float
    t_s: float
    person_ne_m: np.ndarray
    vehicle_ne_m: np.ndarray
    vertical_gap_m: float
    vertical_side: str = "above"  # the vehicle is "above" the head or "below" the feet (or "level")

    def standoff_radius_m(self, standoff_m: float) -> float:
        """Horizontal radius of the standoff around the body at the vehicle's height then: the vehicle is
        outside this circle on the map exactly when its 3D distance to the body is more than ``standoff_m``."""
        return math.sqrt(max(standoff_m**2 - self.vertical_gap_m**2, 0.0))


def people_tracks(t_s: Sequence[float] | np.ndarray,
                  samples: Sequence[Iterable[tuple[Any, Any, bool]]]) -> tuple[MapTrack, ...]:
    """Tracks from per-sample ``(id, position_ned_m, is_subject)`` lists (``/sim/truth`` or the simulator's
    trajectory): the subject first, then bystanders by id, each bystander its own colour."""
    n = len(samples)
    pos: dict[Any, np.ndarray] = {}
    subject: set[Any] = set()
    for k, people in enumerate(samples):
        for pid, p, is_subj in people:
            pos.setdefault(pid, np.full((n, 3), np.nan))[k] = vec(p)
            if is_subj:
                subject.add(pid)
    t = np.asarray(t_s, dtype=float)
    order = sorted(pos, key=lambda pid: (pid not in subject, str(pid)))
    tracks, k_bystander = [], 0
    for pid in order:
        if pid in subject:
            tracks.append(MapTrack("subject", True, t, pos[pid], SUBJECT_COLOUR))
        else:
            colour = BYSTANDER_COLOURS[k_bystander % len(BYSTANDER_COLOURS)]
            k_bystander += 1
            tracks.append(MapTrack(f"bystander {pid}", False, t, pos[pid], colour))
    return tuple(tracks)


def closest_approach(scene: MapScene, track: MapTrack) -> Approach | None:
    """The sample where ``track`` came closest to the vehicle (vehicle position interpolated to its stamps)."""
    ok = np.isfinite(scene.vehicle_t_s) & np.all(np.isfinite(scene.vehicle_ned_m), axis=1)
    if not ok.any():
        return None
    vt, vp = scene.vehicle_t_s[ok], scene.vehicle_ned_m[ok]
    good = np.all(np.isfinite(track.position_ned_m), axis=1) & (track.t_s >= vt[0]) & (track.t_s <= vt[-1])
    if not good.any():
        return None
    t, feet = track.t_s[good], track.position_ned_m[good]
    veh = np.column_stack([np.interp(t, vt, vp[:, k]) for k in range(3)])
    d = np.array([distance_to_bodies_m(v, f)[0] for v, f in zip(veh, feet)])
    i = int(np.argmin(d))
    vz, foot_z = float(veh[i, 2]), float(feet[i, 2])
    above, below = foot_z - PERSON_HEIGHT_M - vz, vz - foot_z  # NED: z down; the body spans foot_z - height..foot_z
    side = "above" if above > 0 else ("below" if below > 0 else "level")
    return Approach(float(d[i]), float(t[i]), feet[i, :2].copy(), veh[i, :2].copy(), max(above, below, 0.0), side)


def _fence_box_ne(scene: MapScene) -> tuple[np.ndarray, np.ndarray] | None:
    boxes = []
    if scene.fence_polygon_ne_m is not None and len(scene.fence_polygon_ne_m):
        boxes.append((scene.fence_polygon_ne_m.min(axis=0), scene.fence_polygon_ne_m.max(axis=0)))
    if scene.tether_length_m is not None and scene.tether_anchor_ne_m is not None:
        r = scene.tether_length_m
        boxes.append((scene.tether_anchor_ne_m - r, scene.tether_anchor_ne_m + r))
    if not boxes:
        return None
    return np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)


def _square(lo: np.ndarray, hi: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    centre, half = (lo + hi) / 2.0, float(np.max(hi - lo)) / 2.0 + margin
    return centre - half, centre + half


def map_view_ne(scene: MapScene) -> tuple[np.ndarray, np.ndarray, bool]:
    """The main map's square (north, east) box: the vehicle and people tracks with a margin that holds the
    standoff circles, or the whole fence when it is not much larger. Third value: the fence is all in view."""
    pts = np.vstack([scene.vehicle_ned_m[:, :2], *(t.position_ned_m[:, :2] for t in scene.people)])
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    lo, hi = (pts.min(axis=0), pts.max(axis=0)) if len(pts) else (_fence_box_ne(scene) or (np.zeros(2), np.zeros(2)))
    margin = max(MAP_MARGIN_M, 0.1 * float(np.max(hi - lo)), 1.25 * (scene.standoff_m or 0.0))
    lo, hi = _square(lo, hi, margin)
    fence = _fence_box_ne(scene)
    if fence is None:
        return lo, hi, True
    if np.all(fence[0] >= lo) and np.all(fence[1] <= hi):
        return lo, hi, True
    if float(np.max(fence[1] - fence[0])) <= FENCE_FITS_FACTOR * float(np.max(hi - lo)):
        both_lo, both_hi = np.minimum(lo, fence[0]), np.maximum(hi, fence[1])
        lo, hi = _square(both_lo, both_hi, 0.05 * float(np.max(both_hi - both_lo)))
        return lo, hi, True
    return lo, hi, False


def _draw_fence(ax: Any, scene: MapScene, suffix: str, lw: float) -> None:
    if scene.fence_polygon_ne_m is not None and len(scene.fence_polygon_ne_m):
        closed = np.vstack([scene.fence_polygon_ne_m, scene.fence_polygon_ne_m[:1]])
        ax.plot(closed[:, 1], closed[:, 0], "--", color=FENCE_COLOUR, lw=lw, label=f"geofence{suffix}")
    if scene.tether_length_m is not None and scene.tether_anchor_ne_m is not None:
        th = np.linspace(0, 2 * math.pi, 180)
        a, r = scene.tether_anchor_ne_m, scene.tether_length_m
        ax.plot(a[1] + r * np.sin(th), a[0] + r * np.cos(th), ":", color=FENCE_COLOUR, lw=lw,
                label=f"tether radius{suffix}")


def _draw_tracks(ax: Any, scene: MapScene, *, small: bool) -> None:
    for tr in scene.people:
        e, n = tr.position_ned_m[:, 1], tr.position_ned_m[:, 0]
        if tr.points:
            ax.plot(e, n, ".", color=tr.colour, ms=1.5 if small else 2.5, zorder=2, label=tr.label)
            continue
        ax.plot(e, n, color=tr.colour, lw=1.5 if small else 4.0, alpha=0.5, solid_capstyle="round", zorder=2,
                label=tr.label)
        seen = np.flatnonzero(np.all(np.isfinite(tr.position_ned_m), axis=1))
        if len(seen) and not small:
            ax.plot(e[seen[0]], n[seen[0]], "s", color=tr.colour, ms=5, zorder=3)
            ax.plot(e[seen[-1]], n[seen[-1]], "o", color=tr.colour, ms=5, zorder=3)
    veh = scene.vehicle_ned_m
    if len(veh):
        ax.plot(veh[:, 1], veh[:, 0], color=VEHICLE_COLOUR, lw=0.8 if small else 1.4, zorder=5, label="vehicle")
        if not small:
            ax.plot(veh[0, 1], veh[0, 0], "s", color=VEHICLE_COLOUR, ms=5, zorder=5)
            ax.plot(veh[-1, 1], veh[-1, 0], "o", color=VEHICLE_COLOUR, ms=5, zorder=5)


def _draw_standoff(ax: Any, scene: MapScene) -> list[Line2D]:
    """Per person, at their closest approach: the standoff circle (dashed), its cut at the vehicle's height then
    (solid; the vehicle outside it <=> the standoff held), and a dotted line to the vehicle with the 3D distance."""
    found = [(tr, a) for tr in scene.people if (a := closest_approach(scene, tr)) is not None]
    if not found:
        return []
    overall = min(a.distance_m for _, a in found)
    any_cut = False
    for tr, a in found:
        pe, pn = a.person_ne_m[1], a.person_ne_m[0]
        ve, vn = a.vehicle_ne_m[1], a.vehicle_ne_m[0]
        across_m = float(np.hypot(pe - ve, pn - vn))
        if scene.standoff_m is not None:
            ax.add_patch(Circle((pe, pn), scene.standoff_m, facecolor=tr.colour, alpha=0.10, zorder=1))
            ax.add_patch(Circle((pe, pn), scene.standoff_m, fill=False, edgecolor=STANDOFF_COLOUR, ls="--", lw=1.1,
                                zorder=4))
            cut = a.standoff_radius_m(scene.standoff_m)
            if 0.0 < cut < scene.standoff_m - 0.05:
                any_cut = True
                ax.add_patch(Circle((pe, pn), cut, fill=False, edgecolor=STANDOFF_COLOUR, lw=0.9, zorder=4))
        ax.plot([ve, pe], [vn, pn], ":", color=VEHICLE_COLOUR, lw=1.0, zorder=6)
        ax.plot(pe, pn, "x", color=tr.colour, ms=7, mew=2, zorder=6)
        ax.plot(ve, vn, "o", color=VEHICLE_COLOUR, mfc="white", ms=5, zorder=6)
        text = f"{a.distance_m:.1f} m"
        if scene.standoff_m is not None and across_m < scene.standoff_m:
            text += f"\n({across_m:.1f} m across, {a.vertical_gap_m:.1f} m {a.vertical_side})"
        bold = a.distance_m == overall
        ax.annotate(text, ((ve + pe) / 2, (vn + pn) / 2), fontsize=8 if bold else 7, zorder=7,
                    fontweight="bold" if bold else "normal", xytext=(5, 3), textcoords="offset points",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
    handles = [Line2D([], [], color=VEHICLE_COLOUR, ls=":", marker="x", mfc="white", ms=5,
                      label="closest approach of each person:\n3D distance to the body (m)")]
    if scene.standoff_m is not None:
        handles.insert(0, Line2D([], [], color=STANDOFF_COLOUR, ls="--",
                                 label=f"standoff {scene.standoff_m:.1f} m around each\nperson at that moment"))
        if any_cut:
            handles.insert(1, Line2D([], [], color=STANDOFF_COLOUR, lw=0.9,
                                     label="the standoff at the vehicle's\nheight then (outside = kept)"))
    return handles


def draw_map(fig: Figure, scene: MapScene, title: str) -> Any:
    """Draw ``scene`` on ``fig``: the main map zoomed to the tracks (legend outside, on the right), and below
    the legend an inset with the whole fence when the fence is not all on the main map. Returns the main axes."""
    ax = fig.add_axes((0.07, 0.08, 0.62, 0.84))
    lo, hi, fence_in_view = map_view_ne(scene)
    _draw_fence(ax, scene, "" if fence_in_view else " (see inset)", 1.2)
    _draw_tracks(ax, scene, small=False)
    extra = _draw_standoff(ax, scene)
    ax.set_xlim(lo[1], hi[1])
    ax.set_ylim(lo[0], hi[0])
    ax.set_aspect("equal", adjustable="box")
    ax.set_anchor("W")
    ax.set_xlabel("east (m)")
    ax.set_ylabel("north (m)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    handles += extra
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.03, 1.0), borderaxespad=0.0, fontsize=8,
              ncol=2 if len(handles) > 12 else 1, title="square = start, circle = end", title_fontsize=7)
    if not fence_in_view:
        fence_lo, fence_hi = _fence_box_ne(scene) or (lo, hi)
        both_lo, both_hi = np.minimum(fence_lo, lo), np.maximum(fence_hi, hi)
        flo, fhi = _square(both_lo, both_hi, 0.04 * float(np.max(both_hi - both_lo)))
        inset = ax.inset_axes((1.03, 0.0, 0.45, 0.45))
        _draw_fence(inset, scene, "", 0.9)
        _draw_tracks(inset, scene, small=True)
        inset.add_patch(Rectangle((lo[1], lo[0]), hi[1] - lo[1], hi[0] - lo[0], fill=False, ec=STANDOFF_COLOUR,
                                  lw=1.0, zorder=8))
        inset.set_xlim(flo[1], fhi[1])
        inset.set_ylim(flo[0], fhi[0])
        inset.set_aspect("equal", adjustable="box")
        inset.tick_params(labelsize=6)
        inset.set_title("whole fence (red box: main map)", fontsize=7)
        inset.grid(alpha=0.3)
    return ax


def map_scene(log: FlightLog, ctx: Context) -> MapScene | None:
    """The map's content from the record: ground truth when recorded, else the stack's own estimates."""
    fence = ctx.fence or {}
    poly = np.array(fence["polygon_ne_m"], float).reshape(-1, 2) if fence.get("polygon_ne_m") else None
    tether = fence.get("tether_length_m") if fence.get("tethered") else None
    anchor = vec(fence.get("tether_anchor_ne_m") or [0, 0], 2) if isinstance(tether, (int, float)) else None
    truth = log.get(topics.TRUTH)
    if truth:
        t = np.array([s for s, _ in truth])
        veh = np.array([vec(m.get("vehicle_position_ned_m")) for _, m in truth]).reshape(-1, 3)
        samples = [[(p.get("id"), p.get("position_ned_m"), bool(p.get("is_subject"))) for p in m.get("people") or []]
                   for _, m in truth]
        people = people_tracks(t, samples)
        basis = "ground truth"
    else:
        vs = log.get(topics.VEHICLE)
        t = np.array([s for s, _ in vs], float)
        veh = np.array([vec(m.get("position_ned_m")) for _, m in vs]).reshape(-1, 3)
        subj = [(s, vec(m.get("position_ned_m"))) for s, m in log.get(topics.SUBJECT) if m.get("valid")]
        others = [(s, vec(p)) for s, m in log.get(topics.PEOPLE)
                  for p, is_subj in zip(m.get("position_ned_m") or [], m.get("is_subject") or []) if not is_subj]
        tracks = []
        if subj:
            tracks.append(MapTrack("subject (estimate)", True, np.array([s for s, _ in subj]),
                                   np.array([p for _, p in subj]), SUBJECT_COLOUR))
        if others:
            tracks.append(MapTrack("bystanders (estimates, no identity)", False, np.array([s for s, _ in others]),
                                   np.array([p for _, p in others]), BYSTANDER_COLOURS[0], points=True))
        people = tuple(tracks)
        basis = "estimated"
    if not len(veh) and not people:
        return None
    tether_m = float(tether) if isinstance(tether, (int, float)) else None
    return MapScene(t, veh, people, poly, anchor, tether_m, ctx.standoff_m, basis)


def map_plot(log: FlightLog, ctx: Context) -> str | None:
    """Top-down: east to the right, north up, zoomed to the tracks, with the whole fence in an inset."""
    scene = map_scene(log, ctx)
    if scene is None or not np.any(np.isfinite(scene.vehicle_ned_m)):
        return None
    fig = plt.figure(figsize=(10, 7))
    draw_map(fig, scene, f"Top-down map ({scene.basis})")
    return _png(fig)


def speed_plot(log: FlightLog, ctx: Context) -> str | None:
    sps, _ = sent_setpoints(log)
    truth = log.get(topics.TRUTH)
    if not sps and not truth:
        return None
    fig, (ax_h, ax_v) = plt.subplots(2, 1, figsize=(8, 4.6), sharex=True)
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
        ax_h.plot(t, np.hypot(v[:, 0], v[:, 1]), color=VEHICLE_COLOUR, lw=1, label="true (vehicle)")
        ax_v.plot(t, np.abs(v[:, 2]), color=VEHICLE_COLOUR, lw=1, label="true (vehicle)")
    for ax, name, label in ((ax_h, "max_horizontal_speed_mps", "horizontal speed (m/s)"),
                            (ax_v, "max_vertical_speed_mps", "|vertical speed| (m/s)")):
        cap = ctx.cap(name)
        if cap is not None:
            ax.axhline(cap, color="tab:red", lw=1.4, label=f"cap {cap:.1f} m/s")
            if truth:
                ax.axhline(cap + TRUTH_SPEED_TOLERANCE_MPS, color="tab:red", lw=0.8, ls=":",
                           label=f"cap + tolerance {cap + TRUTH_SPEED_TOLERANCE_MPS:.2f} m/s")
        ax.set_ylabel(label, fontsize=8)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        _legend_outside(ax, 7)
    ax_v.set_xlabel("time (s)")
    ax_h.set_title("Speed against the caps", fontsize=10)
    return _png(fig)


_VERDICT_LEVEL = {"pass": 0, "limited": 1, "hold": 2}


def timeline_plot(log: FlightLog, ctx: Context) -> str | None:
    safe = log.get(topics.SAFE)
    if not safe and not len(ctx.engaged):
        return None
    fig, (ax_e, ax_g) = plt.subplots(2, 1, figsize=(8, 4.2), sharex=True, height_ratios=[1, 2])
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
    for i, (s, _m) in enumerate(log.get(topics.AUTOPILOT_EVENTS)[:200]):
        ax_e.axvline(s, color="tab:brown", lw=0.6, alpha=0.5, label="autopilot event" if i == 0 else None)
    if log.get(topics.AUTOPILOT_EVENTS):
        _legend_outside(ax_e, 7)
    ax_g.set_xlabel("time (s)")
    ax_g.grid(alpha=0.3)
    if ax_g.get_legend_handles_labels()[0]:
        _legend_outside(ax_g, 7)
    return _png(fig)


def link_plot(log: FlightLog, ctx: Context) -> str | None:
    veh = log.get(topics.VEHICLE)
    out = log.get(topics.MAVLINK_OUT)
    if not veh and not out:
        return None
    fig, (ax_l, ax_g, ax_r) = plt.subplots(3, 1, figsize=(8, 5), sharex=True)
    if veh:
        t = np.array([s for s, _ in veh])
        ax_l.step(t, [int(bool(m.get("link_ok", False))) for _, m in veh], where="post", color="tab:blue")
        if len(t) > 1:
            gap_ms = np.diff(t) * 1000
            ax_g.plot(t[1:], gap_ms, color="tab:blue", lw=0.8)
            finite = gap_ms[np.isfinite(gap_ms)]
            # From zero with headroom: a steady 50 ms must read as 50, not as an offset of 1e-10.
            ax_g.set_ylim(0.0, max(1.3 * float(finite.max()) if finite.size else 0.0, 10.0))
    ax_g.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax_l.set_yticks([0, 1], ["down", "ok"])
    ax_l.set_ylim(-0.15, 1.15)
    ax_l.set_title("Link health: telemetry link flag, telemetry gaps, setpoint send rate", fontsize=10)
    ax_g.set_ylabel("telemetry gap (ms)", fontsize=8)
    sps, _ = sent_setpoints(log)
    if sps:
        t = np.array([sp.stamp_s for sp in sps])
        bins = np.arange(math.floor(t[0]), math.ceil(t[-1]) + 1.0, 1.0)
        if len(bins) > 1:
            counts, edges = np.histogram(t, bins=bins)
            # A last bin the record covers for under half a second is not a drop in the send rate.
            if len(counts) > 1 and t[-1] - edges[-2] < 0.5:
                counts, edges = counts[:-1], edges[:-1]
            ax_r.stairs(counts, edges, color="tab:purple", baseline=None)
            ax_r.set_ylim(0, 1.2 * float(counts.max()) + 1.0)
    ax_r.ticklabel_format(axis="y", style="plain", useOffset=False)
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
