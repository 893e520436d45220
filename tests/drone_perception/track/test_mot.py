"""MOTChallenge I/O and the ``track`` command: round trip, malformed files, end-to-end scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drone_perception.cli import main
from drone_perception.errors import InvalidValueError, SourceError
from drone_perception.track.association import iou_matrix
from drone_perception.track.mot import read_detections, write_detections
from sim.tracking import scenarios as synth


def test_round_trip_and_empty_frames(tmp_path: Path) -> None:
    sc = synth.scenario("hover", rate_hz=10.0)
    frames = [(k + 1, fr.detections) for k, fr in enumerate(sc.frames[:20]) if k != 5]
    p = tmp_path / "det.txt"
    write_detections(p, frames)
    got = list(read_detections(p).frames(fps=10.0))
    assert len(got) == 20
    assert len(got[5][1]) == 0  # frame 6 had no lines: empty detections, not skipped
    for (f, det), (g, back) in zip(frames[:5], got[:5]):
        assert f == g
        assert np.allclose(det.xyxy_px, back.xyxy_px, atol=0.01)
        assert back.stamp_s == pytest.approx((f - 1) / 10.0)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("1,-1,10,10,5", ">= 7"),
        ("1,-1,10,10,5,x,0.9", "not a number"),
        ("0,-1,10,10,5,5,0.9", "frame"),
        ("1,-1,10,10,-5,5,0.9", "width"),
        ("1,-1,10,nan,5,5,0.9", "NaN"),
    ],
)
def test_malformed_lines_name_the_line(tmp_path: Path, line: str, match: str) -> None:
    p = tmp_path / "det.txt"
    p.write_text("1,-1,1,1,2,2,0.5\n" + line + "\n")
    with pytest.raises(InvalidValueError, match=match) as info:
        read_detections(p)
    assert ":2:" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        read_detections(tmp_path / "nope.txt")


def test_track_command_writes_a_scorable_result(tmp_path: Path) -> None:
    import motmetrics as mm

    sc = synth.scenario("crossing", rate_hz=10.0)
    det, out = tmp_path / "det.txt", tmp_path / "res.txt"
    write_detections(det, [(k + 1, fr.detections) for k, fr in enumerate(sc.frames)])
    assert main(["track", "--mot", str(det), "--out", str(out), "--fps", "10"]) == 0
    res = np.loadtxt(out, delimiter=",").reshape(-1, 10)
    assert res.shape[0] > 0 and set(np.unique(res[:, 7:])) == {-1.0}
    acc = mm.MOTAccumulator(auto_id=True)
    for k, fr in enumerate(sc.frames):
        rows = res[res[:, 0] == k + 1]
        hyp = np.column_stack([rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]])
        iou = iou_matrix(fr.gt_xyxy_px, hyp)  # motmetrics' own iou_matrix needs NumPy < 2
        acc.update(fr.gt_id.tolist(), rows[:, 1].astype(int).tolist(), np.where(iou >= 0.5, 1 - iou, np.nan))
    mota = mm.metrics.create().compute(acc, metrics=["mota"], name="x").loc["x", "mota"]
    assert mota > 0.6


def test_track_command_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["track", "--mot", str(tmp_path / "none.txt"), "--out", str(tmp_path / "r.txt")]) == 2
    assert "not found" in capsys.readouterr().err


def _sequence(tmp_path: Path, rate_hz: float, scale: float = 1.0, ini: str | None = None) -> tuple[Path, Path]:
    """A MOTChallenge layout SEQ/det/det.txt (+ SEQ/seqinfo.ini) of a synthetic crossing, scores times ``scale``."""
    sc = synth.scenario("crossing", rate_hz=rate_hz)
    (tmp_path / "SEQ" / "det").mkdir(parents=True)
    det = tmp_path / "SEQ" / "det" / "det.txt"
    frames = [(k + 1, fr.detections) for k, fr in enumerate(sc.frames)]
    write_detections(det, frames)
    if scale != 1.0:  # a detector on another score scale (MOT15's public ACF: up to ~140)
        rows = np.loadtxt(det, delimiter=",").reshape(-1, 10)
        rows[:, 6] *= scale
        np.savetxt(det, rows, delimiter=",", fmt="%.3f")
    if ini is not None:
        (tmp_path / "SEQ" / "seqinfo.ini").write_text(ini)
    return det, tmp_path / "res.txt"


def test_track_takes_the_frame_rate_from_seqinfo_and_scales_scores(tmp_path: Path) -> None:
    """The time-based settings (lost-track time) need the real frame rate: a 7 fps sequence (PETS09) tracked as
    30 fps keeps lost tracks four times too many frames. Scores on a 0-100 scale are brought to 0-1."""
    det, out = _sequence(tmp_path, 10.0, scale=100.0, ini="[Sequence]\nname=SEQ\nframeRate=10\n")
    assert main(["track", "--mot", str(det), "--out", str(out), "--score-scale", "100"]) == 0
    with_ini = out.read_text()
    assert main(["track", "--mot", str(det), "--out", str(out), "--score-scale", "100", "--fps", "10"]) == 0
    assert out.read_text() == with_ini and with_ini  # the same as saying --fps 10
    assert main(["track", "--mot", str(det), "--out", str(out), "--fps", "10"]) == 0
    assert out.read_text() != with_ini  # raw scores of 0-100: every box is "high", the second stage never runs


@pytest.mark.parametrize(("args", "ini", "match"), [
    (["--score-scale", "0"], None, "--score-scale"),
    ([], "[Sequence]\nframeRate=fast\n", "frameRate"),
    ([], "no section header\n", "frameRate"),
])
def test_track_refuses_a_bad_scale_or_seqinfo(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                              ini: str | None, match: str) -> None:
    det, out = _sequence(tmp_path, 10.0, ini=ini)
    assert main(["track", "--mot", str(det), "--out", str(out), *args]) == 2
    assert match in capsys.readouterr().err
