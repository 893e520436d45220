"""The trajectory plot every simulated run saves beside its record (top-down, east right, north up)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sim.runners.truth import ScenarioResult


def save_trajectory_plot(result: ScenarioResult, path: str | Path) -> Path:
    """Top-down (east right, north up) plot of vehicle, subject, bystanders and the fence."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traj = result.trajectory
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 7), dpi=100)
    fence = np.array(traj.get("fence_ne_m", []), dtype=float)
    if len(fence):
        closed = np.vstack([fence, fence[:1]])
        ax.plot(closed[:, 1], closed[:, 0], "k--", lw=1, label="geofence")
    veh = np.array(traj["vehicle"], dtype=float)
    ax.plot(veh[:, 1], veh[:, 0], "C0-", lw=1.5, label="vehicle")
    tracks: dict[int, list[Any]] = {}
    is_subj: dict[int, bool] = {}
    for people in traj["people"]:
        for pid, pos, subj in people:
            tracks.setdefault(pid, []).append(pos)
            is_subj[pid] = subj
    for pid, pts in tracks.items():
        arr = np.array(pts, dtype=float)
        style = "C3-" if is_subj[pid] else "C2-"
        ax.plot(arr[:, 1], arr[:, 0], style, lw=1.2, label="subject" if is_subj[pid] else f"person {pid}")
    ax.plot(veh[0, 1], veh[0, 0], "C0o")
    # Frame on what happened, not on the whole fence.
    pts = [veh[:, :2]] + [np.array(p, dtype=float)[:, :2] for p in tracks.values()]
    allp = np.vstack(pts)
    lo, hi = allp.min(axis=0) - 20, allp.max(axis=0) + 20
    ax.set_xlim(lo[1], hi[1])
    ax.set_ylim(lo[0], hi[0])
    ax.set_aspect("equal")
    ax.set_xlabel("east [m]")
    ax.set_ylabel("north [m]")
    verdict = "PASS" if result.passed else "FAIL"
    ax.set_title(
        f"{result.scenario}: {verdict}  min separation {result.min_separation_any_m:.1f} m "
        f"(standoff {result.standoff_m:.0f} m)"
    )
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
