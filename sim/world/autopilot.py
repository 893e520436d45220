"""ArduCopter GUIDED-mode semantics for velocity setpoints (SET_POSITION_TARGET_LOCAL_NED, velocity only).

* A setpoint is flown from the moment it arrives until ``guided_timeout_s`` after it arrived (ArduCopter
  ``GUID_TIMEOUT``), unless a newer one replaces it. Nothing re-sends it: when the stream stops, the autopilot
  brakes to a hover on its own. That is the outer failsafe the stack relies on (charter item 4).
* After the timeout the velocity setpoint ramps to zero at ``brake_decel_mps2`` (``None``: steps to zero at once;
  the vehicle's own acceleration limit then shapes the stop).
* Setpoints are obeyed only while armed and in ``GUIDED``. In any other mode (``BRAKE``, ``LOITER``, ``RTL``,
  ``LAND``, ...) the simulated autopilot holds position: RTL and LAND are not flown by this simulator (documented
  simplification; the stack only requests them, and the simulated crew would take over).

The stack never arms and never changes into GUIDED: the scenario starts armed in GUIDED (the scripted crew did it).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from drone_perception.errors import InvalidValueError

GUIDED = "GUIDED"


class GuidedAutopilot:
    """Holds the last velocity setpoint and its arrival time. Time is the simulator's monotonic ``now_s``."""

    def __init__(self, guided_timeout_s: float = 1.0, brake_decel_mps2: float | None = None) -> None:
        if not (math.isfinite(guided_timeout_s) and guided_timeout_s > 0.0):
            raise InvalidValueError(f"guided_timeout_s: must be positive and finite, got {guided_timeout_s!r}")
        if brake_decel_mps2 is not None and not (math.isfinite(brake_decel_mps2) and brake_decel_mps2 > 0.0):
            raise InvalidValueError(f"brake_decel_mps2: must be positive and finite or None, got {brake_decel_mps2!r}")
        self.guided_timeout_s = float(guided_timeout_s)
        self.brake_decel_mps2 = brake_decel_mps2
        self.armed = True
        self.mode = GUIDED
        self._vel = np.zeros(3)
        self._yaw_rate = 0.0
        self._received_s: float | None = None
        #: How many setpoints arrived (for tests and summaries).
        self.received_count = 0

    @property
    def last_received_s(self) -> float | None:
        return self._received_s

    def receive(self, velocity_ned_mps: npt.ArrayLike, yaw_rate_radps: float, now_s: float) -> None:
        """A velocity setpoint (NED m/s, +z down) and yaw rate (rad/s, + = north towards east) arriving at
        ``now_s``. Non-finite setpoints are rejected with ``InvalidValueError`` (an autopilot would ignore them;
        in simulation a NaN reaching the autopilot is a bug to surface)."""
        vel = np.array(velocity_ned_mps, dtype=np.float64).reshape(-1)
        if vel.shape != (3,) or not np.all(np.isfinite(vel)) or not math.isfinite(yaw_rate_radps):
            raise InvalidValueError(
                f"setpoint: expected finite velocity (3,) and yaw rate, got {velocity_ned_mps!r}, {yaw_rate_radps!r}")
        self._vel = vel
        self._yaw_rate = float(yaw_rate_radps)
        self._received_s = float(now_s)
        self.received_count += 1

    def set_mode(self, mode: str) -> None:
        """The operator (or a mode request the crew accepted) changes the flight mode."""
        self.mode = str(mode).upper()

    def setpoint(self, now_s: float) -> tuple[np.ndarray, float]:
        """The velocity (3,) NED m/s and yaw rate rad/s the autopilot flies at ``now_s``."""
        if not self.armed or self.mode != GUIDED or self._received_s is None:
            return np.zeros(3), 0.0
        age_s = now_s - self._received_s
        if age_s < self.guided_timeout_s:
            return self._vel.copy(), self._yaw_rate
        if self.brake_decel_mps2 is None:
            return np.zeros(3), 0.0
        speed = math.sqrt(float(self._vel @ self._vel))
        if speed == 0.0:
            return np.zeros(3), 0.0
        remaining = max(0.0, speed - self.brake_decel_mps2 * (age_s - self.guided_timeout_s))
        return self._vel * (remaining / speed), 0.0
