"""The simulated world: people, trees, wind, the multicopter and its GUIDED autopilot, the fence, the camera.

Time is simulation seconds ``t_s`` (monotonic, from 0), advanced only by :meth:`World.step`. All randomness
flows from the ``rng`` the world was built with. Frames: NED metres, origin at home on the ground.

The runner's loop at the control rate is::

    world.step(dt_s)
    camera = world.camera_model()
    detections, gt_ids = simulate_detections(world, camera, rng, params)
    ... stack ... world.command(safe.command)      # delivered at world.t_s

A world may bring its own geofence (scenario ``leave_fence``): ``World.fence`` is always the fence the vehicle
lives in and :meth:`World.stack_config` returns the stack's configuration with that fence, so the governor
and the ground-truth fence margin agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from drone_perception.config import FenceConfig, StackConfig
from drone_perception.config.limits import PERSON_HEIGHT_M
from drone_perception.errors import InvalidValueError
from drone_perception.types import CameraIntrinsics, CameraModel, VehicleState, VelocityCommand
from sim.world.autopilot import GuidedAutopilot
from sim.world.multicopter import Multicopter
from sim.world.occluders import Tree, TreeSet
from sim.world.people import MotionContext, SimPerson
from sim.world.wind import Wind


def polygon_signed_distance_m(point_ne_m: np.ndarray, polygon_ne_m: np.ndarray) -> float:
    """Distance (m) from ``point_ne_m`` to the polygon's boundary: positive inside, negative outside."""
    n_, e_ = float(point_ne_m[0]), float(point_ne_m[1])
    verts = np.asarray(polygon_ne_m, dtype=np.float64).tolist()
    if math.isfinite(n_ + e_) and all(math.isfinite(a + b) for a, b in verts):
        return _polygon_signed_distance_scalar(n_, e_, verts)
    return _polygon_signed_distance_numpy(point_ne_m, polygon_ne_m)


def _polygon_signed_distance_scalar(n_: float, e_: float, verts: list[list[float]]) -> float:
    """:func:`polygon_signed_distance_m` edge by edge on Python floats (finite inputs; called every period by
    the truth meter, where the numpy version's ~25 small-array calls cost more than the arithmetic). The same
    operations in the same order as :func:`_polygon_signed_distance_numpy`, so the result is bit-identical
    (``tests/drone_perception/test_fastpath_world.py`` holds them to each other)."""
    dist = math.inf
    crosses = 0
    for i, (a0, a1) in enumerate(verts):
        b0, b1 = verts[i + 1] if i + 1 < len(verts) else verts[0]
        ab0, ab1 = b0 - a0, b1 - a1
        den = ab0 * ab0 + ab1 * ab1
        t = (((n_ - a0) * ab0 + (e_ - a1) * ab1) / (den if den > 1e-12 else 1e-12))
        t = 0.0 if t < 0.0 else (1.0 if t > 1.0 else t)
        d0, d1 = n_ - (a0 + t * ab0), e_ - (a1 + t * ab1)
        d = math.sqrt(d0 * d0 + d1 * d1)
        if d < dist:
            dist = d
        # Even-odd ray casting towards +east.
        if (a0 > n_) != (b0 > n_) and e_ < a1 + (n_ - a0) * ab1 / (1e-12 if ab0 == 0.0 else ab0):
            crosses += 1
    return dist if crosses % 2 else -dist


def _polygon_signed_distance_numpy(point_ne_m: np.ndarray, polygon_ne_m: np.ndarray) -> float:
    """:func:`polygon_signed_distance_m` vectorised over the edges (any input, NaN included)."""
    a = polygon_ne_m
    b = np.roll(polygon_ne_m, -1, axis=0)
    ab = b - a
    ap = point_ne_m - a
    t = np.clip(np.sum(ap * ab, axis=1) / np.maximum(np.sum(ab * ab, axis=1), 1e-12), 0.0, 1.0)
    closest = a + t[:, None] * ab
    dist = float(np.min(np.linalg.norm(point_ne_m - closest, axis=1)))
    # Even-odd ray casting towards +east.
    n_, e_ = float(point_ne_m[0]), float(point_ne_m[1])
    crosses = ((a[:, 0] > n_) != (b[:, 0] > n_)) & (
        e_ < a[:, 1] + (n_ - a[:, 0]) * ab[:, 1] / np.where(ab[:, 0] == 0.0, 1e-12, ab[:, 0]))
    inside = bool(np.count_nonzero(crosses) % 2)
    return dist if inside else -dist


def fast_camera_model(
    intrinsics: CameraIntrinsics, position_ned_m: np.ndarray, yaw_rad: float, pitch_rad: float
) -> CameraModel:
    """``CameraModel.from_gimbal`` for a roll-free gimbal, with the checks ``CameraModel`` promises, cheaply.

    The constructor checks the rotation numerically (finite, ``R R^T = I`` within 1e-6, ``det R > 0``; ~0.1 ms,
    as much as a whole simulated step). For this closed form that check holds exactly when both angles are
    finite: the columns are unit and orthogonal by the identities ``sin^2 + cos^2 = 1`` (rounding leaves
    ~1e-16) and ``y = z x x`` makes the frame right-handed. So the angles are checked instead; the position
    gets the constructor's own check (3 finite values, copied, read-only), the intrinsics their type.
    ``tests/sim/test_world.py`` holds the result to ``CameraModel``'s own validation over random angles.
    """
    if not isinstance(intrinsics, CameraIntrinsics):
        raise InvalidValueError(f"intrinsics: expected CameraIntrinsics, got {type(intrinsics).__name__}")
    yaw, pitch = float(yaw_rad), float(pitch_rad)
    if not (math.isfinite(yaw) and math.isfinite(pitch)):
        raise InvalidValueError(f"yaw_rad, pitch_rad: must be finite, got {yaw_rad!r}, {pitch_rad!r}")
    pos = np.array(position_ned_m, dtype=np.float64)
    if pos.shape != (3,) or not np.isfinite(pos).all():
        raise InvalidValueError(f"position_ned_m: expected 3 finite values, got {position_ned_m!r}")
    pos.setflags(write=False)
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    # Columns: x right = (-sy, cy, 0); y down = z_fwd x x_right; z forward = (cp cy, cp sy, -sp).
    R = np.array([[-sy, sp * cy, cp * cy], [cy, sp * sy, cp * sy], [0.0, cp, -sp]])
    R.setflags(write=False)
    cam = object.__new__(CameraModel)
    for name, value in (("intrinsics", intrinsics), ("R_ned_from_cam", R), ("position_ned_m", pos),
                        ("yaw_rad", yaw), ("pitch_rad", pitch)):
        object.__setattr__(cam, name, value)
    return cam


class World:
    """Everything the simulator knows. ``people[subject_index]`` is the subject (exactly one).

    ``gimbal_pitch_rad``: fixed camera elevation (negative = looking down); the camera yaw is the vehicle yaw
    and the optical centre is at the vehicle position. ``fence``: the geofence of this world; ``own_fence``: the
    scenario chose it (see :meth:`stack_config`). ``hidden_s``: sensor blackout windows ``(start_s, end_s,
    person_id)`` during which the detection model cannot see that person (glare, a canopy), ``start <= t < end``.
    """

    def __init__(
        self,
        *,
        people: Sequence[SimPerson],
        vehicle: Multicopter,
        autopilot: GuidedAutopilot,
        wind: Wind,
        intrinsics: CameraIntrinsics,
        gimbal_pitch_rad: float,
        rng: np.random.Generator,
        fence: FenceConfig,
        trees: Sequence[Tree] = (),
        own_fence: bool = False,
        hidden_s: Sequence[tuple[float, float, int]] = (),
        t_s: float = 0.0,
    ) -> None:
        subjects = [i for i, p in enumerate(people) if p.is_subject]
        if len(subjects) != 1:
            raise InvalidValueError(f"people: exactly one subject required, got {len(subjects)}")
        ids = [p.id for p in people]
        if len(set(ids)) != len(ids) or min(ids) < 0:
            raise InvalidValueError(f"people: ids must be unique and >= 0, got {ids}")
        self.people: tuple[SimPerson, ...] = tuple(people)
        self.subject_index = subjects[0]
        self.vehicle = vehicle
        self.autopilot = autopilot
        self.wind = wind
        self.intrinsics = intrinsics
        self.gimbal_pitch_rad = float(gimbal_pitch_rad)
        self.rng = rng
        self.fence = fence
        self.own_fence = own_fence
        self.tree_set = TreeSet(trees)
        self.t_s = float(t_s)
        self.wind_ned_mps = wind.velocity_ned_mps
        self._fence_polygon = np.array(fence.polygon_ne_m, dtype=np.float64)
        # Precomputed once: the people's geometry arrays the sensor model reads every step.
        self.person_ids = np.array(ids, dtype=np.int64)
        self.person_heights_m = np.array([p.height_m for p in people])
        self.person_widths_m = np.array([p.width_m for p in people])
        for start_s, end_s, pid in hidden_s:
            if not (end_s > start_s) or pid not in ids:
                raise InvalidValueError(
                    f"hidden_s: expected (start_s < end_s, known person id), got {(start_s, end_s, pid)!r}")
        self.hidden_s = tuple((float(a), float(b), int(c)) for a, b, c in hidden_s)

    # --- dynamics --------------------------------------------------------------------------------------
    @property
    def trees(self) -> tuple[Tree, ...]:
        return self.tree_set.trees

    @property
    def subject(self) -> SimPerson:
        return self.people[self.subject_index]

    def step(self, dt_s: float) -> None:
        """Advance people, wind and the vehicle (flying the autopilot's setpoint at the current time) by ``dt_s``."""
        if not (dt_s > 0.0 and math.isfinite(dt_s)):
            raise InvalidValueError(f"dt_s: must be positive and finite, got {dt_s!r}")
        context = MotionContext(self.t_s, self.vehicle._pos.copy())
        for person in self.people:
            person.step(dt_s, self.rng, context)
        self.wind_ned_mps = self.wind.step(dt_s, self.rng)
        if self.autopilot.armed:
            vel_sp, yaw_rate_sp = self.autopilot.setpoint(self.t_s)
            self.vehicle.step(dt_s, vel_sp, yaw_rate_sp, self.wind_ned_mps)
        self.t_s += dt_s

    def command(self, velocity_cmd: VelocityCommand) -> None:
        """Deliver a velocity setpoint to the autopilot now (at ``t_s``)."""
        self.autopilot.receive(velocity_cmd.velocity_ned_mps, velocity_cmd.yaw_rate_radps, self.t_s)

    # --- observations ----------------------------------------------------------------------------------
    def vehicle_state(self) -> VehicleState:
        v = self.vehicle
        return VehicleState(
            position_ned_m=v._pos, velocity_ned_mps=v._vel, attitude_rpy_rad=v.attitude_rpy_rad,
            armed=self.autopilot.armed, mode=self.autopilot.mode, link_ok=True, stamp_s=self.t_s,
        )

    def camera_model(self) -> CameraModel:
        """The camera now: at the vehicle position, yaw = vehicle yaw, the fixed gimbal pitch.

        Equal to ``CameraModel.from_gimbal(intrinsics, position, yaw, pitch)`` (a test checks it), built by
        :func:`fast_camera_model`, which validates the inputs without re-checking the rotation numerically.
        """
        return fast_camera_model(self.intrinsics, self.vehicle._pos, self.vehicle.yaw_rad, self.gimbal_pitch_rad)

    def people_feet_ned_m(self) -> np.ndarray:
        """Foot points of every person (P, 3), NED metres, in ``people`` order."""
        if not self.people:
            return np.zeros((0, 3))
        return np.stack([p._pos for p in self.people])

    def hidden_mask(self) -> np.ndarray:
        """Bool (P,): people the sensor cannot see at ``t_s`` because of a blackout window."""
        mask = np.zeros(len(self.people), dtype=bool)
        for start_s, end_s, pid in self.hidden_s:
            if start_s <= self.t_s < end_s:
                mask |= self.person_ids == pid
        return mask

    def truth(self) -> dict[str, Any]:
        """Ground truth in the format of the ``/sim/truth`` flight-record topic."""
        return {
            "vehicle_position_ned_m": self.vehicle._pos.tolist(),
            "vehicle_velocity_ned_mps": self.vehicle._vel.tolist(),
            "people": [
                {"id": p.id, "position_ned_m": p._pos.tolist(), "is_subject": p.is_subject} for p in self.people
            ],
            "stamp_s": self.t_s,
        }

    def min_separation_m(self) -> tuple[float, np.ndarray]:
        """Ground-truth 3D distance from the vehicle to every person's body, modelled as the vertical segment
        from the foot point up ``PERSON_HEIGHT_M`` (2 m). Returns (minimum, per-person (P,) in ``people`` order);
        the minimum is ``inf`` without people."""
        feet = self.people_feet_ned_m()
        if feet.shape[0] == 0:
            return math.inf, np.zeros(0)
        v = self.vehicle._pos
        horiz = np.hypot(feet[:, 0] - v[0], feet[:, 1] - v[1])
        # Body spans z in [foot_z - 2, foot_z] (NED, up is negative z).
        dz = np.clip(v[2], feet[:, 2] - PERSON_HEIGHT_M, feet[:, 2]) - v[2]
        per_person = np.hypot(horiz, dz)
        return float(per_person.min()), per_person

    def fence_margin_m(self) -> float:
        """Ground-truth fence margin (m): the smallest of the horizontal distance inside the polygon, the height
        above the altitude floor, the distance below the ceiling and (when tethered) the tether slack.
        Negative = outside."""
        pos = self.vehicle._pos
        alt = -float(pos[2])
        margins = [
            polygon_signed_distance_m(pos[:2], self._fence_polygon),
            alt - self.fence.altitude_floor_m,
            self.fence.altitude_ceiling_m - alt,
        ]
        if self.fence.tethered and self.fence.tether_length_m is not None:
            anchor = self.fence.tether_anchor_ne_m
            margins.append(self.fence.tether_length_m - math.hypot(pos[0] - anchor[0], pos[1] - anchor[1]))
        return min(margins)

    def stack_config(self, config: StackConfig) -> StackConfig:
        """``config`` with this world's fence when the scenario brings its own, else ``config`` unchanged."""
        if not self.own_fence:
            return config
        return config.model_copy(update={"fence": self.fence})
