"""The report's figures as an auditor reads them: legends outside the data, plain axis numbers, units on the caps,
a map zoomed to the tracks with the whole fence in an inset, one colour per person and the standoff drawn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fake_runs import write_fake_run
from matplotlib.colors import to_hex
from matplotlib.patches import Circle

from drone_perception.audit import plots
from drone_perception.audit.plots import (
    BYSTANDER_COLOURS,
    SUBJECT_COLOUR,
    VEHICLE_COLOUR,
    MapScene,
    MapTrack,
    closest_approach,
    map_view_ne,
    people_tracks,
)
from drone_perception.audit.series import build_context
from drone_perception.record.reader import read_record


@pytest.fixture
def figures(monkeypatch):
    """Each plot function's Figure, kept open (``_png`` captures it instead of encoding it)."""
    captured: list = []

    def keep(fig):
        captured.append(fig)
        return "png"

    monkeypatch.setattr(plots, "_png", keep)
    yield captured
    import matplotlib.pyplot as plt

    for fig in captured:
        plt.close(fig)


def _figure(fn, log, ctx, figures):
    assert fn(log, ctx) == "png"
    fig = figures[-1]
    fig.canvas.draw()
    return fig


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "r.mcap"
    write_fake_run(path, violate="standoff", duration_s=14.0)
    log = read_record(path)
    return log, build_context(log)


@pytest.mark.parametrize("name", ["separation_plot", "map_plot", "speed_plot", "timeline_plot"])
def test_no_legend_covers_any_axes(record, figures, name) -> None:
    log, ctx = record
    fig = _figure(getattr(plots, name), log, ctx, figures)
    renderer = fig.canvas.get_renderer()
    axes = [a for ax in fig.axes for a in (ax, *ax.child_axes)]
    legends = [ax.get_legend() for ax in axes if ax.get_legend() is not None]
    assert legends, "no legend drawn"
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in axes:
            assert not box.overlaps(ax.get_window_extent(renderer)), f"{name}: a legend covers an axes"


def test_closest_approach_marker_is_clear_of_the_legend(record, figures) -> None:
    log, ctx = record
    fig = _figure(plots.separation_plot, log, ctx, figures)
    ax = fig.axes[0]
    (marker,) = [ln for ln in ax.get_lines() if str(ln.get_label()).startswith("closest")]
    xy = ax.transData.transform(np.column_stack(marker.get_data()))[0]
    assert not ax.get_legend().get_window_extent(fig.canvas.get_renderer()).contains(*xy)


def test_telemetry_gap_axis_reads_plain_milliseconds_from_zero(record, figures) -> None:
    log, ctx = record
    fig = _figure(plots.link_plot, log, ctx, figures)
    ax_gap = fig.axes[1]
    assert ax_gap.yaxis.get_offset_text().get_text() == ""
    labels = [t.get_text().replace("\N{MINUS SIGN}", "-") for t in ax_gap.get_yticklabels() if t.get_text()]
    assert labels and all("e" not in s for s in labels), labels
    lo, hi = ax_gap.get_ylim()
    assert lo == 0.0 and hi >= 50.0  # a steady 50 ms (20 Hz) gap is on the axis, with headroom


def test_speed_caps_carry_their_unit(record, figures) -> None:
    log, ctx = record
    fig = _figure(plots.speed_plot, log, ctx, figures)
    labels = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
    caps = [s for s in labels if s.startswith("cap")]
    assert caps and all(s.endswith("m/s") for s in caps), caps


def test_report_map_is_zoomed_with_the_fence_in_an_inset_and_standoff_around_people(record, figures) -> None:
    log, ctx = record
    fig = _figure(plots.map_plot, log, ctx, figures)
    ax = fig.axes[0]
    fence = np.array(ctx.fence["polygon_ne_m"], float)
    fence_span = float(np.ptp(fence[:, 1]))
    assert np.ptp(ax.get_xlim()) < 0.5 * fence_span  # the 300 m fence does not set the scale
    (inset,) = ax.child_axes
    assert np.ptp(inset.get_xlim()) >= fence_span
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "geofence (see inset)" in labels and "geofence" not in labels
    standoff = [p for p in ax.patches if isinstance(p, Circle) and p.get_radius() == pytest.approx(ctx.standoff_m)]
    assert len(standoff) >= 2 * 2  # a filled disc and a dashed edge around each of the two people


def _line_colours(ax) -> dict[str, str]:
    return {str(ln.get_label()): to_hex(ln.get_color()) for ln in ax.get_lines()
            if not str(ln.get_label()).startswith("_")}


def test_vehicle_is_drawn_over_the_people(record, figures) -> None:
    log, ctx = record
    ax = _figure(plots.map_plot, log, ctx, figures).axes[0]
    lines = {str(ln.get_label()): ln for ln in ax.get_lines()}
    people = [ln for label, ln in lines.items() if label in ("subject",) or label.startswith("bystander")]
    assert people
    assert all(lines["vehicle"].get_zorder() > ln.get_zorder() for ln in people)
    assert all(lines["vehicle"].get_linewidth() < ln.get_linewidth() for ln in people)  # bands under a line
    assert _line_colours(ax)["vehicle"] == to_hex(VEHICLE_COLOUR)
    assert _line_colours(ax)["subject"] == to_hex(SUBJECT_COLOUR)


def test_people_tracks_subject_first_each_bystander_its_own_colour() -> None:
    samples = [[(3, [0, 0, 0], False), (0, [1, 0, 0], True), (1, [2, 0, 0], False), (2, [3, 0, 0], False)]] * 2
    tracks = people_tracks([0.0, 0.1], samples)
    assert [t.label for t in tracks] == ["subject", "bystander 1", "bystander 2", "bystander 3"]
    colours = [t.colour for t in tracks]
    assert colours[0] == SUBJECT_COLOUR
    assert len(set(colours)) == len(colours)
    assert set(colours[1:]) <= set(BYSTANDER_COLOURS)
    assert VEHICLE_COLOUR not in colours


def _scene(vehicle_ned_m, person_ned_m, *, fence_half_m: float | None = 150.0, standoff_m: float = 10.0):
    veh = np.atleast_2d(np.asarray(vehicle_ned_m, float))
    t = np.arange(len(veh), dtype=float)
    person = np.broadcast_to(np.asarray(person_ned_m, float), veh.shape).copy()
    fence = None
    if fence_half_m is not None:
        f = fence_half_m
        fence = np.array([[-f, -f], [-f, f], [f, f], [f, -f]])
    return MapScene(t, veh, (MapTrack("bystander 1", False, t, person, BYSTANDER_COLOURS[0]),), fence,
                    standoff_m=standoff_m)


@pytest.mark.parametrize(("vehicle_ned_m", "person_ned_m", "distance_m", "gap_m", "side", "cut_radius_m"), [
    ([15.0, 0.0, -1.0], [0.0, 0.0, 0.0], 15.0, 0.0, "level", 10.0),      # beside the body: the full standoff
    ([6.0, 0.0, -10.0], [0.0, 0.0, 0.0], 10.0, 8.0, "above", 6.0),       # 8 m over the head: a 6 m cut
    ([0.0, 0.0, -14.0], [0.0, 0.0, 0.0], 12.0, 12.0, "above", 0.0),      # overhead, above the standoff
])
def test_closest_approach_is_the_3d_distance_to_the_body(vehicle_ned_m, person_ned_m, distance_m, gap_m, side,
                                                         cut_radius_m) -> None:
    scene = _scene([[40.0, 40.0, -10.0], vehicle_ned_m, [40.0, -40.0, -10.0]], person_ned_m)
    a = closest_approach(scene, scene.people[0])
    assert a is not None
    assert a.t_s == 1.0
    assert a.distance_m == pytest.approx(distance_m)
    assert a.vertical_gap_m == pytest.approx(gap_m) and a.vertical_side == side
    assert a.standoff_radius_m(10.0) == pytest.approx(cut_radius_m)
    # The vehicle is outside the cut on the map exactly when the standoff held.
    across = math.hypot(*(a.vehicle_ne_m - a.person_ne_m))
    assert (across >= a.standoff_radius_m(10.0)) == (a.distance_m >= 10.0)


@pytest.mark.parametrize(("fence_half_m", "fence_in_view"), [(150.0, False), (30.0, True), (None, True)])
def test_map_view_zooms_to_the_tracks_and_says_whether_the_fence_is_in_view(fence_half_m, fence_in_view) -> None:
    scene = _scene([[0.0, 0.0, -10.0], [20.0, 5.0, -10.0]], [10.0, -5.0, 0.0], fence_half_m=fence_half_m)
    lo, hi, in_view = map_view_ne(scene)
    assert in_view == fence_in_view
    assert hi[0] - lo[0] == pytest.approx(hi[1] - lo[1])  # square, for an equal-aspect map
    assert np.all(lo <= [0.0 - 12.5, -5.0 - 12.5]) and np.all(hi >= [20.0 + 12.5, 5.0 + 12.5])  # standoff fits
    if fence_half_m is not None and fence_in_view:
        assert np.all(lo <= -fence_half_m) and np.all(hi >= fence_half_m)
    if not fence_in_view:
        assert hi[0] - lo[0] < fence_half_m


def test_map_from_estimates_without_ground_truth(tmp_path, figures) -> None:
    log = read_record(write_fake_run(tmp_path / "r.mcap", truth=False, duration_s=8.0))
    ctx = build_context(log)
    ax = _figure(plots.map_plot, log, ctx, figures).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "subject (estimate)" in labels and "bystanders (estimates, no identity)" in labels
    assert "estimated" in ax.get_title()
