"""The feasible envelope, checked at load: a config whose follow offset, standoff, speed caps, fence floor and
ceiling cannot keep every person outside the standoff and the vehicle inside the fence is refused, naming the
fields and the reason (a limit that holds only for the default configuration is not a limit).

The argument (DESIGN.md, safety charter item 1). People are on the ground and at most ``PERSON_HEIGHT_M`` tall.
A vehicle at least ``min_standoff_m + PERSON_HEIGHT_M`` above the ground is outside the standoff of every person
on it, wherever they are and however fast they run, seen or not: no pursuit, blind zone or unseen sprinter can
reach it. So the follow height must be that *ground-safe height* plus :data:`GROUND_SAFE_MARGIN_M` (the altitude
controller's error and the governor's vertical stopping room), and it must fit inside the fence with room to
stop above the floor and below the ceiling. Horizontal motion toward people is still limited by the governor's
per-person constraints (a person on raised ground, a vehicle below the offset during the climb-out or after
the pilot flew it lower), but the standoff against ground-bound people no longer rests on perception.

What this cannot promise: people above the ground plane the stack assumes (a balcony, a hillside above the
subject's ground) and terrain that rises under the vehicle; the fence and the operator are the layers there.
"""

from __future__ import annotations

import math

from drone_perception.config.follow import FollowConfig
from drone_perception.config.limits import PERSON_HEIGHT_M
from drone_perception.config.perception import CameraConfig
from drone_perception.config.safety import FenceConfig, SafetyConfig

#: Height (m) kept above the ground-safe height by the follow offset: the vertical tracking error of a
#: multicopter's altitude hold (ArduCopter/PX4: a few decimetres) plus the governor's margin.
GROUND_SAFE_MARGIN_M = 0.5
#: Room (m) the follow height keeps above the fence floor and below the ceiling (and the tether's reach): the
#: fence binds on the predicted stopping point, so an offset nearer a boundary than this is reached only by
#: fighting the fence, and the altitude error of a multicopter in wind (a few decimetres) would breach it.
FENCE_ROOM_M = 2.0


def ground_safe_height_m(standoff_m: float) -> float:
    """Lowest height (m above the ground) at which no person on the ground is within ``standoff_m``."""
    return standoff_m + PERSON_HEIGHT_M


def min_follow_height_m(standoff_m: float) -> float:
    """The lowest ``follow.height_m`` the envelope accepts for a standoff (m)."""
    return ground_safe_height_m(standoff_m) + GROUND_SAFE_MARGIN_M


def envelope_problems(s: SafetyConfig, f: FollowConfig, fence: FenceConfig) -> list[str]:
    """Why a configuration's safety, follow and fence sections cannot keep the standoff and the fence together
    (each reason naming its fields); empty when they can."""
    problems: list[str] = []
    need = min_follow_height_m(s.min_standoff_m)
    if f.height_m < need:
        problems.append(
            f"follow.height_m={f.height_m:g} with safety.min_standoff_m={s.min_standoff_m:g}: a person running "
            f"under the vehicle would be {max(f.height_m - PERSON_HEIGHT_M, 0.0):.1f} m away, inside the standoff, "
            f"and a person faster than the vehicle (safety.design_person_speed_mps={s.design_person_speed_mps:g} "
            f"m/s against safety.max_horizontal_speed_mps={s.max_horizontal_speed_mps:g}) cannot be outrun; set "
            f"follow.height_m >= {need:g} (standoff + {PERSON_HEIGHT_M:g} m body + {GROUND_SAFE_MARGIN_M:g} m) or "
            "lower the standoff")
    top = fence.altitude_ceiling_m - FENCE_ROOM_M
    if f.height_m > top:
        problems.append(
            f"follow.height_m={f.height_m:g} with fence.altitude_ceiling_m={fence.altitude_ceiling_m:g}: the "
            f"offset must lie at least {FENCE_ROOM_M:g} m below the ceiling; raise the ceiling to at least "
            f"{f.height_m + FENCE_ROOM_M:g} m (or lower the standoff and the follow height)")
    floor = fence.altitude_floor_m + FENCE_ROOM_M
    if f.height_m < floor:
        problems.append(
            f"follow.height_m={f.height_m:g} with fence.altitude_floor_m={fence.altitude_floor_m:g}: the offset "
            f"must lie at least {FENCE_ROOM_M:g} m above the floor; set follow.height_m >= {floor:g} or lower "
            "the floor")
    if fence.tether_length_m is not None and f.height_m > fence.tether_length_m - FENCE_ROOM_M:
        problems.append(
            f"follow.height_m={f.height_m:g} with fence.tether_length_m={fence.tether_length_m:g}: the tether "
            f"sphere must reach {FENCE_ROOM_M:g} m above the offset; lengthen the tether to at least "
            f"{f.height_m + FENCE_ROOM_M:g} m or lower the standoff and the follow height")
    return problems


__all__ = ["FENCE_ROOM_M", "GROUND_SAFE_MARGIN_M", "envelope_problems", "ground_safe_height_m",
           "min_follow_height_m", "mission_warnings"]


#: Person height in the default detector's input (px) at which its measured recall is about 0.65 (the simulator's
#: calibrated profile, models/MODEL_CARD.md): smaller subjects are found too rarely to lock and follow. 41 px
#: (recall 0.6) left 5 of 1,166 campaign cases failing their mission unwarned, all at 42-52 px or within 1.3 deg
#: of the image's bottom edge; 44 px and the view margin below warn on all of them (and on 139 more that passed).
RELIABLE_INPUT_HEIGHT_PX = 44.0
#: The subject's centre must be this far inside the camera's vertical view (rad): at the edge a walking or
#: turning subject leaves the image half the time.
VIEW_MARGIN_RAD = math.radians(1.5)
#: Network input width (px) of the default detector, by which a camera frame is scaled.
DETECTOR_INPUT_WIDTH_PX = 960.0
#: The subject's body height assumed for these predictions (m).
SUBJECT_HEIGHT_M = 1.75


def mission_warnings(follow: FollowConfig, camera: CameraConfig) -> list[str]:
    """Why follow at this offset may never do its job with a fixed camera (not refusals: a gimbal that pitches
    or another detector changes the answer): the subject at the offset outside the camera's vertical view, or
    too small for the default detector to find reliably. A campaign over the legal envelope (issue 13) found
    every config that failed its mission (only holds, the subject never locked: 43 of 150 cases), and warned on
    half of the ones that did not (53 of 107): "may", not "will"."""
    out: list[str] = []
    vfov = 2.0 * math.atan(math.tan(camera.hfov_rad / 2.0) * camera.height_px / camera.width_px)
    top = -camera.gimbal_pitch_rad - vfov / 2.0  # depression of the image's top edge (rad)
    bottom = -camera.gimbal_pitch_rad + vfov / 2.0
    centre = math.atan2(follow.height_m - SUBJECT_HEIGHT_M / 2.0, follow.distance_m)
    if not top + VIEW_MARGIN_RAD <= centre <= bottom - VIEW_MARGIN_RAD:
        out.append(f"at the follow offset ({follow.distance_m:g} m behind, {follow.height_m:g} m up) the subject "
                   f"is seen {math.degrees(centre):.0f} deg below the horizon, outside the fixed camera's view "
                   f"({math.degrees(top):.0f}-{math.degrees(bottom):.0f} deg, less 1.5 deg at each edge, at "
                   f"camera.gimbal_pitch_rad={camera.gimbal_pitch_rad:g}): follow may never lock")
    slant = math.hypot(follow.distance_m, follow.height_m - SUBJECT_HEIGHT_M / 2.0)
    fy = (camera.width_px / 2.0) / math.tan(camera.hfov_rad / 2.0)
    px = fy * SUBJECT_HEIGHT_M / slant
    need = RELIABLE_INPUT_HEIGHT_PX * camera.width_px / DETECTOR_INPUT_WIDTH_PX
    if px < need:
        out.append(f"at the follow offset the subject is about {px:.0f} px tall in the image ({slant:.0f} m away); "
                   f"the default detector finds people under {need:.0f} px in fewer than 65 % of frames: follow "
                   "may never lock (lower the offset, a longer lens, or another detector)")
    return out
