"""The shipped default detector finds the people in real elevated video: 8 frames of OpenCV's ``vtest.avi`` (people
walking seen from a building, 768x576; fetched by ``make testdata`` from the opencv-python sdist) against the boxes
in ``tests/data/vtest_labels.json``. Protocol and figures: ``tools/eval_vtest.py``, ``tests/data/DATA_CARD.md``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools"))

from eval_vtest import VIDEO, evaluate, load_frames  # noqa: E402

from drone_perception.detect import load_detector  # noqa: E402


@pytest.fixture(scope="module")
def labelled():
    if not VIDEO.is_file():
        failed = VIDEO.parent / "FETCH_FAILED"
        why = failed.read_text().strip() if failed.is_file() else "not fetched yet"
        pytest.skip(f"test video unavailable ({why}); run `make testdata`")
    return load_frames()


def test_the_labels_cover_eight_frames_and_46_people(labelled) -> None:
    frames, gts = labelled
    assert len(frames) == 8 and sum(len(g.pos) for g in gts) == 46 and sum(len(g.ign) for g in gts) == 4


def test_the_shipped_default_finds_the_people_an_elevated_camera_sees(labelled) -> None:
    """Measured 46/46 found; precision 0.98 for boxes >= 60 px (one false box: the tripod). Under 60 px: 3 of 3
    found and 7 false boxes, 6 of them on the same small blue sign stand, 1 on a traffic cone. The floors leave
    room for one changed decision, not for a weaker detector."""
    frames, gts = labelled
    res = evaluate(load_detector(), frames, gts, 0.35)
    assert res["R>=60"] >= 0.95 and res["P>=60"] >= 0.9, res
    assert res["R_all"] >= 0.95, res
