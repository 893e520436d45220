"""Found by Hypothesis (test_governor_properties): a vehicle climbing at 3 m/s just outside its 40 m tether,
with no people about. The fence demands a return, so zero is not admissible; the governor assumed it was (no
people: "zero satisfies every set"), its Dykstra projection gave up after 150 sweeps on the thin intersection,
and the fallback kept the inadmissible zero. Now: the return is flown and the command is feasible."""

from __future__ import annotations

import numpy as np

from drone_perception.config import FenceConfig, SafetyConfig
from drone_perception.control.geofence import Geofence
from drone_perception.control.governor import GovernorInput, SafetyGovernor
from drone_perception.control.solver import VelocityConstraints
from drone_perception.types import OperatorInput, People, TargetEstimate, VehicleState, VelocityCommand


def _case() -> tuple[SafetyGovernor, GovernorInput, FenceConfig]:
    s = SafetyConfig(min_standoff_m=5.0, max_horizontal_speed_mps=0.5, max_vertical_speed_mps=3.0,
                     max_accel_mps2=1.0, braking_decel_mps2=1.0, braking_jerk_mps3=5.0, max_yaw_rate_radps=1.0,
                     command_latency_s=0.0, autopilot_command_timeout_s=1.0, command_ttl_s=0.5, stale_input_s=0.5,
                     subject_lost_timeout_s=2.0, hold_to_mode_request_s=3.0, unobserved_speed_mps=0.0,
                     design_person_speed_mps=8.0, forget_person_after_s=30.0)
    f = FenceConfig(polygon_ne_m=((-150.0, -150.0), (-150.0, 150.0), (150.0, 150.0), (150.0, -150.0)),
                    altitude_floor_m=3.0, altitude_ceiling_m=20.0, tethered=True, tether_length_m=40.0,
                    tether_anchor_ne_m=(0.0, 0.0))
    inp = GovernorInput(
        now_s=50.0, proposed=VelocityCommand(np.zeros(3), 2.0, 50.0),
        vehicle=VehicleState(np.array([0.0, 40.0, -4.0]), np.array([0.0, 0.0, -3.0]), np.zeros(3), True, "GUIDED",
                             True, 50.0),
        people=People.empty(50.0),
        subject=TargetEstimate(1, np.array([200.0, 40.0, 6.0]), np.zeros(3), np.zeros((3, 3)), 50.0, True),
        operator=OperatorInput(True, True, 1, 50.0), perception_stamp_s=50.0, observed_sector=None)
    return SafetyGovernor(s, f), inp, f


def test_a_climbing_vehicle_outside_its_tether_is_brought_back_feasibly() -> None:
    gov, inp, fence = _case()
    out = gov.step(inp)
    v = out.safe.command.velocity_ned_mps
    assert out.feasible and "tether" in out.safe.limits_applied
    anchor = np.array([0.0, 0.0, 0.0])
    toward = (anchor - inp.vehicle.position_ned_m) / np.linalg.norm(anchor - inp.vehicle.position_ned_m)
    assert float(v @ toward) >= 0.25 - 1e-6  # the demanded return (half the smaller cap)
    assert np.linalg.norm(v[:2]) <= 0.5 + 1e-9 and abs(v[2]) <= 3.0 + 1e-9
    assert Geofence(fence).margin_m(out.stopping_point_ned_m.tolist()) > Geofence(fence).margin_m(
        inp.vehicle.position_ned_m.tolist())  # the stopping point is further in than the vehicle now


def test_the_fallback_never_keeps_a_zero_the_fence_forbids() -> None:
    """Fence half-space demanding a return (rhs < 0): the best-effort candidate is one that meets it."""
    cons = VelocityConstraints([], [(0.0, 1.0, 0.0, -0.25, "tether")], [], 0.5, 3.0, None, 0.0)
    v = cons.best_effort((0.0, 0.0, -2.9), [])
    assert v != (0.0, 0.0, 0.0) and cons.fence_feasible(v)
