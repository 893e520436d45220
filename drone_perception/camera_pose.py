"""The stack's camera pose from what the vehicle reports (telemetry), for every mode that flies a vehicle.

Camera pose: the optical centre at the reported vehicle position (NED m), camera yaw = vehicle yaw (rad, 0 = north,
positive east), pitch = the gimbal's pitch (rad, negative = down): reported by the autopilot when it streams it,
else the configured one.
"""

from __future__ import annotations

import math

import numpy as np

from drone_perception.config import StackConfig
from drone_perception.types import CameraIntrinsics, CameraModel, VehicleState


def intrinsics_from_config(config: StackConfig) -> CameraIntrinsics:
    cam = config.camera
    return CameraIntrinsics.from_hfov(cam.hfov_rad, (cam.width_px, cam.height_px))


def camera_from_vehicle(intrinsics: CameraIntrinsics, state: VehicleState,
                        gimbal_pitch_rad: float) -> CameraModel | None:
    """The camera at ``state``'s position looking along its yaw, pitched ``gimbal_pitch_rad`` (rad, negative =
    down). None when the telemetry holds no finite position or yaw yet (perception then runs without geometry)."""
    pos = np.asarray(state.position_ned_m, dtype=float)
    yaw = float(np.asarray(state.attitude_rpy_rad, dtype=float)[2])
    if not (np.all(np.isfinite(pos)) and math.isfinite(yaw) and math.isfinite(gimbal_pitch_rad)):
        return None
    return CameraModel.from_gimbal(intrinsics, pos, yaw, gimbal_pitch_rad)


__all__ = ["camera_from_vehicle", "intrinsics_from_config"]
