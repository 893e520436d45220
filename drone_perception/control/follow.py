"""Follow controller: proposes a velocity that keeps a configured offset from the subject.

It only *proposes*; the safety governor decides what is sent. Geometry (NED, metres):

* The subject's heading is the direction of its horizontal velocity; below
  ``heading_min_speed_mps`` it is frozen (on the first step with a slow subject it is chosen so that the
  vehicle is already at the offset angle: no swing on engage).
* The goal is ``distance_m`` horizontally from the subject at ``heading + angle_rad`` (pi = behind,
  +pi/2 = to its right), ``height_m`` above the subject's ground point (``z = subject_z - height_m``).
* Desired velocity = subject velocity (feed-forward) + ``position_gain_per_s`` * position error, limited
  to ``max_speed_mps`` (3D norm).
* The commanded velocity then moves towards the desired one with acceleration limited to
  ``max_accel_mps2`` and jerk to ``max_jerk_mps3`` (a time-optimal jerk-limited approach, so it settles
  without ringing). The first output after construction, :meth:`reset` or a lost estimate starts from
  the vehicle's current velocity with zero acceleration: no setpoint step on engage (PX4 issue #15363).
* Yaw rate = ``yaw_gain_per_s`` * bearing error to the subject (positive = clockwise seen from above),
  limited to the hard yaw-rate cap.
"""

from __future__ import annotations

import math

import numpy as np

from drone_perception.config.follow import FollowConfig
from drone_perception.config.limits import HARD_MAX_YAW_RATE_RADPS
from drone_perception.errors import InvalidValueError
from drone_perception.geometry import wrap_angle_rad
from drone_perception.types import TargetEstimate, VehicleState, VelocityCommand


def _norm(v: tuple[float, float, float]) -> float:
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


class FollowController:
    """Stateful (heading memory, commanded velocity and acceleration); one instance per follow session."""

    def __init__(self, cfg: FollowConfig) -> None:
        self.cfg = cfg
        self._heading_rad: float | None = None
        self._v_cmd: tuple[float, float, float] | None = None
        self._a_cmd: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def reset(self) -> None:
        """Forget the heading and the command state (the next output starts from the vehicle velocity)."""
        self._heading_rad = None
        self._v_cmd = None
        self._a_cmd = (0.0, 0.0, 0.0)

    @property
    def heading_rad(self) -> float | None:
        """The subject heading in use (yaw convention: 0 = north, positive east), None before the first step."""
        return self._heading_rad

    def goal_ned_m(self, estimate: TargetEstimate) -> np.ndarray:
        """The offset point for the current heading (requires one :meth:`step` first)."""
        if self._heading_rad is None:
            raise InvalidValueError("goal_ned_m: no heading yet; call step() first")
        s = estimate.position_ned_m
        ang = self._heading_rad + self.cfg.angle_rad
        return np.array([s[0] + self.cfg.distance_m * math.cos(ang), s[1] + self.cfg.distance_m * math.sin(ang),
                         s[2] - self.cfg.height_m])

    def step(self, estimate: TargetEstimate, vehicle: VehicleState, dt_s: float) -> VelocityCommand | None:
        """One control step of ``dt_s`` seconds. Returns None (and forgets the command state) when the
        estimate is invalid or the estimate/vehicle state is not finite."""
        if not (math.isfinite(dt_s) and dt_s > 0.0):
            raise InvalidValueError(f"dt_s: must be a positive finite number of seconds, got {dt_s!r}")
        s_pos, s_vel = estimate.position_ned_m.tolist(), estimate.velocity_ned_mps.tolist()
        if not estimate.valid or not vehicle.is_finite or not all(map(math.isfinite, (*s_pos, *s_vel))):
            self._v_cmd = None
            self._a_cmd = (0.0, 0.0, 0.0)
            return None
        cfg = self.cfg
        sn, se, sd = s_pos
        un, ue, ud = s_vel
        pn, pe, pd = vehicle.position_ned_m.tolist()
        if math.hypot(un, ue) >= max(cfg.heading_min_speed_mps, 1e-6):
            self._heading_rad = math.atan2(ue, un)
        elif self._heading_rad is None:
            self._heading_rad = math.atan2(pe - se, pn - sn) - cfg.angle_rad
        ang = self._heading_rad + cfg.angle_rad
        gn, ge, gd = sn + cfg.distance_m * math.cos(ang), se + cfg.distance_m * math.sin(ang), sd - cfg.height_m
        k = cfg.position_gain_per_s
        want = (un + k * (gn - pn), ue + k * (ge - pe), ud + k * (gd - pd))
        sp = _norm(want)
        if sp > cfg.max_speed_mps:
            want = (want[0] * cfg.max_speed_mps / sp, want[1] * cfg.max_speed_mps / sp,
                    want[2] * cfg.max_speed_mps / sp)

        if self._v_cmd is None:  # engage: start from what the vehicle is doing
            self._v_cmd = (float(vehicle.velocity_ned_mps[0]), float(vehicle.velocity_ned_mps[1]),
                           float(vehicle.velocity_ned_mps[2]))
            self._a_cmd = (0.0, 0.0, 0.0)
        v, a = self._v_cmd, self._a_cmd
        err = (want[0] - v[0], want[1] - v[1], want[2] - v[2])
        e = _norm(err)
        a_max, j_max = cfg.max_accel_mps2, cfg.max_jerk_mps3
        if e > 1e-12:
            # time-optimal for a jerk limit: the acceleration that can still be ramped to zero in time;
            # never more than closes the error in one step (no overshoot from discretisation)
            mag = min(a_max, math.sqrt(2.0 * j_max * e), e / dt_s)
            a_des = (err[0] / e * mag, err[1] / e * mag, err[2] / e * mag)
        else:
            a_des = (0.0, 0.0, 0.0)
        da = (a_des[0] - a[0], a_des[1] - a[1], a_des[2] - a[2])
        dal = _norm(da)
        if dal > j_max * dt_s:
            f = j_max * dt_s / dal
            da = (da[0] * f, da[1] * f, da[2] * f)
        a = (a[0] + da[0], a[1] + da[1], a[2] + da[2])  # on the segment a -> a_des: |a| <= a_max
        v = (v[0] + a[0] * dt_s, v[1] + a[1] * dt_s, v[2] + a[2] * dt_s)
        self._v_cmd, self._a_cmd = v, a

        dn, de = sn - pn, se - pe
        if math.hypot(dn, de) > 0.5:
            yaw_err = wrap_angle_rad(math.atan2(de, dn) - float(vehicle.attitude_rpy_rad[2]))
            yaw_rate = max(-HARD_MAX_YAW_RATE_RADPS, min(HARD_MAX_YAW_RATE_RADPS, cfg.yaw_gain_per_s * yaw_err))
        else:
            yaw_rate = 0.0
        return VelocityCommand(np.array(v), yaw_rate, float(estimate.stamp_s))


__all__ = ["FollowController"]
