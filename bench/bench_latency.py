"""Telemetry-to-command latency through the stack, excluding the detector, over UDP loopback.

Runs the ``walk`` scenario through the full MAVLink loop (``sim.runners.lockstep``, lock-step) and, every control
period after the sim vehicle has sent its telemetry, times on the wall clock:

* **stack**: ``bridge.poll`` (receive + decode the waiting telemetry) -> camera pose from telemetry ->
  ``Pipeline.step`` (tracker, lock, estimate, follow, governor; on simulated detections) -> ``bridge.send``;
* **reference**: ``bridge.poll`` -> ``bridge.send`` of a ready-made command (the bare bridge, no pipeline), in the
  same run, on the same link, alternating period by period with the stack measurement.

Goal: stack p99 < 5 ms. Usage: ``.venv/bin/python bench/bench_latency.py [--periods 1200] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import replace

import numpy as np

from drone_perception.camera_pose import camera_from_vehicle
from drone_perception.types import SafeCommand, VelocityCommand, Verdict
from sim.runners.lockstep import MavlinkScenarioLoop
from sim.sensing.sensors import simulate_detections


def _hold(now_s: float) -> SafeCommand:
    cmd = VelocityCommand(np.zeros(3), 0.0, now_s)
    return SafeCommand(cmd, Verdict.HOLD, frozenset(), now_s + 0.2)


def measure(periods: int, seed: int) -> dict[str, np.ndarray]:
    out: dict[str, list[float]] = {"stack": [], "pipeline": [], "reference": []}
    with MavlinkScenarioLoop("walk", seed=seed, keep_trajectory=False) as loop:
        loop.launch()
        while not (loop.bridge.engagement.following and loop.pipeline.lock.track_id is not None):
            loop.step()
            if loop.world.t_s > 10.0:
                raise RuntimeError("the loop did not engage and lock within 10 s")
        for k in range(periods):
            for _ in range(loop.substeps):
                loop.vehicle.step(loop.vehicle_dt_s)
                loop.gcs.tick()
            loop.world.step(loop.dt_s)
            now = loop.clock()
            cam_true = loop.world.camera_model()
            dets, _ = simulate_detections(loop.world, cam_true, loop.rng, loop.det_params)  # the "detector"
            dets = replace(dets, stamp_s=now)
            if k % 2 == 0:
                t0 = time.perf_counter()
                state = loop.bridge.poll(now)
                op = loop.bridge.operator_input(now)
                cam = camera_from_vehicle(loop.intrinsics, state, loop.world.gimbal_pitch_rad)
                t1 = time.perf_counter()
                res = loop.pipeline.step(now_s=now, vehicle=state, operator=op, camera=cam, detections=dets)
                out["pipeline"].append(time.perf_counter() - t1)
                if res.send:
                    loop.bridge.send(res.safe, now)
                out["stack"].append(time.perf_counter() - t0)
            else:
                safe = _hold(now)
                t0 = time.perf_counter()
                loop.bridge.poll(now)
                loop.bridge.send(safe, now)
                out["reference"].append(time.perf_counter() - t0)
    return {k: np.array(v) * 1e3 for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--periods", type=int, default=1200, help="control periods (half stack, half reference)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    ms = measure(args.periods, args.seed)
    print(f"telemetry-to-command latency over UDP loopback, {args.periods} periods at 20 Hz (ms, wall clock)")
    print(f"{'path':<44s} {'n':>5s} {'p50':>7s} {'p99':>7s} {'max':>7s}")
    for key, label in (("stack", "stack: poll -> pipeline (no detector) -> send"),
                       ("pipeline", "  of which Pipeline.step alone"),
                       ("reference", "reference: bare bridge poll -> send")):
        v = ms[key]
        print(f"{label:<44s} {len(v):5d} {np.percentile(v, 50):7.3f} {np.percentile(v, 99):7.3f} {v.max():7.3f}")
    p99 = float(np.percentile(ms["stack"], 99))
    print(f"goal p99 < 5 ms: {'met' if p99 < 5.0 else 'NOT met'} ({p99:.2f} ms)")


if __name__ == "__main__":
    main()
