"""#12 item 3: a box cut by the image bottom must not be placed from its (cut) bottom edge.

A detector's box edges jitter by a few per cent of the box height, so a box truncated by the image border often
ends a few pixels above it. Counted as cut only within 1 px of the border, such a box was placed from its
bottom edge as if it were the feet: the range came out biased far (+0.55 m, up to 1.4 m) with a small sigma,
and the tracker averaged it into a confident, biased position (a standing bystander 2 m off the path came within
9.93 m of a 10 m standoff). Now it is placed from its head, and the truth lies within its uncertainty.
"""

from __future__ import annotations

import numpy as np
import pytest

from drone_perception.geometry import locate_people, person_box
from drone_perception.types import CameraIntrinsics, CameraModel


@pytest.mark.parametrize("lift_px", [0.0, 2.0, 5.0, 8.0])
@pytest.mark.parametrize("below_m", [0.3, 1.0])
def test_a_box_cut_by_the_image_bottom_is_not_placed_from_its_bottom_edge(lift_px: float, below_m: float) -> None:
    intr = CameraIntrinsics.from_hfov(1.2, (1280, 720))
    cam = CameraModel.from_gimbal(intr, np.array([0.0, 0.0, -12.5]), 0.0, -0.35)
    # The ground point at the image bottom's centre, then a person standing ``below_m`` nearer: feet cut off.
    ray = cam.R_ned_from_cam @ np.array([0.0, (720 - intr.cy_px) / intr.fy_px, 1.0])
    edge = cam.position_ned_m + ray * (12.5 / ray[2])
    foot = np.array([edge[0] - below_m, 0.0, 0.0])
    box, visible = person_box(cam, foot[None, :], np.array([1.75]), np.array([0.5]))
    assert visible[0] and box[0, 3] == pytest.approx(720.0)  # clipped at the bottom
    jittered = box.copy()
    jittered[0, 3] -= lift_px  # the detector's bottom edge ends a little above the border
    fix = locate_people(cam, jittered)
    assert fix.valid[0]
    err = fix.position_ned_m[0, :2] - foot[:2]
    sigma = float(np.sqrt(np.max(np.linalg.eigvalsh(fix.cov_ned_m2[0, :2, :2]))))
    assert np.linalg.norm(err) <= 2.0 * sigma + 0.05, (err, sigma)
    assert err[0] <= 2.0 * sigma  # not biased far (north, away from the camera) beyond its own uncertainty


def test_a_box_well_inside_the_image_still_uses_its_feet() -> None:
    intr = CameraIntrinsics.from_hfov(1.2, (1280, 720))
    cam = CameraModel.from_gimbal(intr, np.array([0.0, 0.0, -12.5]), 0.0, -0.35)
    foot = np.array([30.0, 1.0, 0.0])
    box, _ = person_box(cam, foot[None, :], np.array([1.75]), np.array([0.5]))
    fix = locate_people(cam, box)
    assert np.linalg.norm(fix.position_ned_m[0, :2] - foot[:2]) < 0.05
    sigma = float(np.sqrt(np.max(np.linalg.eigvalsh(fix.cov_ned_m2[0, :2, :2]))))
    assert sigma < 1.0  # a confident fix: the foot cue is in use
