"""trajectory.png and the audit report's map of the same run: one colour per person and the same colours in both,
zoomed to the action with the whole fence in an inset, the vehicle drawn over the subject, the standoff drawn."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.patches import Circle

from drone_perception.audit import plots
from drone_perception.audit.series import build_context
from drone_perception.record.reader import read_record
from sim.runners.direct import run_scenario
from sim.runners.plots import trajectory_figure
from sim.runners.report import run_and_report


@pytest.fixture(scope="module")
def crossing(tmp_path_factory):
    out = tmp_path_factory.mktemp("crossing")
    _, result = run_and_report(out, lambda rec: run_scenario("bystander_crossing", seed=0, recorder=rec,
                                                                   duration_s=25.0))
    return out, result


def _legend(ax) -> dict[str, str]:
    """Legend label -> colour of the main map's line entries."""
    out = {}
    for handle, text in zip(ax.get_legend().legend_handles, ax.get_legend().get_texts()):
        colour = getattr(handle, "get_color", None)
        if colour is not None:
            out[text.get_text()] = to_hex(colour())
    return out


def test_trajectory_png_and_report_map_share_one_colour_scheme(crossing, monkeypatch) -> None:
    out, result = crossing
    assert (out / "trajectory.png").is_file() and (out / "report.html").is_file()
    traj_fig = trajectory_figure(result)
    captured = []
    monkeypatch.setattr(plots, "_png", lambda fig: captured.append(fig) or "png")
    log = read_record(out / "record.mcap")
    assert plots.map_plot(log, build_context(log)) == "png"
    try:
        traj, report = _legend(traj_fig.axes[0]), _legend(captured[0].axes[0])
        people = [k for k in traj if k == "subject" or k.startswith("bystander ")]
        assert "subject" in people and sum(k.startswith("bystander ") for k in people) >= 2
        for key in [*people, "vehicle", "geofence (see inset)"]:
            assert traj[key] == report[key], key
        colours = [traj[k] for k in people]
        assert len(set(colours)) == len(colours), "two people share a colour"
        assert traj["vehicle"] not in colours
    finally:
        plt.close(traj_fig)
        for fig in captured:
            plt.close(fig)


def test_trajectory_is_zoomed_with_the_fence_inset_and_standoff(crossing) -> None:
    _, result = crossing
    fig = trajectory_figure(result)
    try:
        ax = fig.axes[0]
        fence = np.array(result.trajectory["fence_ne_m"], float)
        assert np.ptp(ax.get_xlim()) < 0.5 * np.ptp(fence[:, 1])
        assert len(ax.child_axes) == 1  # the whole-fence inset
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "geofence (see inset)" in labels and "geofence" not in labels
        lines = {str(ln.get_label()): ln for ln in ax.get_lines()}
        assert lines["vehicle"].get_zorder() > lines["subject"].get_zorder()
        rings = [p for p in ax.patches if isinstance(p, Circle) and p.get_radius() == pytest.approx(result.standoff_m)
                 and not p.get_fill()]
        assert len(rings) == len([k for k in lines if k == "subject" or k.startswith("bystander ")])
    finally:
        plt.close(fig)
