"""ByteTracker: ids, life cycle, two-stage association, detection fates, ego-motion robustness."""

from __future__ import annotations

import numpy as np
import pytest

from drone_perception.config.perception import TrackerConfig
from drone_perception.errors import InvalidValueError
from drone_perception.track.bytetrack import ByteTracker, DetectionFate
from drone_perception.types import Detections, TrackState
from sim.tracking import scenarios as synth
from sim.tracking.metrics import mot_metrics, run_scenario

DT = 0.1


def _det(boxes, conf, stamp_s: float) -> Detections:
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    return Detections(b, np.asarray(conf, np.float32), np.zeros(len(b), np.int32), stamp_s)


def _walk(k: int) -> list[list[float]]:
    return [[100 + 4 * k, 100, 140 + 4 * k, 200], [400, 300 - 2 * k, 440, 400 - 2 * k]]


def test_ids_are_owned_by_each_instance_and_restart_after_reset() -> None:
    a, b = ByteTracker(), ByteTracker()
    ta = a.update(_det(_walk(0), [0.9, 0.9], 0.0), None, 0.0)
    tb = b.update(_det(_walk(0)[:1], [0.9], 0.0), None, 0.0)
    assert ta.track_id.tolist() == [1, 2]
    assert tb.track_id.tolist() == [1]
    a.reset()
    assert len(a) == 0
    assert a.update(_det(_walk(0)[1:], [0.9], 0.0), None, 0.0).track_id.tolist() == [1]


@pytest.mark.parametrize("hits", [1, 2, 3, 5])
def test_tentative_until_min_confirm_hits(hits: int) -> None:
    tr = ByteTracker(TrackerConfig.model_validate({"min_confirm_hits": hits}))
    for k in range(hits):
        out = tr.update(_det(_walk(k), [0.9, 0.9], k * DT), None, DT if k else 0.0)
        want = TrackState.CONFIRMED if k + 1 >= hits else TrackState.TENTATIVE
        assert out.state.tolist() == [want, want]
    assert out.track_id.tolist() == [1, 2]


@pytest.mark.parametrize(("gap_s", "confirmed"), [(0.0, False), (0.1, True)])
def test_a_tentative_track_survives_a_missed_frame_within_tentative_max_lost_s(gap_s: float,
                                                                               confirmed: bool) -> None:
    """Hit, miss, hit, hit: with tentative_max_lost_s 0 (ByteTrack's rule) the miss deletes the tentative track
    and the next hits start a new one (id 2, still tentative); within the gap the same track is confirmed."""
    tr = ByteTracker(TrackerConfig.model_validate({"min_confirm_hits": 3, "tentative_max_lost_s": gap_s}))
    tr.update(_det(_walk(0)[:1], [0.9], 0.0), None, 0.0)
    tr.update(_det(np.zeros((0, 4)), [], DT), None, DT)  # the detector missed the person in this frame
    tr.update(_det(_walk(2)[:1], [0.9], 2 * DT), None, DT)
    out = tr.update(_det(_walk(3)[:1], [0.9], 3 * DT), None, DT)
    if confirmed:
        assert out.track_id.tolist() == [1] and out.state.tolist() == [TrackState.CONFIRMED]
    else:
        assert out.track_id.tolist() == [2] and out.state.tolist() == [TrackState.TENTATIVE]


def test_lost_track_is_kept_max_lost_s_then_removed_and_can_be_recovered() -> None:
    cfg = TrackerConfig.model_validate({"max_lost_s": 0.5, "min_confirm_hits": 1})
    tr = ByteTracker(cfg)
    for k in range(5):
        tr.update(_det(_walk(k), [0.9, 0.9], k * DT), None, DT if k else 0.0)
    # track 2 disappears for 0.3 s (kept as LOST), comes back with the same id
    for k in range(5, 8):
        out = tr.update(_det(_walk(k)[:1], [0.9], k * DT), None, DT)
        assert out.state[out.index_of(2)] == TrackState.LOST
    out = tr.update(_det(_walk(8), [0.9, 0.9], 0.8), None, DT)
    assert out.track_id.tolist() == [1, 2] and out.state.tolist() == [TrackState.CONFIRMED] * 2
    # now gone for longer than max_lost_s
    for k in range(9, 16):
        out = tr.update(_det(_walk(k)[:1], [0.9], k * DT), None, DT)
    assert out.track_id.tolist() == [1]


def test_low_score_detection_extends_a_track_but_never_starts_one() -> None:
    tr = ByteTracker(TrackerConfig.model_validate({"min_confirm_hits": 1}))
    tr.update(_det(_walk(0)[:1], [0.9], 0.0), None, 0.0)
    out = tr.update(_det(_walk(1), [0.3, 0.3], DT), None, DT)
    fate = tr.last_assignment.fate.tolist()
    assert fate == [DetectionFate.MATCHED, DetectionFate.LOW_SCORE_UNMATCHED]
    assert tr.last_assignment.track_id.tolist() == [1, -1]
    assert out.track_id.tolist() == [1] and out.state[0] == TrackState.CONFIRMED


@pytest.mark.parametrize(
    ("conf", "fate"),
    [(0.9, DetectionFate.NEW_TRACK), (0.3, DetectionFate.LOW_SCORE_UNMATCHED),
     (0.05, DetectionFate.BELOW_LOW_THRESHOLD)],
)
def test_every_detection_gets_a_fate(conf: float, fate: DetectionFate) -> None:
    tr = ByteTracker()
    tr.update(_det(_walk(0)[:1], [conf], 0.0), None, 0.0)
    assert tr.last_assignment.fate.tolist() == [fate]


def test_inputs_are_not_mutated_and_outputs_are_read_only() -> None:
    tr = ByteTracker()
    det = _det(_walk(0), [0.9, 0.2], 0.0)
    before = det.xyxy_px.copy()
    out = tr.update(det, None, 0.0)
    assert np.array_equal(det.xyxy_px, before)
    with pytest.raises(ValueError):
        out.xyxy_px[0, 0] = 1.0


def test_class_ids_never_mix() -> None:
    tr = ByteTracker(TrackerConfig.model_validate({"min_confirm_hits": 1}))
    b = np.array([[100, 100, 140, 200]], np.float32)
    tr.update(Detections(b, np.array([0.9], np.float32), np.array([0], np.int32), 0.0), None, 0.0)
    out = tr.update(Detections(b, np.array([0.9], np.float32), np.array([1], np.int32), DT), None, DT)
    assert sorted(out.track_id.tolist()) == [1, 2]


@pytest.mark.parametrize("dt_s", [-0.01, float("nan"), 100.0])
def test_bad_dt_is_rejected(dt_s: float) -> None:
    with pytest.raises(InvalidValueError, match="dt_s"):
        ByteTracker().update(_det(_walk(0), [0.9, 0.9], 0.0), None, dt_s)


def test_inconsistent_thresholds_are_rejected() -> None:
    with pytest.raises(InvalidValueError, match="low_threshold"):
        ByteTracker(TrackerConfig.model_construct(high_threshold=0.3, low_threshold=0.4))


def test_filter_state_is_inspectable() -> None:
    tr = ByteTracker()
    tr.update(_det(_walk(0), [0.9, 0.9], 0.0), None, 0.0)
    x, P = tr.filter_state(1)
    assert x.shape == (8,) and P.shape == (8, 8)
    x[0] = -1.0  # a copy: the tracker is unaffected
    assert tr.filter_state(1)[0][0] != -1.0
    with pytest.raises(InvalidValueError, match="track_id"):
        tr.filter_state(99)


def test_ground_positions_are_filled_with_a_camera_and_nan_without() -> None:
    sc = synth.scenario("hover", rate_hz=10.0)
    tr = ByteTracker()
    fr = sc.frames[0]
    with_cam = tr.update(fr.detections, fr.camera, 0.0)
    tr.reset()
    no_cam = tr.update(fr.detections, None, 0.0)
    assert np.all(np.isfinite(with_cam.position_ned_m[:, :2])) and np.all(with_cam.position_sigma_m > 0)
    assert np.all(np.isnan(no_cam.position_ned_m)) and np.all(np.isnan(no_cam.position_sigma_m))


def test_ground_association_survives_drone_yaw_where_image_only_fails() -> None:
    sc = synth.scenario("yaw_pan", rate_hz=10.0)
    ground = mot_metrics(sc, run_scenario(sc, ByteTracker(), use_camera=True))
    image = mot_metrics(sc, run_scenario(sc, ByteTracker(), use_camera=False))
    assert ground["idf1"] > image["idf1"] + 0.3
    assert ground["id_switches"] < image["id_switches"]
