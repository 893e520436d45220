"""Closed-loop simulation speed (multiple of real time, one core) and governor cost per call.

Each figure is printed beside a reference measured in the same process:
- sim speed beside the bare world + detection model (no stack) loop, so the stack's share is visible;
- governor cost beside a trivial Python function call carrying the same arguments.
Goals (issue 2): >= 100x real time at 20 Hz; governor < 50 us per call.
"""

from __future__ import annotations

import os
import time
import timeit

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from drone_perception.config import StackConfig
from sim.runners.direct import run_scenario
from sim.sensing.sensors import DetectionModelParams, simulate_detections
from sim.world.scenarios import get_scenario


def bench_sim(name: str = "walk", duration_s: float = 60.0) -> None:
    config = StackConfig()
    t0 = time.perf_counter()
    run_scenario(name, config, seed=0, duration_s=duration_s, keep_trajectory=False)
    full = time.perf_counter() - t0

    rng = np.random.default_rng(0)
    world = get_scenario(name).build(rng, config)
    dt = 1.0 / config.control_rate_hz
    params = DetectionModelParams()
    t0 = time.perf_counter()
    for _ in range(round(duration_s / dt)):
        world.step(dt)
        simulate_detections(world, world.camera_model(), rng, params)
    bare = time.perf_counter() - t0
    print(f"sim '{name}' {duration_s:.0f} s at {config.control_rate_hz:.0f} Hz:")
    steps = duration_s / dt
    print(f"  full closed loop        {duration_s / full:8.1f}x real time  ({1e3 * full / steps:.3f} ms/step)")
    print(f"  reference: world+sensor {duration_s / bare:8.1f}x real time  ({1e3 * bare / steps:.3f} ms/step)")
    print(f"  ratio full/reference    {full / bare:8.2f}   goal: full >= 100x real time")


def bench_governor(n_people: int = 5, number: int = 5000) -> None:
    from drone_perception.control.governor import GovernorInput, SafetyGovernor
    from drone_perception.types import OperatorInput, People, TargetEstimate, VehicleState, VelocityCommand

    config = StackConfig()
    gov = SafetyGovernor(config.safety, config.fence)
    rng = np.random.default_rng(0)
    people = People(
        position_ned_m=np.column_stack([rng.uniform(-40, 40, (n_people, 2)), np.zeros(n_people)]),
        velocity_ned_mps=np.zeros((n_people, 3)),
        uncertainty_m=np.full(n_people, 0.5),
        last_seen_s=np.zeros(n_people),
        is_subject=np.arange(n_people) == 0,
        stamp_s=0.0,
    )
    vehicle = VehicleState([0.0, 0.0, -10.0], [1.0, 0.0, 0.0], [0, 0, 0], True, "GUIDED", True, 0.0)
    subject = TargetEstimate(0, people.position_ned_m[0], np.zeros(3), np.eye(3), 0.0, True)
    op = OperatorInput(True, True, 0, 0.0)
    inp = GovernorInput(now_s=0.0, proposed=VelocityCommand([2.0, 1.0, 0.0], 0.1, 0.0), vehicle=vehicle,
                        people=people, subject=subject, operator=op, perception_stamp_s=0.0,
                        observed_sector=(0.0, 0.6))
    per_call = min(timeit.repeat(lambda: gov.step(inp), number=number, repeat=3)) / number

    def reference(x: GovernorInput) -> GovernorInput:
        return x

    ref = min(timeit.repeat(lambda: reference(inp), number=number, repeat=3)) / number
    print(f"governor step, {n_people} people:")
    print(f"  SafetyGovernor.step     {1e6 * per_call:8.1f} us/call   goal < 50 us")
    print(f"  reference: bare call    {1e6 * ref:8.3f} us/call   ratio {per_call / ref:,.0f}x")


def bench_governor_infeasible(number: int = 200) -> None:
    """The worst path: a vehicle sinking through its floor under a ceiling that leaves no climb rate admissible
    (the fence sets do not meet), so the projection cannot converge and the best effort runs. Printed beside the
    feasible 5-person step above: the ratio says what an infeasible step costs the control period."""
    from drone_perception.config import FenceConfig, SafetyConfig
    from drone_perception.control.governor import GovernorInput, SafetyGovernor
    from drone_perception.types import OperatorInput, People, TargetEstimate, VehicleState, VelocityCommand

    safety = SafetyConfig(braking_decel_mps2=0.5, max_accel_mps2=1.0, command_latency_s=0.5)
    fence = FenceConfig(altitude_floor_m=3.0, altitude_ceiling_m=5.5)
    gov = SafetyGovernor(safety, fence)
    inp = GovernorInput(
        now_s=0.0, proposed=VelocityCommand([0.0, 0.0, 0.0], 0.0, 0.0),
        vehicle=VehicleState([0.0, 0.0, -4.0], [0.0, 0.0, 4.0], [0, 0, 0], True, "GUIDED", True, 0.0),
        people=People.empty(0.0), subject=TargetEstimate(1, [200.0, 0.0, 6.0], np.zeros(3), np.eye(3), 0.0, True),
        operator=OperatorInput(True, True, 1, 0.0), perception_stamp_s=0.0, observed_sector=None)
    out = gov.step(inp)
    per_call = min(timeit.repeat(lambda: gov.step(inp), number=number, repeat=3)) / number
    print(f"governor step, infeasible fence (feasible={out.feasible}):")
    print(f"  SafetyGovernor.step     {1e6 * per_call:8.1f} us/call   (one 20 Hz period is 50,000 us)")


if __name__ == "__main__":
    bench_sim()
    bench_governor()
    bench_governor_infeasible()
