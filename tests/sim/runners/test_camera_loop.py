"""Camera in the loop: rendered frames through the shipped detector and the real tracker keep the subject
and the standoff; the annotated video is written; recall bookkeeping matches boxes by IoU."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drone_perception.config import StackConfig
from drone_perception.track.association import iou_matrix
from drone_perception.types import Detections
from sim.runners.camera import RecallCounter, run_camera_scenario
from sim.sensing.person_sprites import DEFAULT_PHOTO_DIR, load_photo_sprites
from sim.sensing.render import PersonView


@pytest.mark.parametrize("a, b, expected", [
    ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
    ((0, 0, 10, 10), (5, 0, 15, 10), 50 / 150),
    ((0, 0, 10, 10), (20, 20, 30, 30), 0.0),
])
def test_iou(a, b, expected) -> None:
    assert iou_matrix(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected)


def _view(pid: int, box: tuple[int, int, int, int], share: float = 1.0) -> PersonView:
    return PersonView(pid, tuple(float(v) for v in box), box, share, float(box[3] - box[1]), 20.0)


@pytest.mark.parametrize("dets, found, fps", [
    ([], 0, 0),
    ([(100, 100, 120, 150)], 1, 0),           # exact hit on the subject
    ([(100, 100, 120, 150), (0, 0, 5, 5)], 1, 1),
    ([(104, 110, 124, 160)], 0, 1),           # IoU < 0.5 is a miss and a false positive
    ([(300, 300, 310, 330), (100, 100, 120, 150)], 2, 0),
])
def test_recall_counter_matches_by_iou(dets, found, fps) -> None:
    views = (_view(0, (100, 100, 120, 150)), _view(1, (300, 300, 310, 330)), _view(2, (400, 0, 410, 30), 0.2))
    d = Detections(np.array(dets, np.float32).reshape(-1, 4), np.full(len(dets), 0.9, np.float32),
                   np.zeros(len(dets), np.int32), 0.0)
    rc = RecallCounter()
    rc.add(views, d, subject_id=0)
    table = rc.table()
    assert table["people_frames"] == 2  # the 20 % visible person is not ground truth
    assert table["recall"] == pytest.approx(found / 2)
    assert table["false_positives"] == fps


@pytest.mark.skipif(not (DEFAULT_PHOTO_DIR / "vtest.avi").is_file(),
                    reason="test video not fetched: run `make testdata` (python tests/data/fetch_test_data.py)")
def test_walk_with_camera_detects_subject_keeps_standoff_and_writes_video(tmp_path) -> None:
    """The defaults: people cut from the elevated video, the in-flight detection policy (full frame only)."""
    config = StackConfig()
    run = run_camera_scenario("walk", config, seed=0, duration_s=6.0, detector_rate_hz=5.0,
                              video_path_stem=tmp_path / "camera")
    res = run.result
    assert res.passed, res.failures
    assert res.min_separation_any_m >= config.safety.min_standoff_m
    assert res.commands_sent > 0  # the stack did follow (engaged and sending), not just hold
    assert run.recall["subject_recall"] >= 0.8, run.recall
    assert run.detector_frames == 30
    cap = cv2.VideoCapture(str(run.video_path))
    frames = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames += 1
        assert img.shape == (config.camera.height_px, config.camera.width_px, 3)
    cap.release()
    assert frames == run.detector_frames


@pytest.mark.skipif(not (DEFAULT_PHOTO_DIR / "bus.jpg").is_file(),
                    reason="test photos not fetched: run `make testdata` (python tests/data/fetch_test_data.py)")
def test_the_photo_sprites_and_the_tiles_policy_remain_available() -> None:
    config = StackConfig()
    run = run_camera_scenario("walk", config, seed=0, sprites=load_photo_sprites(), duration_s=3.0,
                              detector_rate_hz=5.0, policy="tiles")
    assert run.detector_passes_mean > 1.0  # tiles or crops on top of the full frame
    assert run.result.min_separation_any_m >= config.safety.min_standoff_m
    with pytest.raises(ValueError, match="policy"):
        run_camera_scenario("walk", config, seed=0, duration_s=1.0, policy="roi")


class _BlindDetector:
    """Sees nobody (as the shipped detector with drawn silhouettes it does not recognise)."""

    def detect_image(self, image_bgr: np.ndarray, stamp_s: float = 0.0) -> Detections:
        return Detections.empty(stamp_s)


def test_camera_run_whose_detector_sees_nothing_is_not_a_pass() -> None:
    from sim.sensing.person_sprites import procedural_sprites

    run = run_camera_scenario("walk", StackConfig(), seed=0, sprites=procedural_sprites(0), detector=_BlindDetector(),
                              duration_s=4.0, detector_rate_hz=5.0)
    res = run.result
    assert not res.passed
    assert res.safety_failures == []
    assert res.subject_in_view_share > 0.5  # in the frame, but never detected: nothing locked, only holds
    assert res.commands_sent > 0 and res.motion_commands == 0
    assert res.mission_failures == ["no motion command sent (only holds)"]
