"""The simulated world on a MAVLink vehicle: people and camera follow the vehicle the autopilot flies.

``sim.world.world.World`` normally flies its own :class:`~sim.world.multicopter.Multicopter` through its GUIDED model.
On the MAVLink path the autopilot is elsewhere (``sim.mavlink.vehicle`` in lock-step, or an external SITL), so:

* :func:`ground_start_dynamics` swaps the world's multicopter for one standing on the ground below the scenario's
  start point (same yaw), which the MAVLink sim vehicle then flies as its own dynamics (one object, one truth);
  the world's built-in autopilot is disarmed so :meth:`World.step` moves only people and wind;
* :class:`ReportedPose` stands in for the multicopter when only telemetry is known (external SITL).

Ground truth is measured with :class:`sim.runners.truth.TruthMeter`, as in every other runner.
"""

from __future__ import annotations

import numpy as np

from drone_perception.config.safety import FenceConfig
from drone_perception.types import VehicleState
from sim.world.multicopter import Multicopter, MulticopterParams
from sim.world.world import World


def ground_start_dynamics(world: World) -> Multicopter:
    """Replace ``world.vehicle`` by a multicopter on the ground (z = 0) below the scenario's start point, same
    yaw; disarm the world's own autopilot. Returns the new multicopter (give it to the MAVLink sim vehicle)."""
    start = np.array(world.vehicle.position_ned_m, dtype=float)
    start[2] = 0.0
    dyn = Multicopter(MulticopterParams(), start, yaw_rad=float(world.vehicle.yaw_rad))
    world.vehicle = dyn
    world.autopilot.armed = False  # World.step must not fly it: the MAVLink autopilot does
    return dyn


def start_height_m(world: World) -> float:
    """Height above ground (m) of the scenario's start point (read before :func:`ground_start_dynamics`)."""
    return -float(world.vehicle.position_ned_m[2])


class ReportedPose:
    """Duck-types the parts of :class:`~sim.world.multicopter.Multicopter` the world reads (``_pos``, ``_vel``,
    ``yaw_rad``, ``attitude_rpy_rad``), set from the autopilot's reported :class:`VehicleState` (NED m, m/s, rad).
    Used with an external SITL, whose true state we cannot see."""

    def __init__(self, position_ned_m: np.ndarray, yaw_rad: float) -> None:
        self._pos = np.array(position_ned_m, dtype=float)
        self._vel = np.zeros(3)
        self.yaw_rad = float(yaw_rad)
        self.attitude_rpy_rad = np.array([0.0, 0.0, yaw_rad])

    @property
    def position_ned_m(self) -> np.ndarray:
        return self._pos.copy()

    def update(self, state: VehicleState) -> bool:
        """Take position, velocity and attitude from ``state`` when finite; False when it carried none."""
        pos = np.asarray(state.position_ned_m, dtype=float)
        att = np.asarray(state.attitude_rpy_rad, dtype=float)
        if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(att))):
            return False
        self._pos = pos.copy()
        vel = np.asarray(state.velocity_ned_mps, dtype=float)
        self._vel = vel.copy() if np.all(np.isfinite(vel)) else np.zeros(3)
        self.attitude_rpy_rad = att.copy()
        self.yaw_rad = float(att[2])
        return True


def shift_fence(fence: FenceConfig, by_ne_m: np.ndarray) -> FenceConfig:
    """``fence`` moved by ``by_ne_m`` (north, east metres): the same fence in a frame shifted by that much."""
    dn, de = float(by_ne_m[0]), float(by_ne_m[1])
    return fence.model_copy(update={
        "polygon_ne_m": tuple((n + dn, e + de) for n, e in fence.polygon_ne_m),
        "tether_anchor_ne_m": (fence.tether_anchor_ne_m[0] + dn, fence.tether_anchor_ne_m[1] + de)})


__all__ = ["ReportedPose", "ground_start_dynamics", "shift_fence", "start_height_m"]
