"""The one control loop: every mode (direct sim, camera in the loop, MAVLink lock-step, external SITL, live
``run``) assembles parts and calls :class:`ControlLoop`; none keeps a loop body of its own.

One period, in this order (the order is part of the contract: simulated runs are deterministic under a seed)::

    now_s   = clock.next_period()                  # advances the simulated world, or waits for real time / a frame
    health  = health(now_s)                        # ALIVE, or a companion fault injected by a test (STALLED, DEAD)
    state   = vehicle.poll(now_s)                  # telemetry in (not when DEAD)
    camera  = vehicle.camera(state)                # the stack's camera pose, from what the vehicle reports
    sensed  = perception.sense(now_s)              # detections, or an image for the detector (always: the
                                                   # camera keeps producing even when nobody reads it)
    op      = operator.act(now_s, pipeline, camera)  # the crew (not when DEAD)
    out     = pipeline.step(...)                   # perception -> governor (not when STALLED or DEAD)
    sent    = out.send and vehicle.send(out.safe, now_s)   # each SafeCommand at most once, never re-sent
    vehicle.after_period(now_s, out)               # stall check, status to the ground station (not when DEAD)
    observer.on_period(period) for each observer   # recorder of ground truth, metrics, video, statistics

The parts are small protocols (:class:`PeriodClock`, :class:`VehicleLink`, :class:`PerceptionSource`,
:class:`OperatorSource`, :class:`Observer`); the core implements none of the shells: the in-process simulated
autopilot, the MAVLink bridge and the scripted crew live in ``sim`` and ``firmware_bridge``.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from drone_perception.errors import SourceExhausted
from drone_perception.pipeline import Pipeline, PipelineOutput
from drone_perception.realtime import release_heap, settle_heap
from drone_perception.types import CameraModel, Detections, Frame, OperatorInput, SafeCommand, VehicleState

log = logging.getLogger(__name__)


class Health(enum.Enum):
    """The companion computer's state in one period. Only fault-injection tests make it other than ALIVE."""

    ALIVE = "alive"
    #: The pipeline hangs: telemetry is read and the crew acts, but nothing is produced (the bridge's stall
    #: check still runs).
    STALLED = "stalled"
    #: The whole companion is gone: nothing is read, produced or sent.
    DEAD = "dead"


@dataclass(frozen=True)
class Sensed:
    """What perception delivered this period: simulated ``detections``, or an ``image`` (uint8 HxWx3 BGR,
    frame number ``seq``) for the pipeline's detector, or neither (no new perception this period)."""

    detections: Detections | None = None
    image: np.ndarray | None = None
    seq: int = 0


@dataclass(frozen=True)
class Period:
    """One control period as the observers see it. ``output`` is None when the companion was STALLED or DEAD;
    ``operator`` is None when DEAD; ``sent``: the period's SafeCommand reached the vehicle link."""

    index: int
    now_s: float
    health: Health
    vehicle: VehicleState | None
    camera: CameraModel | None
    sensed: Sensed
    frame: Frame | None
    operator: OperatorInput | None
    output: PipelineOutput | None
    sent: bool

    @property
    def engaged(self) -> bool:
        """The operator had handed control to the stack and the pipeline ran."""
        return self.output is not None and self.operator is not None and self.operator.engaged


class PeriodClock(Protocol):
    """Owns the period: advances a simulated world by one period, or waits for the next tick (or frame) in
    real time; returns the stack's time ``now_s`` (monotonic seconds). Raises ``SourceExhausted`` when a
    finite source that paces the loop has ended."""

    def next_period(self) -> float: ...


class VehicleLink(Protocol):
    """Telemetry in, commands out: the MAVLink bridge, or the in-process simulated autopilot."""

    def poll(self, now_s: float) -> VehicleState: ...

    def camera(self, state: VehicleState) -> CameraModel | None:
        """The stack's camera pose from the vehicle's reported state (None while unknown)."""
        ...

    def send(self, safe: SafeCommand, now_s: float) -> bool:
        """Send ``safe`` once; True when it went out (an expired command is refused, False)."""
        ...

    def after_period(self, now_s: float, output: PipelineOutput | None) -> None:
        """After the period's send: stall check, status to the ground station. ``output`` None: nothing was
        produced this period."""
        ...


class PerceptionSource(Protocol):
    def sense(self, now_s: float) -> Sensed: ...


class OperatorSource(Protocol):
    """The crew: acts with its own tools (console, ground station, a scripted stand-in) and returns the
    operator input the pipeline sees this period."""

    def act(self, now_s: float, pipeline: Pipeline, camera: CameraModel | None) -> OperatorInput: ...


class Observer(Protocol):
    def on_period(self, period: Period) -> None: ...


@dataclass(frozen=True)
class LoopStats:
    """What a run did: ``periods`` run, ``sent`` SafeCommands that reached the vehicle, ``stop_reason``."""

    periods: int
    sent: int
    stop_reason: str


def always_alive(now_s: float) -> Health:
    return Health.ALIVE


class ControlLoop:
    """Runs the period (see the module docstring). ``placeholder_camera``: the pose stamped on a frame while
    the vehicle has reported none (the pipeline itself then gets ``camera=None`` and runs without geometry)."""

    def __init__(self, pipeline: Pipeline, *, clock: PeriodClock, vehicle: VehicleLink,
                 perception: PerceptionSource, operator: OperatorSource, observers: Sequence[Observer] = (),
                 health: Callable[[float], Health] = always_alive,
                 placeholder_camera: CameraModel | None = None) -> None:
        self.pipeline = pipeline
        self.clock = clock
        self.vehicle = vehicle
        self.perception = perception
        self.operator = operator
        self.observers = list(observers)
        self.health = health
        self.placeholder_camera = placeholder_camera
        self.periods = 0
        self.sent = 0

    def step(self) -> Period:
        """One period. Raises ``SourceExhausted`` from a clock or source that ended."""
        now = self.clock.next_period()
        health = self.health(now)
        state = camera = op = out = frame = None
        sent = False
        if health is not Health.DEAD:
            state = self.vehicle.poll(now)
            camera = self.vehicle.camera(state)
        sensed = self.perception.sense(now)
        if state is not None:
            op = self.operator.act(now, self.pipeline, camera)
            if health is Health.ALIVE:
                frame = self._frame(sensed, now, camera)
                out = self.pipeline.step(now_s=now, vehicle=state, operator=op, camera=camera,
                                         detections=sensed.detections, frame=frame)
                sent = bool(out.send and self.vehicle.send(out.safe, now))
            self.vehicle.after_period(now, out)
        period = Period(self.periods, now, health, state, camera, sensed, frame, op, out, sent)
        self.periods += 1
        self.sent += int(sent)
        for observer in self.observers:
            observer.on_period(period)
        return period

    def _frame(self, sensed: Sensed, now_s: float, camera: CameraModel | None) -> Frame | None:
        if sensed.image is None:
            return None
        pose = camera if camera is not None else self.placeholder_camera
        if pose is None:
            raise ValueError("an image arrived before any camera pose and no placeholder_camera was given")
        return Frame(sensed.image, now_s, sensed.seq, pose)

    def run(self, periods: int | None = None, *, freeze_heap: bool = False) -> LoopStats:
        """Until ``self.periods`` reaches ``periods``, or until the source ends (``periods`` None).
        ``freeze_heap`` (real-time runs): keep the start-up heap out of the garbage collector meanwhile, so no
        full collection of it lands inside a period (:mod:`drone_perception.realtime`)."""
        reason = f"{periods} periods"
        if freeze_heap:
            settle_heap()
        try:
            while periods is None or self.periods < periods:
                try:
                    self.step()
                except SourceExhausted as exc:
                    reason = f"source ended: {exc}"
                    break
        finally:
            if freeze_heap:
                release_heap()
        return LoopStats(self.periods, self.sent, reason)


__all__ = ["ControlLoop", "Health", "LoopStats", "Observer", "OperatorSource", "PerceptionSource", "Period",
           "PeriodClock", "Sensed", "VehicleLink", "always_alive"]
