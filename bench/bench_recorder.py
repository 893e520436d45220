"""Cost of flight recording per 20 Hz control step (every topic the pipeline writes), side by side with
references measured in the same run: a NullRecorder (the bare call) and ``json.dumps(to_jsonable(...))``
(serialisation alone, no file). Also with 640x480 camera frames recorded at 2 Hz (the default limit).

    .venv/bin/python bench/bench_recorder.py [--steps 2000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from drone_perception.interfaces import NullRecorder
from drone_perception.record import topics
from drone_perception.record.mcap_recorder import FlightRecorder
from drone_perception.types import (
    CameraIntrinsics,
    CameraModel,
    Detections,
    Frame,
    OperatorInput,
    People,
    SafeCommand,
    TargetEstimate,
    Tracks,
    VehicleState,
    VelocityCommand,
    Verdict,
    to_jsonable,
)

RATE_HZ = 20.0
N_PEOPLE = 5


def step_messages(t: float, rng: np.random.Generator) -> list[tuple[str, Any]]:
    """One control period's messages, sized like a scene with five people."""
    boxes = np.sort(rng.uniform(0, 600, (N_PEOPLE, 4)), axis=1)
    people_ned = rng.normal(0, 20, (N_PEOPLE, 3))
    cmd = VelocityCommand(rng.normal(0, 1, 3), 0.1, t)
    return [
        (topics.VEHICLE, VehicleState(rng.normal(0, 5, 3), rng.normal(0, 1, 3), np.zeros(3), True, "GUIDED",
                                      True, t)),
        (topics.OPERATOR, OperatorInput(True, True, 1, t)),
        (topics.DETECTIONS, Detections(boxes, rng.uniform(0.3, 1, N_PEOPLE), np.zeros(N_PEOPLE), t)),
        (topics.TRACKS, Tracks(np.arange(N_PEOPLE), boxes, np.ones(N_PEOPLE), np.ones(N_PEOPLE), people_ned,
                               np.ones(N_PEOPLE), t)),
        (topics.SUBJECT, TargetEstimate(1, people_ned[0], np.zeros(3), np.eye(3), t, True)),
        (topics.PEOPLE, People(people_ned, np.zeros((N_PEOPLE, 3)), np.ones(N_PEOPLE), np.full(N_PEOPLE, t),
                               np.arange(N_PEOPLE) == 0, t)),
        (topics.PROPOSED, cmd),
        (topics.SAFE, {**to_jsonable(SafeCommand(cmd, Verdict.PASS, frozenset(), t + 0.2)), "engaged": True,
                       "min_separation_est_m": 14.0, "stopping_point_ned_m": [1.0, 2.0, -8.0],
                       "fence_margin_m": 80.0}),
        (topics.MAVLINK_OUT, {"msg_type": "SET_POSITION_TARGET_LOCAL_NED", "command": None,
                              "fields": {"vx": 1.0, "vy": 0.0, "vz": 0.0, "yaw_rate": 0.1, "type_mask": 1479}}),
        (topics.TRUTH, {"vehicle_position_ned_m": [1.0, 2.0, -8.0], "vehicle_velocity_ned_mps": [1.0, 0, 0],
                        "people": [{"id": i, "position_ned_m": p.tolist(), "is_subject": i == 0}
                                   for i, p in enumerate(people_ned)]}),
    ]


def time_steps(record: Callable[[str, float, Any], None], steps: list[list[tuple[str, Any]]],
               frames: list[Frame | None]) -> np.ndarray:
    out = np.empty(len(steps))
    for i, (msgs, frame) in enumerate(zip(steps, frames)):
        t = i / RATE_HZ
        t0 = time.perf_counter()
        for topic, msg in msgs:
            record(topic, t, msg)
        if frame is not None:
            record(topics.CAMERA, t, frame)
        out[i] = time.perf_counter() - t0
    return out


def _row(name: str, dt: np.ndarray) -> str:
    us = dt * 1e6
    share = 100 * np.mean(dt) * RATE_HZ
    return (f"{name:44s} mean {np.mean(us):8.1f} us  p50 {np.percentile(us, 50):8.1f}  p99 "
            f"{np.percentile(us, 99):8.1f}  max {np.max(us):8.1f}  ({share:.2f}% of a 50 ms period)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    steps = [step_messages(i / RATE_HZ, rng) for i in range(args.steps)]
    no_frames: list[Frame | None] = [None] * args.steps
    cam = CameraModel.from_gimbal(CameraIntrinsics.from_hfov(1.2, (640, 480)), [0, 0, -8], 0.0, -0.3)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    image = np.ascontiguousarray(np.repeat(np.repeat(image[::8, ::8], 8, 0), 8, 1))  # blocky, JPEG-friendly
    frames: list[Frame | None] = [Frame(image, i / RATE_HZ, i, cam) for i in range(args.steps)]

    null = NullRecorder()
    print(f"{args.steps} steps at {RATE_HZ:.0f} Hz, {len(steps[0])} topics per step")
    print(_row("reference: NullRecorder", time_steps(null.record, steps, no_frames)))

    def dumps_only(topic: str, stamp_s: float, msg: Any) -> None:
        json.dumps(to_jsonable(msg), allow_nan=False)

    print(_row("reference: json.dumps(to_jsonable) only", time_steps(dumps_only, steps, no_frames)))
    with tempfile.TemporaryDirectory() as tmp:
        for compress in (True, False):
            path = Path(tmp) / f"bench_{compress}.mcap"
            with FlightRecorder(path, compress=compress) as rec:
                dt = time_steps(rec.record, steps, no_frames)
            print(_row(f"FlightRecorder compress={compress}", dt) + f"  {path.stat().st_size / 1e3:.0f} kB")
        path = Path(tmp) / "bench_cam.mcap"
        with FlightRecorder(path, camera_max_rate_hz=2.0) as rec:
            dt = time_steps(rec.record, steps, frames)
        print(_row("FlightRecorder + 640x480 JPEG at 2 Hz", dt) + f"  {path.stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
