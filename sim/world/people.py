"""Simulated people and their motion models.

People walk on flat ground (NED ``z = 0``); positions are foot points, NED metres; velocities NED m/s.
A motion model decides, each step, the velocity a person wants and reaches it under an acceleration limit, so
turns and starts are smooth. Models keep their own progress (next waypoint, phase), so each person owns its
model instance. All randomness comes from the ``rng`` passed to ``step``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from drone_perception.errors import InvalidValueError

#: Typical speeds (m/s) for scenario authors.
WALK_SPEED_MPS = 1.4
JOG_SPEED_MPS = 3.0
SPRINT_SPEED_MPS = 8.0


@dataclass(frozen=True)
class MotionContext:
    """What a person may react to: the time and the vehicle's position (NED m)."""

    t_s: float
    vehicle_position_ned_m: np.ndarray


class MotionModel(Protocol):
    def velocity(
        self, position_ned_m: np.ndarray, velocity_ned_mps: np.ndarray, dt_s: float, rng: np.random.Generator,
        context: MotionContext,
    ) -> np.ndarray:
        """The person's velocity (3,) NED m/s over the next ``dt_s`` seconds."""
        ...


def _approach(current: np.ndarray, target: np.ndarray, accel_mps2: float, dt_s: float) -> np.ndarray:
    """Move ``current`` towards ``target`` by at most ``accel_mps2 * dt_s`` (vector norm)."""
    diff = target - current
    n = math.sqrt(float(diff @ diff))
    step = accel_mps2 * dt_s
    if n <= step:
        return target.copy()
    return current + diff * (step / n)


def _positive(name: str, value: float) -> float:
    if not (math.isfinite(value) and value > 0.0):
        raise InvalidValueError(f"{name}: must be positive and finite, got {value!r}")
    return float(value)


class Standing:
    """Stands still (decelerating at ``accel_mps2`` if moving)."""

    def __init__(self, accel_mps2: float = 3.0) -> None:
        self.accel_mps2 = _positive("accel_mps2", accel_mps2)

    def velocity(self, position_ned_m: np.ndarray, velocity_ned_mps: np.ndarray, dt_s: float,
                 rng: np.random.Generator, context: MotionContext) -> np.ndarray:
        return _approach(velocity_ned_mps, np.zeros(3), self.accel_mps2, dt_s)


class ConstantVelocity:
    """Moves at a fixed ground velocity ``velocity_ne_mps`` (north, east)."""

    def __init__(self, velocity_ne_mps: tuple[float, float], accel_mps2: float = 3.0) -> None:
        self.target = np.array([velocity_ne_mps[0], velocity_ne_mps[1], 0.0], dtype=np.float64)
        self.accel_mps2 = _positive("accel_mps2", accel_mps2)

    def velocity(self, position_ned_m: np.ndarray, velocity_ned_mps: np.ndarray, dt_s: float,
                 rng: np.random.Generator, context: MotionContext) -> np.ndarray:
        return _approach(velocity_ned_mps, self.target, self.accel_mps2, dt_s)


class WaypointWalker:
    """Walks (or jogs) through ``waypoints_ne_m`` at ``speed_mps`` and stops at the last one.

    ``speed_sigma_mps``: standard deviation of a slow random speed variation (Ornstein-Uhlenbeck, 5 s time
    constant); 0 = constant speed. ``accel_mps2``: how hard the person speeds up, slows and turns (sharper turns
    with a larger value). ``arrive_radius_m``: a waypoint counts as reached inside this radius. ``dwell_s``:
    seconds to stand at each waypoint once reached (scalar or one per waypoint). ``loop``: start over at the
    first waypoint after the last.
    """

    SPEED_TIME_CONSTANT_S = 5.0

    def __init__(self, waypoints_ne_m: Sequence[tuple[float, float]], speed_mps: float, *,
                 speed_sigma_mps: float = 0.0, accel_mps2: float = 2.0, arrive_radius_m: float = 0.75,
                 dwell_s: Sequence[float] | float = 0.0, loop: bool = False) -> None:
        if len(waypoints_ne_m) == 0:
            raise InvalidValueError("waypoints_ne_m: needs at least one waypoint, got none")
        self.waypoints_ne_m = np.array(waypoints_ne_m, dtype=np.float64).reshape(-1, 2)
        dwell = np.broadcast_to(np.asarray(dwell_s, dtype=np.float64), (len(self.waypoints_ne_m),))
        if not np.all(np.isfinite(dwell)) or np.any(dwell < 0.0):
            raise InvalidValueError(f"dwell_s: must be finite and >= 0 per waypoint, got {dwell_s!r}")
        self.dwell_s = tuple(float(d) for d in dwell)
        self._dwell_until_s = -math.inf
        self._distance_m = 0.0
        self.speed_mps = _positive("speed_mps", speed_mps)
        if not (math.isfinite(speed_sigma_mps) and speed_sigma_mps >= 0.0):
            raise InvalidValueError(f"speed_sigma_mps: must be >= 0 and finite, got {speed_sigma_mps!r}")
        self.speed_sigma_mps = float(speed_sigma_mps)
        self.accel_mps2 = _positive("accel_mps2", accel_mps2)
        self.arrive_radius_m = _positive("arrive_radius_m", arrive_radius_m)
        self.loop = loop
        self.index = 0
        self._speed_dev = 0.0

    @property
    def finished(self) -> bool:
        return self.index >= len(self.waypoints_ne_m)

    def _advance(self, position_ned_m: np.ndarray, t_s: float) -> np.ndarray | None:
        """Unit direction (3,) to the current waypoint, advancing past reached ones; None when finished or
        dwelling."""
        if t_s < self._dwell_until_s:
            return None
        while not self.finished:
            d = self.waypoints_ne_m[self.index] - position_ned_m[:2]
            dist = math.hypot(float(d[0]), float(d[1]))
            if dist > self.arrive_radius_m:
                self._distance_m = dist
                return np.array([d[0] / dist, d[1] / dist, 0.0])
            dwell = self.dwell_s[self.index]
            self.index += 1
            if dwell > 0.0:
                self._dwell_until_s = t_s + dwell
                if self.finished and self.loop:
                    self.index = 0
                return None
            if self.finished and self.loop:
                self.index = 0
                if len(self.waypoints_ne_m) == 1:
                    return None
        return None

    def velocity(self, position_ned_m: np.ndarray, velocity_ned_mps: np.ndarray, dt_s: float,
                 rng: np.random.Generator, context: MotionContext) -> np.ndarray:
        direction = self._advance(position_ned_m, context.t_s)
        if direction is None:
            return _approach(velocity_ned_mps, np.zeros(3), self.accel_mps2, dt_s)
        speed = self.speed_mps
        if self.speed_sigma_mps > 0.0:
            decay = math.exp(-dt_s / self.SPEED_TIME_CONSTANT_S)
            self._speed_dev = self._speed_dev * decay + self.speed_sigma_mps * math.sqrt(
                1.0 - decay * decay) * float(rng.standard_normal())
            speed = max(0.2 * self.speed_mps, speed + self._speed_dev)
        stopping_here = self.dwell_s[self.index] > 0.0 or (self.index == len(self.waypoints_ne_m) - 1 and not self.loop)
        if stopping_here:  # slow down so as to stop on the waypoint, not past it
            speed = min(speed, math.sqrt(2.0 * self.accel_mps2 * max(self._distance_m - 0.5 * self.arrive_radius_m,
                                                                     0.0)))
        return _approach(velocity_ned_mps, direction * speed, self.accel_mps2, dt_s)


class StopAndGo:
    """Walks a waypoint route in bursts: walks for ``walk_s`` (uniform in the range), stops for ``stop_s``
    (uniform in the range), repeats. Durations are drawn from the step's ``rng`` at each phase change."""

    def __init__(self, waypoints_ne_m: Sequence[tuple[float, float]], speed_mps: float, *,
                 walk_s: tuple[float, float] = (4.0, 8.0), stop_s: tuple[float, float] = (2.0, 5.0),
                 accel_mps2: float = 2.0) -> None:
        for name, rng_s in (("walk_s", walk_s), ("stop_s", stop_s)):
            if not (0.0 < rng_s[0] <= rng_s[1] and math.isfinite(rng_s[1])):
                raise InvalidValueError(f"{name}: expected 0 < low <= high, got {rng_s!r}")
        self.walker = WaypointWalker(waypoints_ne_m, speed_mps, accel_mps2=accel_mps2)
        self.walk_s = walk_s
        self.stop_s = stop_s
        self.walking = True
        self._phase_end_s: float | None = None

    def velocity(self, position_ned_m: np.ndarray, velocity_ned_mps: np.ndarray, dt_s: float,
                 rng: np.random.Generator, context: MotionContext) -> np.ndarray:
        if self._phase_end_s is None:
            self._phase_end_s = context.t_s + float(rng.uniform(*self.walk_s))
        elif context.t_s >= self._phase_end_s:
            self.walking = not self.walking
            self._phase_end_s = context.t_s + float(rng.uniform(*(self.walk_s if self.walking else self.stop_s)))
        if self.walking:
            return self.walker.velocity(position_ned_m, velocity_ned_mps, dt_s, rng, context)
        return _approach(velocity_ned_mps, np.zeros(3), self.walker.accel_mps2, dt_s)


class TowardPoint:
    """Runs at ``speed_mps`` towards ``target_ne_m`` or, when it is None, towards the vehicle's current ground
    projection (a person walking or sprinting at the drone). Slows to a stop within ``stop_distance_m``."""

    def __init__(self, speed_mps: float, target_ne_m: tuple[float, float] | None = None, *,
                 accel_mps2: float = 3.0, stop_distance_m: float = 1.0) -> None:
        self.speed_mps = _positive("speed_mps", speed_mps)
        self.target_ne_m = None if target_ne_m is None else np.array(target_ne_m, dtype=np.float64)
        self.accel_mps2 = _positive("accel_mps2", accel_mps2)
        self.stop_distance_m = _positive("stop_distance_m", stop_distance_m)

    def velocity(self, position_ned_m: np.ndarray, velocity_ned_mps: np.ndarray, dt_s: float,
                 rng: np.random.Generator, context: MotionContext) -> np.ndarray:
        target = self.target_ne_m if self.target_ne_m is not None else context.vehicle_position_ned_m[:2]
        d = target - position_ned_m[:2]
        dist = math.hypot(float(d[0]), float(d[1]))
        if dist <= self.stop_distance_m:
            return _approach(velocity_ned_mps, np.zeros(3), self.accel_mps2, dt_s)
        # Never faster than what still lets the person stop at the stop distance.
        speed = min(self.speed_mps, math.sqrt(2.0 * self.accel_mps2 * (dist - self.stop_distance_m)))
        want = np.array([d[0] / dist * speed, d[1] / dist * speed, 0.0])
        return _approach(velocity_ned_mps, want, self.accel_mps2, dt_s)


class Phased:
    """Runs motion models one after another: ``phases`` is a sequence of ``(end_s, model)`` with increasing
    end times (simulation seconds); the last model runs on after its end time."""

    def __init__(self, phases: Sequence[tuple[float, MotionModel]]) -> None:
        if not phases:
            raise InvalidValueError("phases: needs at least one (end_s, model), got none")
        ends = [float(e) for e, _ in phases]
        if any(b <= a for a, b in itertools.pairwise(ends)):
            raise InvalidValueError(f"phases: end times must increase, got {ends}")
        self.phases = tuple((float(e), m) for e, m in phases)

    def current(self, t_s: float) -> MotionModel:
        for end_s, model in self.phases:
            if t_s < end_s:
                return model
        return self.phases[-1][1]

    def velocity(self, position_ned_m: np.ndarray, velocity_ned_mps: np.ndarray, dt_s: float,
                 rng: np.random.Generator, context: MotionContext) -> np.ndarray:
        return self.current(context.t_s).velocity(position_ned_m, velocity_ned_mps, dt_s, rng, context)


class SimPerson:
    """One simulated person: a vertical body ``height_m`` tall and ``width_m`` wide standing at a foot point.

    ``id`` is the ground-truth identity (used to label simulated detections); ``is_subject`` marks the person
    the crew wants filmed. ``position_ne_m`` is the start (north, east) in metres.
    """

    def __init__(self, id: int, is_subject: bool, motion: MotionModel, height_m: float = 1.75,
                 width_m: float = 0.5, *, position_ne_m: npt.ArrayLike = (0.0, 0.0)) -> None:
        ne = np.asarray(position_ne_m, dtype=np.float64).reshape(-1)
        if ne.shape != (2,) or not np.all(np.isfinite(ne)):
            raise InvalidValueError(f"position_ne_m: expected 2 finite values, got {position_ne_m!r}")
        self.id = int(id)
        self.is_subject = bool(is_subject)
        self.motion = motion
        self.height_m = _positive("height_m", height_m)
        self.width_m = _positive("width_m", width_m)
        self._pos = np.array([ne[0], ne[1], 0.0])
        self._vel = np.zeros(3)

    @property
    def position_ned_m(self) -> np.ndarray:
        """Foot point, NED metres (on the ground, z = 0)."""
        return self._pos.copy()

    @property
    def velocity_ned_mps(self) -> np.ndarray:
        return self._vel.copy()

    def step(self, dt_s: float, rng: np.random.Generator, context: MotionContext) -> None:
        """Advance by ``dt_s`` seconds; ``context.t_s`` is the time at the start of the step."""
        vel = self.motion.velocity(self._pos, self._vel, dt_s, rng, context)
        vel[2] = 0.0
        self._pos += 0.5 * (self._vel + vel) * dt_s
        self._vel = vel
