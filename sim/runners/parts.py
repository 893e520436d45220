"""The simulator's parts for the control loop (:mod:`drone_perception.loop`): its clock, its in-process
autopilot as a vehicle link, and its detection model as a perception source."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

import numpy as np

from drone_perception.loop import Health, PeriodClock, Sensed, VehicleLink
from drone_perception.pipeline import PipelineOutput
from drone_perception.types import CameraModel, SafeCommand, VehicleState
from sim.sensing.sensors import DetectionModelParams, simulate_detections
from sim.sensing.source import SimPerception
from sim.world.world import World


class WorldClock:
    """``PeriodClock`` of a run on the in-process autopilot: each period advances the world (people, wind,
    the vehicle flying its setpoint) by ``dt_s``; the stack's time is the world's ``t_s``."""

    def __init__(self, world: World, dt_s: float) -> None:
        self.world = world
        self.dt_s = dt_s

    def next_period(self) -> float:
        self.world.step(self.dt_s)
        return self.world.t_s


class CompanionClock:
    """The companion's clock (the bridge's and the stack's) over the simulation's ``inner`` clock: the same, plus a
    jump once ``inner`` reaches :meth:`jump`'s ``at_s`` (a suspended or resynchronised companion: its clock reads
    ahead of the vehicle's and the crew's). The crew's ground station and the world keep ``inner``."""

    def __init__(self, inner: Callable[[], float]) -> None:
        self.inner = inner
        self.jump_s = 0.0
        self.at_s = math.inf

    def jump(self, jump_s: float, *, at_s: float) -> None:
        """From ``inner`` time ``at_s`` on, read ``jump_s`` seconds ahead (>= 0: a monotonic clock never goes back)."""
        if not (math.isfinite(jump_s) and jump_s >= 0.0 and not math.isnan(at_s)):
            raise ValueError(f"jump_s: must be finite and >= 0, at_s a time; got {jump_s!r}, {at_s!r}")
        self.jump_s, self.at_s = float(jump_s), float(at_s)

    def __call__(self) -> float:
        t = self.inner()
        return t + self.jump_s if t >= self.at_s else t


class WorldVehicleLink:
    """``VehicleLink`` to the world's in-process autopilot (ArduCopter GUIDED semantics, :mod:`sim.world.autopilot`).
    The stack sees the true state and the true camera pose (there is no telemetry to degrade them)."""

    def __init__(self, world: World) -> None:
        self.world = world

    def poll(self, now_s: float) -> VehicleState:
        return self.world.vehicle_state()

    def camera(self, state: VehicleState) -> CameraModel | None:
        return self.world.camera_model()

    def send(self, safe: SafeCommand, now_s: float) -> bool:
        if safe.expired(now_s):
            return False
        self.world.command(safe.command)
        return True

    def after_period(self, now_s: float, output: PipelineOutput | None) -> None:
        return None


class Injection(Protocol):
    """A fault injected into a simulated run (``sim.campaign.faults``): wraps the loop's parts and says the
    companion's health per period."""

    def parts(self, world: World, clock: PeriodClock, vehicle: VehicleLink,
              perception: SimPerception) -> tuple[PeriodClock, VehicleLink, SimPerception]: ...

    def health(self, world: World) -> Health: ...


class SimulatedDetections:
    """``PerceptionSource`` from the simulator's detection model (:func:`sim.sensing.sensors.simulate_detections`):
    boxes of the people the true camera sees, with misses, jitter and false positives drawn from ``rng``.
    Stamped with the stack's ``now_s``."""

    def __init__(self, world: World, rng: np.random.Generator, params: DetectionModelParams | None = None) -> None:
        self.world = world
        self.rng = rng
        self.params = params or DetectionModelParams.calibrated(world.intrinsics.size_wh_px[0])
        self._subject_in_view = False

    def sense(self, now_s: float) -> Sensed:
        detections, gt_ids = simulate_detections(self.world, self.world.camera_model(), self.rng, self.params)
        self._subject_in_view = bool(np.any(gt_ids == self.world.subject.id))
        if detections.stamp_s != now_s:
            detections = replace(detections, stamp_s=now_s)  # the stack's clock (MAVLink runs)
        return Sensed(detections=detections)

    def subject_in_view(self) -> bool:
        """Ground truth: the detection model detected the subject this period (in the image, not hidden,
        occluded or missed). The summaries' "subject in view" share counts these periods."""
        return self._subject_in_view


__all__ = ["CompanionClock", "Injection", "SimPerception", "SimulatedDetections", "WorldClock", "WorldVehicleLink"]
