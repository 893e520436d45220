"""``drone-perception detect`` and ``export`` end to end (small synthetic model, temp files)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from drone_perception.cli import main

from .synthetic_models import ultralytics_like


@pytest.fixture()
def model(tmp_path):
    return str(ultralytics_like(tmp_path / "m.onnx"))


def test_detect_directory_writes_annotations_and_json(tmp_path, model):
    src = tmp_path / "imgs"
    src.mkdir()
    cv2.imwrite(str(src / "bright.png"), np.full((64, 96, 3), 255, np.uint8))
    cv2.imwrite(str(src / "dark.png"), np.zeros((64, 96, 3), np.uint8))
    (src / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "out"
    assert main(["detect", str(src), "--out", str(out), "--model", model]) == 0
    data = json.loads((out / "detections.json").read_text())
    by = {r["source"]: r for r in data["frames"]}
    assert len(by["bright.png"]["detections"]) == 1 and by["dark.png"]["detections"] == []
    assert "error" in by["broken.jpg"]
    assert (out / "bright_detections.jpg").is_file()
    # #14: the model's path and sha256 (not "default"), and a summary without -v
    import hashlib

    assert data["model"]["path"] == model
    assert data["model"]["sha256"] == hashlib.sha256(Path(model).read_bytes()).hexdigest()
    assert data["schema"] == "drone-perception/detections/1"


def test_detect_prints_a_summary_and_progress(tmp_path, model, capsys):
    src = tmp_path / "imgs"
    src.mkdir()
    for k in range(30):
        cv2.imwrite(str(src / f"f{k:02d}.png"), np.full((32, 48, 3), 255, np.uint8))
    assert main(["detect", str(src), "--out", str(tmp_path / "o"), "--model", model]) == 0
    captured = capsys.readouterr()
    assert "detect: 30 frame(s), 30 detection(s)" in captured.out and "sha256" in captured.out
    assert "25/30 images" in captured.err


def test_detect_video_stops_cleanly_at_the_end(tmp_path, model):
    video = tmp_path / "v.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 64))
    for i in range(5):
        writer.write(np.full((64, 64, 3), 255 if i % 2 else 0, np.uint8))
    writer.release()
    out = tmp_path / "out"
    assert main(["detect", str(video), "--out", str(out), "--model", model]) == 0
    frames = json.loads((out / "detections.json").read_text())["frames"]
    assert [f["frame"] for f in frames] == [0, 1, 2, 3, 4]
    assert [f["stamp_s"] for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert (out / "v_detections.mp4").stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["detect", "{tmp}/nope.jpg", "--out", "{tmp}/o"], "input not found"),
        (["detect", "{tmp}/bad.jpg", "--out", "{tmp}/o"], "cannot decode"),
        (["detect", "{tmp}/bad.jpg", "--out", "{tmp}/o", "--model", "{tmp}/missing.onnx"], "model file not found"),
        (["export", "{tmp}/missing.pt"], "not found"),
        (["export", "{tmp}/m.txt"], "expected ultralytics weights"),
        (["export", "{tmp}/m.txt", "--engine"], "needs an .onnx"),
    ],
)
def test_cli_errors_are_clear(tmp_path, capsys, argv, message):
    (tmp_path / "bad.jpg").write_bytes(b"junk")
    (tmp_path / "m.txt").write_text("x")
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    assert message in capsys.readouterr().err


def test_export_pt_without_the_extra_says_how_to_install(tmp_path, capsys):
    try:
        import ultralytics  # noqa: F401
        pytest.skip("ultralytics is installed here; the missing-extra message cannot be observed")
    except ImportError:
        pass
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"\x00")
    assert main(["export", str(weights)]) == 2
    assert "'export' extra" in capsys.readouterr().err
