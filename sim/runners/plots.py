"""The trajectory plot every simulated run saves beside its record: the same map, colours and zoom as the audit
report's top-down map (:func:`drone_perception.audit.plots.draw_map`), drawn from the run's ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sim.runners.truth import ScenarioResult


def trajectory_figure(result: ScenarioResult) -> Any:
    """The matplotlib Figure (Agg) of :func:`save_trajectory_plot`; the caller closes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from drone_perception.audit.plots import MapScene, draw_map, people_tracks

    traj = result.trajectory
    veh = np.array(traj.get("vehicle", []), dtype=float).reshape(-1, 3)
    t_s = np.asarray(traj.get("t", range(len(veh))), dtype=float)
    fence = np.array(traj.get("fence_ne_m", []), dtype=float).reshape(-1, 2)
    scene = MapScene(t_s, veh, people_tracks(t_s, traj.get("people", [])), fence if len(fence) else None,
                     standoff_m=result.standoff_m)
    verdict = "PASS" if result.passed else "FAIL"
    fig = plt.figure(figsize=(10, 7), dpi=100)
    draw_map(fig, scene, f"{result.scenario}: {verdict}  min separation {result.min_separation_any_m:.1f} m "
                         f"(standoff {result.standoff_m:.1f} m)")
    return fig


def save_trajectory_plot(result: ScenarioResult, path: str | Path) -> Path:
    """Top-down (east right, north up) PNG of vehicle, subject, bystanders, the standoff at each person's
    closest approach, zoomed to the tracks with the whole fence in an inset."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = trajectory_figure(result)
    try:
        fig.savefig(path, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path
