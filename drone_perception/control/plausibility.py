"""Reported positions are believed only when the vehicle could have flown there (#12 item 5: a GPS glitch that
moved the estimate 12 m inward at the fence let the governor fly the vehicle 8.6-11.2 m out of it).

Each reported position is compared with the previous believed one carried forward by the reported velocity
(trapezoidal, ``p + (v_prev + v) / 2 * dt``). A jump larger than ``JUMP_TOL_M + PLAUSIBLE_ACCEL_MPS2 * dt^2 / 2``
is not believed: the check latches, the believed position is carried forward by the reported velocity alone
(dead reckoning), and it releases only when the reports come back within the tolerance of it (the glitch
ended) or the operator re-engages (:meth:`PositionCheck.reset`, an explicit decision). While it is latched the
governor holds (gate ``position_jump``), and a hold that lasts asks the autopilot to BRAKE: fail closed.

What it cannot see: a slow drift of the estimate within the tolerance each step (the EKF's own innovation checks
and the autopilot's fence on its own estimate are the layers there).
"""

from __future__ import annotations

import math

from drone_perception.types import VehicleState

#: A reported position may differ this much (m) from the one the velocity predicts (EKF steps, telemetry jitter).
JUMP_TOL_M = 2.0
#: Largest acceleration (m/s^2) a reported track may show between two reports: twice the hard cap (gusts).
PLAUSIBLE_ACCEL_MPS2 = 12.0


class PositionCheck:
    """Stateful plausibility check of the vehicle's reported positions (see the module docstring)."""

    def __init__(self) -> None:
        self._p: list[float] | None = None
        self._v: list[float] = [0.0, 0.0, 0.0]
        self._t = 0.0
        self.latched = False
        #: Size (m) of the last jump not believed (0 while none).
        self.jump_m = 0.0

    def reset(self) -> None:
        """Believe the next report as it is (the operator re-engaged: their decision)."""
        self._p = None
        self.latched = False
        self.jump_m = 0.0

    def believed(self, state: VehicleState) -> bool:
        """Fold in ``state``; False while its position is not believed."""
        p, v, t = state.position_ned_m.tolist(), state.velocity_ned_mps.tolist(), float(state.stamp_s)
        if not all(map(math.isfinite, (*p, *v, t))):
            return not self.latched  # the NaN gate holds on its own; keep the last belief
        if self._p is None:
            self._p, self._v, self._t = p, v, t
            return True
        dt = t - self._t
        if dt <= 0.0:
            return not self.latched
        pred = [self._p[i] + 0.5 * (self._v[i] + v[i]) * dt for i in range(3)]
        err = math.dist(p, pred)
        if err <= JUMP_TOL_M + 0.5 * PLAUSIBLE_ACCEL_MPS2 * dt * dt:
            self._p, self.latched, self.jump_m = p, False, 0.0
        else:
            self._p, self.latched, self.jump_m = pred, True, err
        self._v, self._t = v, t
        return not self.latched


__all__ = ["JUMP_TOL_M", "PLAUSIBLE_ACCEL_MPS2", "PositionCheck"]
