"""The camera video: H.264 mp4 when an encoder is installed (PyAV's libx264, else OpenCV's), else a warned, named
fallback; every frame written comes back, at the rate asked, in the size of the frames."""

from __future__ import annotations

import builtins
import logging
import os
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from sim.runners import camera
from sim.runners.camera import VIDEO_CODECS, AnnotatedVideo

try:
    import av

    av.codec.Codec("libx264", "w")
    HAVE_PYAV_H264 = True
except Exception:
    HAVE_PYAV_H264 = False


def _frames(n: int, size_wh_px: tuple[int, int]) -> list[np.ndarray]:
    w, h = size_wh_px
    out = []
    for i in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        cv2.putText(img, str(i), (10, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 255, 255), 2)
        out.append(img)
    return out


def _read_back(path) -> tuple[int, tuple[int, int], float, str]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    n, shape = 0, (0, 0)
    while True:
        ok, img = cap.read()
        if not ok:
            break
        n, shape = n + 1, img.shape[:2]
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode("ascii", "replace").lower()
    cap.release()
    return n, shape, fps, fourcc


def _write(stem, size_wh_px=(320, 240), n=12, fps=5.0) -> AnnotatedVideo:
    video = AnnotatedVideo(stem, fps, size_wh_px)
    for img in _frames(n, size_wh_px):
        video.write(img)
    video.close()
    return video


@pytest.mark.skipif(not HAVE_PYAV_H264, reason="PyAV with libx264 not installed (pip install av)")
@pytest.mark.parametrize("size_wh_px", [(320, 240), (321, 241)])
def test_video_is_h264_mp4_at_the_rate_asked(tmp_path, size_wh_px) -> None:
    video = _write(tmp_path / "camera", size_wh_px)
    assert video.codec == "h264" and video.browser_playable
    assert video.path.suffix == ".mp4"
    n, shape, fps, fourcc = _read_back(video.path)
    assert n == 12
    assert fps == pytest.approx(5.0)
    assert fourcc in ("avc1", "h264")
    w, h = size_wh_px
    assert shape == (h + h % 2, w + w % 2)  # padded to even for 4:2:0
    with av.open(str(video.path)) as container:
        ctx = container.streams.video[0].codec_context
        assert ctx.name == "h264" and ctx.pix_fmt == "yuv420p"  # what browsers decode
    assert not list(tmp_path.glob(".h264-probe*"))


def test_without_pyav_falls_back_with_a_warning_naming_the_codec(tmp_path, monkeypatch, caplog) -> None:
    real_import = builtins.__import__

    def no_av(name, *args, **kwargs):
        if name == "av" or name.startswith("av."):
            raise ImportError("No module named 'av' (test)")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_av)
    monkeypatch.setattr(camera, "_opencv_h264_works", lambda directory, fps: None)
    with caplog.at_level(logging.WARNING, logger="sim.runners.camera"):
        video = _write(tmp_path / "camera")
    assert video.codec == "mpeg4" and not video.browser_playable
    assert video.path.name == "camera.mp4"
    assert any("MPEG-4 Part 2" in r.getMessage() and "browsers do not play" in r.getMessage()
               for r in caplog.records), caplog.text
    n, _, fps, _ = _read_back(video.path)
    assert n == 12 and fps == pytest.approx(5.0)


def test_codec_is_one_of_the_named(tmp_path) -> None:
    assert _write(tmp_path / "camera", n=3).codec in VIDEO_CODECS


CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and os.path.exists(p)), None)

_PLAYER = """<!DOCTYPE html><html><body><video id="v" src="{src}" muted preload="auto"></video>
<div id="out">pending</div>
<script>
const v = document.getElementById('v'), out = document.getElementById('out');
v.addEventListener('loadeddata', () => {{ out.textContent = 'loaded ' + v.videoWidth + 'x' + v.videoHeight; }});
v.addEventListener('error', () => {{ out.textContent = 'error ' + (v.error && v.error.code); }});
</script></body></html>"""


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium)")
@pytest.mark.skipif(not HAVE_PYAV_H264, reason="PyAV with libx264 not installed (pip install av)")
def test_h264_video_plays_in_chromium(tmp_path) -> None:
    video = _write(tmp_path / "camera", (320, 240))
    page = tmp_path / "player.html"
    page.write_text(_PLAYER.format(src=video.path.name), encoding="utf-8")
    res = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                          "--no-first-run", "--disable-sync", "--disable-background-networking",
                          f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
                          page.resolve().as_uri()], capture_output=True, text=True, timeout=90, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    assert '<div id="out">loaded 320x240</div>' in res.stdout, res.stdout[-500:]
