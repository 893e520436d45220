"""Follow controller configuration (offset from the subject, like PX4's FLW_TGT_DST/HT/FA)."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field


class FollowConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    distance_m: float = Field(15.0, gt=0.0, le=100.0,
                              description="Horizontal distance kept from the subject.")
    height_m: float = Field(
        10.0, gt=0.0, le=100.0,
        description="Height above the subject's ground point. With the default 10 m standoff this keeps 8 m of "
        "clearance over a 2 m person, so the vehicle has to climb only 2 m if someone runs underneath it "
        "(measured: at 8 m a pursuer at 8 m/s came within 9.6 m in sprint_toward).")
    angle_rad: float = Field(math.pi, ge=-2 * math.pi, le=2 * math.pi,
                             description="Offset angle relative to the subject's heading; pi = behind, "
                             "0 = in front, +pi/2 = to its right.")
    max_speed_mps: float = Field(4.0, gt=0.0, le=12.0)
    max_accel_mps2: float = Field(2.0, gt=0.0, le=6.0)
    max_jerk_mps3: float = Field(4.0, gt=0.0, le=50.0)
    position_gain_per_s: float = Field(0.6, gt=0.0, le=5.0,
                                       description="Velocity per metre of position error (higher = stiffer).")
    yaw_gain_per_s: float = Field(1.5, gt=0.0, le=10.0)
    heading_min_speed_mps: float = Field(0.8, ge=0.0, le=5.0,
                                         description="Below this subject speed the 'behind' direction "
                                         "keeps its last value instead of following noise (0.8 m/s: a "
                                         "stopped subject's estimated speed noise reaches ~0.6 m/s).")
