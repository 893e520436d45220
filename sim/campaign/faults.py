"""A case's fault, injected into the loop's parts (issue 13 item 1). One fault per case (``family.Fault``): a
class, a window in world time and a strength ``m`` in [0, 1].

Perception (both loops), each period inside the window:

- ``detector_dropout``: the detector finds nothing, with probability 0.5 + 0.5 m (an empty detection list);
- ``false_positives``: 1 + 4 m person-shaped boxes at random places (scores 0.5-0.95) join the real ones;
- ``corrupt_frames``: the frame is unreadable, with probability 0.3 + 0.7 m (no perception that period).

The companion (both loops): ``stalled_pipeline`` (the pipeline hangs: nothing produced, the bridge's stall check
still runs) and ``dead_companion`` (nothing read, produced or sent) for the window.

The vehicle's reports: ``gps_glitch`` (the reported position, and so the stack's camera pose, jumps 2 + 18 m
horizontally for the window; the MAVLink loop uses the sim vehicle's own glitch).

The companion's clock: ``clock_jump`` (from the onset the stack's clock reads 0.2 + 4.8 m s ahead of the world's: a
suspended process; every stamp the stack makes jumps with it). On the MAVLink loop the bridge's clock jumps with
the stack's (``sim.runners.parts.CompanionClock``), while the vehicle and the crew's ground station keep theirs:
every report the bridge has is suddenly that much older.

The link (MAVLink loop only): ``link_drop`` (nothing crosses for the window), ``packet_loss`` (each datagram lost
with probability 0.05 + 0.45 m, from the onset on), ``latency`` (0.02 + 0.3 m s, jitter 0.1 m s, from the onset) and
``malformed_mavlink`` (for the window each datagram the vehicle sends is garbled with probability 0.05 + 0.45 m:
flipped bytes that fail the checksum, or a state report in a valid frame carrying NaN, infinity or an absurd value;
``sim.mavlink.faults.Malformation``).

All randomness comes from a generator seeded by the case seed alone, separate from the world's and the detection
model's, so a fault never changes what the rest of the case draws.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Protocol

import numpy as np

from drone_perception.loop import Health, PeriodClock, Sensed, VehicleLink
from drone_perception.pipeline import PipelineOutput
from drone_perception.types import CameraModel, Detections, SafeCommand, VehicleState
from sim.campaign.family import Fault
from sim.mavlink.faults import LinkFaultConfig
from sim.mavlink.vehicle import MavlinkSimVehicle
from sim.sensing.source import SimPerception
from sim.world.world import World, fast_camera_model


def glitch_offset_ned_m(fault: Fault, seed: int) -> tuple[float, float, float]:
    bearing = float(np.random.default_rng([seed, 23]).uniform(0.0, 2.0 * math.pi))
    r = 2.0 + 18.0 * fault.magnitude
    return (r * math.cos(bearing), r * math.sin(bearing), 0.0)


class FaultyPerception:
    """The simulated detector with the case's perception fault."""

    def __init__(self, inner: SimPerception, world: World, fault: Fault, seed: int) -> None:
        self.inner, self.world, self.fault = inner, world, fault
        self.rng = np.random.default_rng([seed, 29])
        self._in_view = False

    def sense(self, now_s: float) -> Sensed:
        sensed = self.inner.sense(now_s)  # always drawn, so the detection model's generator advances as without
        self._in_view = self.inner.subject_in_view()
        f = self.fault
        if not f.active(self.world.t_s) or sensed.detections is None:
            return sensed
        u = float(self.rng.random())
        if f.kind == "detector_dropout" and u < 0.5 + 0.5 * f.magnitude:
            self._in_view = False
            return Sensed(detections=Detections.empty(sensed.detections.stamp_s))
        if f.kind == "corrupt_frames" and u < 0.3 + 0.7 * f.magnitude:
            self._in_view = False
            return Sensed()
        if f.kind == "false_positives":
            return Sensed(detections=self._with_phantoms(sensed.detections, 1 + round(4 * f.magnitude)))
        return sensed

    def _with_phantoms(self, det: Detections, n: int) -> Detections:
        w_img, h_img = self.world.intrinsics.size_wh_px
        h = self.rng.uniform(20.0, 0.5 * h_img, n)
        w = 0.4 * h
        x = self.rng.uniform(0.0, w_img - w)
        y = self.rng.uniform(0.0, h_img - h)
        boxes = np.column_stack([x, y, x + w, y + h]).astype(np.float32)
        return Detections(np.vstack([det.xyxy_px, boxes]),
                          np.concatenate([det.confidence, self.rng.uniform(0.5, 0.95, n).astype(np.float32)]),
                          np.concatenate([det.class_id, np.zeros(n, np.int32)]), det.stamp_s)

    def subject_in_view(self) -> bool:
        return self._in_view


class JumpingClock:
    """The stack's clock, ``jump_s`` ahead of the world's from the onset on."""

    def __init__(self, inner: PeriodClock, world: World, fault: Fault) -> None:
        self.inner, self.world = inner, world
        self.onset_s = fault.start_s
        self.jump_s = clock_jump_s(fault)

    def offset_s(self) -> float:
        return self.jump_s if self.world.t_s >= self.onset_s else 0.0

    def next_period(self) -> float:
        return self.inner.next_period() + self.offset_s()


class FaultyVehicleLink:
    """The in-process autopilot's reports with a GPS glitch, or stamped on a jumped clock."""

    def __init__(self, inner: VehicleLink, world: World, fault: Fault, seed: int,
                 clock: JumpingClock | None = None) -> None:
        self.inner, self.world, self.fault, self.clock = inner, world, fault, clock
        self.offset = np.array(glitch_offset_ned_m(fault, seed))

    def poll(self, now_s: float) -> VehicleState:
        state = self.inner.poll(now_s)
        if self.clock is not None:
            state = replace(state, stamp_s=state.stamp_s + self.clock.offset_s())
        if self.fault.kind == "gps_glitch" and self.fault.active(self.world.t_s):
            state = replace(state, position_ned_m=state.position_ned_m + self.offset)
        return state

    def camera(self, state: VehicleState) -> CameraModel | None:
        if self.fault.kind != "gps_glitch":
            return self.inner.camera(state)
        return fast_camera_model(self.world.intrinsics, state.position_ned_m, self.world.vehicle.yaw_rad,
                                 self.world.gimbal_pitch_rad)

    def send(self, safe: SafeCommand, now_s: float) -> bool:
        return self.inner.send(safe, now_s)

    def after_period(self, now_s: float, output: PipelineOutput | None) -> None:
        self.inner.after_period(now_s, output)


def companion_health(world: World, fault: Fault) -> Health:
    if fault.kind == "stalled_pipeline" and fault.active(world.t_s):
        return Health.STALLED
    if fault.kind == "dead_companion" and fault.active(world.t_s):
        return Health.DEAD
    return Health.ALIVE


PERCEPTION_FAULTS = frozenset({"detector_dropout", "false_positives", "corrupt_frames"})


class DirectInjection:
    """``sim.runners.parts.Injection`` of one fault into the direct loop's parts."""

    def __init__(self, fault: Fault, seed: int) -> None:
        self.fault, self.seed = fault, seed

    def parts(self, world: World, clock: PeriodClock, vehicle: VehicleLink,
              perception: SimPerception) -> tuple[PeriodClock, VehicleLink, SimPerception]:
        f = self.fault
        jumping = JumpingClock(clock, world, f) if f.kind == "clock_jump" else None
        if f.kind in PERCEPTION_FAULTS:
            perception = FaultyPerception(perception, world, f, self.seed)
        if f.kind in ("gps_glitch", "clock_jump"):
            vehicle = FaultyVehicleLink(vehicle, world, f, self.seed, jumping)
        return (jumping or clock), vehicle, perception

    def health(self, world: World) -> Health:
        return companion_health(world, self.fault)


class MavlinkInjection:
    """``sim.runners.parts.Injection`` for the MAVLink loop: the perception faults and the companion's health;
    the link and GPS faults go through the sim vehicle (:func:`arm_vehicle_faults`)."""

    def __init__(self, fault: Fault, seed: int) -> None:
        self.fault, self.seed = fault, seed

    def parts(self, world: World, clock: PeriodClock, vehicle: VehicleLink,
              perception: SimPerception) -> tuple[PeriodClock, VehicleLink, SimPerception]:
        if self.fault.kind in PERCEPTION_FAULTS:
            perception = FaultyPerception(perception, world, self.fault, self.seed)
        return clock, vehicle, perception

    def health(self, world: World) -> Health:
        return companion_health(world, self.fault)


def schedule_vehicle_faults(sim_vehicle: MavlinkSimVehicle, fault: Fault, seed: int, handover_s: float) -> None:
    """The windowed link and GPS faults, on the sim vehicle's clock (world time 0 is ``handover_s``)."""
    start = handover_s + fault.start_s
    if fault.kind == "link_drop":
        sim_vehicle.drop_link(fault.duration_s, start_s=start)
    elif fault.kind == "gps_glitch":
        sim_vehicle.inject_gps_glitch(glitch_offset_ned_m(fault, seed), fault.duration_s, start_s=start)
    elif fault.kind == "malformed_mavlink":
        sim_vehicle.malform_link(fault.duration_s, 0.05 + 0.45 * fault.magnitude, np.random.default_rng([seed, 37]),
                                 start_s=start)


class JumpableClock(Protocol):
    def jump(self, jump_s: float, *, at_s: float) -> None: ...


def clock_jump_s(fault: Fault) -> float:
    """How far a ``clock_jump`` moves the companion's clock (s)."""
    return 0.2 + 4.8 * fault.magnitude


def schedule_companion_faults(companion_clock: JumpableClock, fault: Fault, handover_s: float) -> None:
    """The MAVLink loop's ``clock_jump``: the companion's clock jumps at the onset (world time 0 is ``handover_s``
    on the vehicle's clock)."""
    if fault.kind == "clock_jump":
        companion_clock.jump(clock_jump_s(fault), at_s=handover_s + fault.start_s)


def link_faults_at_onset(fault: Fault) -> LinkFaultConfig | None:
    """The link impairment switched on at the onset (``packet_loss``, ``latency``), else None."""
    m = fault.magnitude
    if fault.kind == "packet_loss":
        return LinkFaultConfig(loss_probability=0.05 + 0.45 * m)
    if fault.kind == "latency":
        return LinkFaultConfig(latency_s=0.02 + 0.3 * m, latency_jitter_s=0.1 * m)
    return None


__all__ = [
    "PERCEPTION_FAULTS",
    "DirectInjection",
    "FaultyPerception",
    "FaultyVehicleLink",
    "JumpingClock",
    "MavlinkInjection",
    "clock_jump_s",
    "companion_health",
    "glitch_offset_ned_m",
    "link_faults_at_onset",
    "schedule_companion_faults",
    "schedule_vehicle_faults",
]
