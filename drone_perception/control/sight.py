"""Speed bounded by sight, "assured clear distance ahead" (issue 11 item 5).

The people constraints protect every person the stack has seen; the unobserved-direction cap limits speed into
space the camera has not looked at. What is left is a person *in* observed space whom the detector has not yet
found. The shipped detector's measured profile (:data:`DETECTOR_PROFILE`, the simulator's calibrated one)
misses a person of input height ``h`` px in a frame with probability
``floor + (p_min - floor) * exp(-(h - h_min) / scale)`` (always below ``h_min``). A person is *found reliably*
when missed in every frame of the reaction budget (``SIGHT_REACTION_S`` at the camera's rate) with probability
at most ``SIGHT_MISS_ALL`` (1e-3): :func:`sight_range_m` is the slant range within which that holds, for the
camera's field of view (the frame is resized to the detector's input width, so the camera's pixel count does
not matter).

A person first found at that range may have closed during the reaction budget at the design person speed ``g``
while the vehicle flew at ``v``; the existing standoff law must still be able to stop short:
``v + g <= v_allow(R - (v + g) * t_r - standoff)`` (:func:`sight_speed_cap_mps`). The governor caps the
horizontal speed at that ``v`` while the vehicle is below the ground-safe height (where a person on the ground
could come within the standoff at all); above it no person on the ground can, and the cap does not apply.
"""

from __future__ import annotations

import math

from drone_perception.config.limits import PERSON_HEIGHT_M
from drone_perception.control.standoff import STANDOFF_EPS_M, allowed_closing_speed

#: The shipped default detector's miss curve at its own input (px), from its calibration (models/MODEL_CARD.md,
#: models/sim_profile_fit.json): input width, the smallest box it ever finds, the miss probability there, the
#: height scale over which misses fall, and the floor they fall to.
DETECTOR_PROFILE = {"input_width_px": 960.0, "min_height_px": 25.0, "miss_at_min": 0.66, "height_scale_px": 29.0,
                    "miss_floor": 0.01}
#: Reaction budget (s): a person must be found in at least one of its frames ...
SIGHT_REACTION_S = 0.5
#: ... except with at most this probability.
SIGHT_MISS_ALL = 1e-3


def miss_probability(input_height_px: float) -> float:
    p = DETECTOR_PROFILE
    if input_height_px < p["min_height_px"]:
        return 1.0
    return p["miss_floor"] + (p["miss_at_min"] - p["miss_floor"]) * math.exp(
        -(input_height_px - p["min_height_px"]) / p["height_scale_px"])


def reliable_input_height_px(frames: int, miss_all: float = SIGHT_MISS_ALL) -> float:
    """The smallest input height (px) at which ``frames`` independent looks all miss with probability at most
    ``miss_all``; inf when even the floor cannot do it in that many frames."""
    if frames < 1:
        return math.inf
    per_frame = miss_all ** (1.0 / frames)
    p = DETECTOR_PROFILE
    if per_frame <= p["miss_floor"]:
        return math.inf
    if per_frame >= p["miss_at_min"]:
        return p["min_height_px"]
    return p["min_height_px"] + p["height_scale_px"] * math.log(
        (p["miss_at_min"] - p["miss_floor"]) / (per_frame - p["miss_floor"]))


def sight_range_m(hfov_rad: float, rate_hz: float, reaction_s: float = SIGHT_REACTION_S,
                  miss_all: float = SIGHT_MISS_ALL) -> float:
    """Slant range (m) within which a standing person is found reliably (module docstring); 0 when never."""
    h = reliable_input_height_px(max(1, math.floor(reaction_s * rate_hz + 1e-9)), miss_all)
    if not math.isfinite(h):
        return 0.0
    focal_input_px = (DETECTOR_PROFILE["input_width_px"] / 2.0) / math.tan(hfov_rad / 2.0)
    return focal_input_px * PERSON_HEIGHT_M / h


def sight_speed_cap_mps(range_m: float, standoff_m: float, person_speed_mps: float, *, reaction_s: float,
                        decel_mps2: float, horizon_s: float, max_speed_mps: float) -> float:
    """Largest vehicle speed ``v`` (<= ``max_speed_mps``) with ``c = v + g`` satisfying
    ``c <= allowed_closing_speed(range - c * reaction_s - standoff - eps)``: a person first found at ``range_m``
    after closing at ``c`` for the reaction budget can still be kept outside the standoff. 0 when none."""

    def ok(v: float) -> bool:
        c = v + person_speed_mps
        budget = range_m - c * reaction_s - standoff_m - STANDOFF_EPS_M
        return c <= allowed_closing_speed(budget, decel_mps2, horizon_s, max_speed_mps + person_speed_mps)

    if not ok(0.0):
        return 0.0
    if ok(max_speed_mps):
        return max_speed_mps
    lo, hi = 0.0, max_speed_mps  # ok(lo), not ok(hi); ok is monotone (the budget falls and c rises with v)
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


__all__ = ["DETECTOR_PROFILE", "SIGHT_MISS_ALL", "SIGHT_REACTION_S", "miss_probability", "reliable_input_height_px",
           "sight_range_m", "sight_speed_cap_mps"]
