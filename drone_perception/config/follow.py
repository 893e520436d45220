"""Follow controller configuration (offset from the subject, like PX4's FLW_TGT_DST/HT/FA)."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field


class FollowConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    distance_m: float = Field(
        15.0, gt=0.0, le=100.0,
        description="Horizontal distance (m) kept from the subject, in the direction angle_rad from its "
        "heading. With height_m and camera.gimbal_pitch_rad it sets where the subject appears in the image "
        "(15 m at 12.5 m with the default -0.45 rad pitch: in the lower half). Raising it films from farther "
        "(smaller subject); lowering it comes closer, but the governor never lets the 3D distance fall below "
        "the standoff.")
    height_m: float = Field(
        12.5, gt=0.0, le=100.0,
        description="Height (m, positive up) above the subject's ground point. It must be at least "
        "safety.min_standoff_m + 2 m (a person's body) + 0.5 m, the ground-safe height at which no person on "
        "the ground, however fast and whether seen or not, is within the standoff (measured at 10 m: a "
        "bystander running under the vehicle and chasing it from behind came within 7.9 m); a lower value is "
        "refused at load. It must also lie 2 m inside the fence floor and ceiling. Raising it gives a steeper "
        "view of a smaller subject; lowering it (with the standoff) a more level shot.")
    angle_rad: float = Field(
        math.pi, ge=-2 * math.pi, le=2 * math.pi,
        description="Offset angle (rad) relative to the subject's heading; pi = behind, 0 = in front, "
        "+pi/2 = to its right. Raising it moves the goal clockwise around the subject (seen from above), "
        "lowering it counter-clockwise.")
    max_speed_mps: float = Field(
        4.0, gt=0.0, le=12.0,
        description="Cap (m/s, 3D norm) on the velocity the follow controller proposes; the governor's "
        "safety caps still apply on top. Raising it catches up faster with a moving subject; lowering it "
        "follows more calmly but leaves a subject faster than this behind.")
    max_accel_mps2: float = Field(
        2.0, gt=0.0, le=6.0,
        description="Acceleration limit (m/s^2) of the proposed velocity (jerk-limited approach). Raising it "
        "reacts faster to the subject's starts and stops; lowering it gives smoother footage and more lag.")
    max_jerk_mps3: float = Field(
        4.0, gt=0.0, le=50.0,
        description="Jerk limit (m/s^3) of the proposed velocity: how fast its acceleration may change. Raising "
        "it gives snappier starts and stops; lowering it smoother ones with more lag.")
    position_gain_per_s: float = Field(
        0.6, gt=0.0, le=5.0,
        description="Velocity (m/s) proposed per metre of position error (1/s). Raising it returns to the "
        "offset faster (stiffer; with latency it can overshoot and oscillate); lowering it is softer and "
        "lags further behind the goal.")
    yaw_gain_per_s: float = Field(
        1.5, gt=0.0, le=10.0,
        description="Yaw rate (rad/s) proposed per radian of bearing error to the subject (1/s), then limited "
        "by the hard yaw-rate cap. Raising it keeps the subject centred more tightly (it can oscillate); "
        "lowering it turns more gently and lets the subject drift off-centre.")
    heading_min_speed_mps: float = Field(
        0.8, ge=0.0, le=5.0,
        description="Below this subject speed (m/s) the 'behind' direction keeps its last value instead of "
        "following noise (0.8 m/s: a stopped subject's estimated speed noise reaches ~0.6 m/s). Raising it "
        "turns with the subject only when it clearly moves; lowering it follows slow turns but can swing "
        "the vehicle around a standing subject on noise.")
