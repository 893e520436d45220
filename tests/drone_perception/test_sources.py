"""Frame sources: clear errors on missing/corrupt input, a clean stop at the end of a finite source."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drone_perception.errors import SourceError, SourceExhausted
from drone_perception.sources import ImageSource, VideoSource, open_source


def _write_video(path, n=5, size=(64, 48)):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    for i in range(n):
        img = np.full((size[1], size[0], 3), 20 * i, np.uint8)
        w.write(img)
    w.release()


def test_image_directory_in_name_order(tmp_path):
    for name in ("b.png", "a.png"):
        cv2.imwrite(str(tmp_path / name), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "notes.txt").write_text("x")
    names = [f.name for f in ImageSource(tmp_path)]
    assert names == ["a.png", "b.png"]


def test_grey_image_becomes_bgr(tmp_path):
    cv2.imwrite(str(tmp_path / "g.png"), np.zeros((8, 8), np.uint8))
    f = ImageSource(tmp_path / "g.png").read()
    assert f.image.shape == (8, 8, 3)


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (lambda p: p / "missing.png", "no such file"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "holds no images"),
    ],
)
def test_image_source_errors(tmp_path, setup, error):
    with pytest.raises(SourceError, match=error):
        ImageSource(setup(tmp_path))


def test_corrupt_image_is_a_source_error(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg at all")
    src = ImageSource(tmp_path / "bad.jpg")
    with pytest.raises(SourceError, match="unreadable"):
        src.read()


def test_video_ends_cleanly(tmp_path):
    path = tmp_path / "v.avi"
    _write_video(path, n=5)
    src = open_source(path)
    assert isinstance(src, VideoSource)
    frames = list(src)
    assert len(frames) == 5
    assert [f.seq for f in frames] == list(range(5))
    with pytest.raises(SourceExhausted):
        src.read()
    src.close()


def test_missing_video_is_clear(tmp_path):
    with pytest.raises(SourceError, match="no such video file"):
        VideoSource(tmp_path / "nope.mp4")
