"""The operator's ground-station click or box: one rule on every path (charter: the operator chooses the subject).

A click inside two confirmed boxes, or a box overlapping two tracks about equally, is refused with the reason the
ground station shows (it used to lock the nearest track on the path that flies)."""

from __future__ import annotations

import numpy as np
import pytest

from drone_perception.config import StackConfig
from drone_perception.pipeline import Pipeline
from drone_perception.selection import PipelineTrackingHandler
from drone_perception.track.bytetrack import ByteTracker
from drone_perception.track.lock import LockState
from drone_perception.types import CameraIntrinsics, Tracks, TrackState

K = CameraIntrinsics.from_hfov(np.deg2rad(90.0), (1000, 500))
C, T = TrackState.CONFIRMED, TrackState.TENTATIVE


def _pipeline(boxes: list[list[float]], states: list[int]) -> Pipeline:
    cfg = StackConfig()
    p = Pipeline(cfg, tracker=ByteTracker(cfg.tracker))
    n = len(boxes)
    p._tracks = Tracks(track_id=np.arange(1, n + 1, dtype=np.int64), xyxy_px=np.array(boxes, float).reshape(-1, 4),
                       state=states, age_s=np.ones(n),
                       position_ned_m=np.array([[20.0, 2.0 * i, 0.0] for i in range(n)]),
                       position_sigma_m=np.full(n, 0.3), stamp_s=1.0)
    return p


# Two overlapping people (1 and 2) and one apart (3); a click is a normalised point on the 1000 x 500 image.
BOXES = [[100, 100, 200, 400], [150, 100, 250, 400], [600, 100, 700, 400]]


@pytest.mark.parametrize(("u_px", "v_px", "states", "locked", "reason"), [
    (175, 250, [C, C, C], None, "ambiguous click"),   # inside boxes 1 and 2: refused, never "the nearest"
    (120, 250, [C, C, C], 1, "locked track 1"),
    (650, 250, [C, C, C], 3, "locked track 3"),
    (175, 250, [C, T, C], 1, "locked track 1"),       # a tentative track is no candidate
    (400, 250, [C, C, C], None, "no confirmed track"),
])
def test_a_click_locks_only_an_unambiguous_confirmed_track(u_px: float, v_px: float, states: list[int],
                                                           locked: int | None, reason: str) -> None:
    pipeline = _pipeline(BOXES, states)
    told: list[int | None] = []
    handler = PipelineTrackingHandler(pipeline, K, on_change=told.append)
    ok, why = handler.on_track_point(u_px / 1000, v_px / 500)
    assert ok is (locked is not None)
    assert reason in why
    assert not why.startswith("refused")  # the ground station prefixes "track refused: "
    assert pipeline.lock.track_id == locked
    assert told == ([] if locked is None else [locked])
    assert pipeline.lock.state is (LockState.NONE if locked is None else LockState.LOCKED)


@pytest.mark.parametrize(("box_px", "locked", "reason"), [
    ([100, 100, 250, 400], None, "ambiguous box"),   # overlaps 1 and 2 about equally
    ([95, 95, 205, 405], 1, "locked track 1"),
    ([300, 100, 400, 400], None, "no track overlaps"),
])
def test_a_box_locks_only_an_unambiguous_track(box_px: list[float], locked: int | None, reason: str) -> None:
    pipeline = _pipeline(BOXES, [C, C, C])
    handler = PipelineTrackingHandler(pipeline, K)
    x1, y1, x2, y2 = box_px
    ok, why = handler.on_track_rectangle(x1 / 1000, y1 / 500, x2 / 1000, y2 / 500)
    assert ok is (locked is not None) and reason in why
    assert pipeline.lock.track_id == locked


def test_no_tracks_yet_is_refused_and_stop_releases() -> None:
    cfg = StackConfig()
    pipeline = Pipeline(cfg, tracker=ByteTracker(cfg.tracker))
    told: list[int | None] = []
    handler = PipelineTrackingHandler(pipeline, K, on_change=told.append)
    assert handler.on_track_point(0.5, 0.5) == (False, "no tracks yet")
    pipeline = _pipeline(BOXES, [C, C, C])
    handler = PipelineTrackingHandler(pipeline, K, on_change=told.append)
    assert handler.on_track_point(0.65, 0.5)[0]
    assert handler.on_stop_tracking() == (True, "released")
    assert pipeline.lock.state is LockState.NONE and told == [3, None]
