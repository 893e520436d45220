"""Point-mass multicopter with a velocity-tracking inner loop, an acceleration limit and aerodynamic drag.

Frames: world NED (x north, y east, z down; the ground is the plane ``z = 0``, so altitude is ``-z``).
Yaw: 0 = north, positive towards east (clockwise seen from above). Units SI.

The model is what a GUIDED-mode velocity controller looks like from outside:

* the commanded acceleration drives the velocity towards the setpoint as a first-order response with time
  constant ``velocity_time_constant_s``, clipped to ``max_accel_mps2`` (norm);
* drag ``-drag_per_s * (v - wind)`` acts on top of the controller. The controller learns the drag it sees with
  the lag ``disturbance_time_constant_s`` (the integrator of a real velocity PID) and cancels it: a steady wind
  is rejected after a few seconds, gusts only partially. With the estimator off (``None``) a steady wind pushes
  the vehicle off its setpoint by ``drag / (1/tau + drag)`` of the wind speed (about 9 % with the defaults);
* yaw rate tracks its setpoint as a first-order response, clipped to ``max_yaw_rate_radps``;
* the vehicle cannot go below the ground.

The tilt (roll, pitch) is the attitude that points the thrust along the controller's acceleration minus gravity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drone_perception.errors import InvalidValueError
from drone_perception.geometry import wrap_angle_rad

GRAVITY_MPS2 = 9.80665
#: Below this altitude (m) the vehicle counts as on the ground.
ON_GROUND_ALTITUDE_M = 0.05


@dataclass(frozen=True)
class MulticopterParams:
    """Dynamics of the simulated multicopter.

    ``velocity_time_constant_s``: time constant of the velocity response (larger = more sluggish).
    ``max_accel_mps2``: norm limit on the controller's acceleration (drag comes on top).
    ``max_speed_mps``: velocity setpoints are clipped to this norm.
    ``yaw_rate_time_constant_s`` / ``max_yaw_rate_radps``: the yaw-rate response and its limit.
    ``drag_per_s``: linear drag coefficient per unit mass (acceleration per m/s of air-relative speed).
    ``disturbance_time_constant_s``: lag of the controller's drag estimate (larger = slower wind rejection);
    ``None`` = no estimate (pure proportional velocity control).
    """

    velocity_time_constant_s: float = 0.35
    max_accel_mps2: float = 5.0
    max_speed_mps: float = 15.0
    yaw_rate_time_constant_s: float = 0.15
    max_yaw_rate_radps: float = 2.0
    drag_per_s: float = 0.3
    disturbance_time_constant_s: float | None = 2.0

    def __post_init__(self) -> None:
        tc = self.disturbance_time_constant_s
        if tc is not None and not (math.isfinite(tc) and tc > 0.0):
            raise InvalidValueError(
                f"MulticopterParams.disturbance_time_constant_s: must be positive and finite or None, got {tc!r}")
        for name in ("velocity_time_constant_s", "max_accel_mps2", "max_speed_mps", "yaw_rate_time_constant_s",
                     "max_yaw_rate_radps"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0.0):
                raise InvalidValueError(f"MulticopterParams.{name}: must be positive and finite, got {v!r}")
        if not (math.isfinite(self.drag_per_s) and self.drag_per_s >= 0.0):
            raise InvalidValueError(f"MulticopterParams.drag_per_s: must be >= 0 and finite, got {self.drag_per_s!r}")


class Multicopter:
    """Mutable vehicle state advanced by :meth:`step`. Properties return copies."""

    def __init__(self, params: MulticopterParams, position_ned_m: npt.ArrayLike, yaw_rad: float = 0.0) -> None:
        pos = np.array(position_ned_m, dtype=np.float64).reshape(-1)
        if pos.shape != (3,) or not np.all(np.isfinite(pos)):
            raise InvalidValueError(f"position_ned_m: expected 3 finite values, got {position_ned_m!r}")
        self.params = params
        self._pos = pos
        self._pos[2] = min(self._pos[2], 0.0)
        self._vel = np.zeros(3)
        self._accel_ctrl = np.zeros(3)
        self._drag_estimate = np.zeros(3)  # the controller's estimate of the drag acceleration
        self._yaw = wrap_angle_rad(float(yaw_rad))
        self._yaw_rate = 0.0

    # --- state -----------------------------------------------------------------------------------------
    @property
    def position_ned_m(self) -> np.ndarray:
        return self._pos.copy()

    @property
    def velocity_ned_mps(self) -> np.ndarray:
        return self._vel.copy()

    @property
    def yaw_rad(self) -> float:
        return self._yaw

    @property
    def yaw_rate_radps(self) -> float:
        return self._yaw_rate

    @property
    def on_ground(self) -> bool:
        return bool(-self._pos[2] <= ON_GROUND_ALTITUDE_M)

    @property
    def attitude_rpy_rad(self) -> np.ndarray:
        """Roll, pitch, yaw (rad). Roll positive = right side down; pitch positive = nose up.

        Tilt is the attitude whose thrust axis points along ``a_ctrl - g``: accelerating forward pitches the nose
        down (negative pitch); hovering in wind leans into the wind.
        """
        a = self._accel_ctrl
        c, s = math.cos(self._yaw), math.sin(self._yaw)
        a_fwd = c * a[0] + s * a[1]
        a_right = -s * a[0] + c * a[1]
        up = GRAVITY_MPS2 - a[2]  # thrust per unit mass needed upwards
        pitch = math.atan2(-a_fwd, up)
        roll = math.atan2(a_right, math.hypot(up, a_fwd))
        return np.array([roll, pitch, self._yaw])

    # --- dynamics --------------------------------------------------------------------------------------
    def step(
        self,
        dt_s: float,
        velocity_setpoint_ned_mps: npt.ArrayLike,
        yaw_rate_setpoint_radps: float,
        wind_ned_mps: npt.ArrayLike,
    ) -> None:
        """Advance by ``dt_s`` seconds flying ``velocity_setpoint_ned_mps`` (NED, m/s, +z down) and
        ``yaw_rate_setpoint_radps`` (positive = north towards east) in air moving at ``wind_ned_mps``."""
        if not dt_s > 0.0:
            raise InvalidValueError(f"dt_s: must be > 0, got {dt_s!r}")
        p = self.params
        sp = np.asarray(velocity_setpoint_ned_mps, dtype=np.float64)
        wind = np.asarray(wind_ned_mps, dtype=np.float64)
        speed_sp = math.sqrt(float(sp @ sp))
        if speed_sp > p.max_speed_mps:
            sp = sp * (p.max_speed_mps / speed_sp)
        # Exact discrete first-order response (stable for any dt), then the acceleration limit.
        gain = (1.0 - math.exp(-dt_s / p.velocity_time_constant_s)) / dt_s
        a_drag = (wind - self._vel) * p.drag_per_s
        a_ctrl = (sp - self._vel) * gain - self._drag_estimate
        a_norm = math.sqrt(float(a_ctrl @ a_ctrl))
        if a_norm > p.max_accel_mps2:
            a_ctrl *= p.max_accel_mps2 / a_norm
        if p.disturbance_time_constant_s is not None:
            alpha = 1.0 - math.exp(-dt_s / p.disturbance_time_constant_s)
            self._drag_estimate += (a_drag - self._drag_estimate) * alpha
        self._accel_ctrl = a_ctrl
        vel_new = self._vel + (a_ctrl + a_drag) * dt_s
        self._pos += 0.5 * (self._vel + vel_new) * dt_s
        self._vel = vel_new
        if self._pos[2] > 0.0:  # below ground: sit on it, no downward speed
            self._pos[2] = 0.0
            self._vel[2] = min(self._vel[2], 0.0)

        r_sp = max(-p.max_yaw_rate_radps, min(p.max_yaw_rate_radps, float(yaw_rate_setpoint_radps)))
        r_new = r_sp + (self._yaw_rate - r_sp) * math.exp(-dt_s / p.yaw_rate_time_constant_s)
        self._yaw = wrap_angle_rad(self._yaw + 0.5 * (self._yaw_rate + r_new) * dt_s)
        self._yaw_rate = r_new
