"""ROI crops and tiles: windows stay in the frame, crop boxes map back to frame pixels, merged by NMS."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from drone_perception.detect.tiling import RoiTilingDetector, TilingConfig, roi_windows, tile_windows
from drone_perception.errors import InvalidValueError
from drone_perception.types import CameraIntrinsics, CameraModel, Detections, Frame


class BlobDetector:
    """Fake detector: boxes every pure-white pixel region's bounding box (one blob), in crop pixels."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def detect_image(self, image_bgr: np.ndarray, stamp_s: float = 0.0) -> Detections:
        self.calls.append(image_bgr.shape[:2])
        ys, xs = np.nonzero(image_bgr[:, :, 0] == 255)
        if xs.size == 0:
            return Detections.empty(stamp_s)
        box = [[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]]
        return Detections(np.array(box, np.float32), np.array([0.9], np.float32), np.zeros(1, np.int32), stamp_s)


def _frame(img: np.ndarray) -> Frame:
    h, w = img.shape[:2]
    return Frame(img, 2.0, 0, CameraModel(CameraIntrinsics.from_hfov(1.2, (w, h)), np.eye(3), np.zeros(3)))


@given(x=st.integers(0, 1900), y=st.integers(0, 1060), bw=st.integers(2, 300), bh=st.integers(2, 300))
def test_roi_windows_are_square_inside_and_contain_the_roi(x, y, bw, bh):
    roi = np.array([[x, y, min(x + bw, 1920), min(y + bh, 1080)]], np.float64)
    (x1, y1, x2, y2), = roi_windows(roi, (1920, 1080), TilingConfig())
    assert 0 <= x1 < x2 <= 1920 and 0 <= y1 < y2 <= 1080
    assert x2 - x1 == y2 - y1
    if max(bw, bh) * 3 <= 1080:
        assert x1 <= roi[0, 0] and y1 <= roi[0, 1] and x2 >= roi[0, 2] and y2 >= roi[0, 3]


@pytest.mark.parametrize("grid", [(1, 1), (2, 2), (3, 2), (4, 3)])
def test_tiles_cover_the_frame(grid):
    wins = tile_windows((1920, 1080), TilingConfig(tile_grid=grid))
    assert len(wins) == grid[0] * grid[1]
    cover = np.zeros((1080, 1920), bool)
    for x1, y1, x2, y2 in wins:
        cover[y1:y2, x1:x2] = True
    assert cover.all()


def test_roi_box_maps_back_to_frame_pixels_and_merges():
    img = np.zeros((1080, 1920, 3), np.uint8)
    img[500:530, 1200:1212] = 255  # a 12 x 30 px "person"
    before = img.copy()
    fake = BlobDetector()
    det = RoiTilingDetector(fake, TilingConfig())
    out = det.detect(_frame(img), rois_xyxy_px=[[1195, 495, 1215, 535]])
    np.testing.assert_array_equal(img, before)
    assert len(fake.calls) == 2  # full frame + one ROI
    assert len(out) == 1  # the same blob seen twice is merged
    np.testing.assert_allclose(out.xyxy_px[0], [1200, 500, 1212, 530])
    assert out.stamp_s == 2.0


def test_person_cut_by_an_inner_crop_edge_is_dropped():
    img = np.zeros((600, 800, 3), np.uint8)
    img[100:200, 390:410] = 255  # straddles the vertical seam of a 2x1 tiling without overlap
    det = RoiTilingDetector(BlobDetector(), TilingConfig(full_frame=False, tile_grid=(2, 1), tile_overlap=0.0))
    assert len(det.detect(_frame(img))) == 0  # both halves touch the seam: not trusted
    det_full = RoiTilingDetector(BlobDetector(), TilingConfig(tile_grid=(2, 1), tile_overlap=0.0))
    assert len(det_full.detect(_frame(img))) == 1  # the full-frame pass keeps the whole person


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"roi_context": 0.5}, "roi_context"), ({"roi_min_side_px": 8}, "roi_min_side_px"),
     ({"tile_overlap": 0.7}, "tile_overlap"), ({"tile_grid": (2, 0)}, "tile_grid"), ({"merge_iou": 0.0}, "merge_iou")],
)
def test_bad_tiling_config(kwargs, field):
    with pytest.raises(InvalidValueError, match=field):
        TilingConfig(**kwargs)
