"""Named scenarios: each builds a :class:`~sim.world.world.World` from a seeded ``rng`` and the stack configuration.

Every scenario starts with the vehicle armed, in GUIDED, hovering ``follow.distance_m`` (15 m by default)
horizontally from the subject and ``follow.height_m`` (8 m) above the ground, looking at the subject, which is in
view. (That is what the scripted crew did before handing over; the stack never arms.) The start is pushed
further out if it would otherwise sit within ``safety.min_standoff_m + 3 m`` of the subject's body.
Layouts are jittered by the rng (a few metres, a few percent of speed); the world keeps its own generator
derived from ``rng``, so the dynamics do not depend on how many draws the detection model makes.

The geofence is ``config.fence`` except in ``leave_fence``, which brings a 105 m x 120 m fence whose north
edge the subject walks across; :meth:`World.stack_config` hands that fence to the stack.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from drone_perception.config import FenceConfig, StackConfig
from drone_perception.config.limits import PERSON_HEIGHT_M
from drone_perception.errors import UnknownScenarioError
from drone_perception.types import CameraIntrinsics
from sim.world.autopilot import GuidedAutopilot
from sim.world.multicopter import Multicopter, MulticopterParams
from sim.world.occluders import Tree
from sim.world.people import (
    JOG_SPEED_MPS,
    SPRINT_SPEED_MPS,
    WALK_SPEED_MPS,
    Phased,
    SimPerson,
    Standing,
    StopAndGo,
    TowardPoint,
    WaypointWalker,
)
from sim.world.wind import Wind
from sim.world.world import World

DEFAULT_SCENARIO = "walk"


@dataclass(frozen=True)
class ScenarioSpec:
    """``build(rng, config)`` makes a fresh world; ``duration_s`` is how long the runner flies it."""

    name: str
    description: str
    duration_s: float
    build: Callable[[np.random.Generator, StackConfig], World]


def _height(rng: np.random.Generator) -> float:
    return float(rng.uniform(1.6, 1.9))


def _jitter(rng: np.random.Generator, points: Sequence[tuple[float, float]],
            sigma_m: float) -> list[tuple[float, float]]:
    noise = rng.normal(0.0, sigma_m, (len(points), 2))
    return [(float(p[0] + n[0]), float(p[1] + n[1])) for p, n in zip(points, noise)]


def _make_world(
    rng: np.random.Generator,
    config: StackConfig,
    people: Sequence[SimPerson],
    *,
    vehicle_bearing_rad: float,
    trees: Sequence[Tree] = (),
    wind: Wind | None = None,
    fence: FenceConfig | None = None,
    hidden_s: Sequence[tuple[float, float, int]] = (),
) -> World:
    """Place the vehicle at ``vehicle_bearing_rad`` (0 = north of the subject) from the subject, looking at it."""
    subject = next(p for p in people if p.is_subject)
    height = config.follow.height_m
    distance = config.follow.distance_m
    needed = config.safety.min_standoff_m + 3.0
    gap_z = max(height - PERSON_HEIGHT_M, 0.0)
    if math.hypot(distance, gap_z) < needed:
        distance = math.sqrt(max(needed**2 - gap_z**2, 0.0))
    s = subject.position_ned_m
    pos = np.array([s[0] + distance * math.cos(vehicle_bearing_rad),
                    s[1] + distance * math.sin(vehicle_bearing_rad), -height])
    yaw = vehicle_bearing_rad + math.pi
    cam = config.camera
    world_rng = np.random.default_rng(int(rng.integers(0, 2**63 - 1)))
    return World(
        people=people,
        vehicle=Multicopter(MulticopterParams(), pos, yaw),
        autopilot=GuidedAutopilot(guided_timeout_s=config.link.guided_timeout_s),
        wind=wind if wind is not None else Wind(),
        intrinsics=CameraIntrinsics.from_hfov(cam.hfov_rad, (cam.width_px, cam.height_px)),
        gimbal_pitch_rad=cam.gimbal_pitch_rad,
        rng=world_rng,
        fence=fence if fence is not None else config.fence,
        own_fence=fence is not None,
        trees=trees,
        hidden_s=hidden_s,
    )


def _walker_subject(rng: np.random.Generator, route: Sequence[tuple[float, float]], speed_mps: float,
                    accel_mps2: float = 2.0) -> SimPerson:
    speed = speed_mps * float(rng.uniform(0.9, 1.1))
    motion = WaypointWalker(_jitter(rng, route, 2.0), speed, speed_sigma_mps=0.1 * speed, accel_mps2=accel_mps2)
    return SimPerson(0, True, motion, _height(rng), position_ne_m=(0.0, 0.0))


def build_walk(rng: np.random.Generator, config: StackConfig) -> World:
    subject = _walker_subject(rng, [(40.0, 5.0), (80.0, -5.0), (120.0, 10.0)], WALK_SPEED_MPS)
    return _make_world(rng, config, [subject], vehicle_bearing_rad=math.pi)


def build_jog_turns(rng: np.random.Generator, config: StackConfig) -> World:
    route = [(45.0, 0.0), (45.0, 35.0), (5.0, 35.0), (5.0, -25.0), (50.0, -25.0)]
    subject = _walker_subject(rng, route, JOG_SPEED_MPS, accel_mps2=3.0)
    return _make_world(rng, config, [subject], vehicle_bearing_rad=math.pi)


def build_stop_and_go(rng: np.random.Generator, config: StackConfig) -> World:
    route = _jitter(rng, [(40.0, 8.0), (90.0, -5.0), (130.0, 0.0)], 2.0)
    motion = StopAndGo(route, WALK_SPEED_MPS * float(rng.uniform(0.9, 1.1)), walk_s=(4.0, 8.0), stop_s=(2.0, 5.0))
    subject = SimPerson(0, True, motion, _height(rng), position_ne_m=(0.0, 0.0))
    return _make_world(rng, config, [subject], vehicle_bearing_rad=math.pi)


def build_walk_toward(rng: np.random.Generator, config: StackConfig) -> World:
    # The vehicle starts north of the subject, who walks at its ground projection for 25 s, then stands.
    motion = Phased([
        (3.0, Standing()),
        (28.0, TowardPoint(WALK_SPEED_MPS * float(rng.uniform(0.9, 1.1)), None, accel_mps2=1.5)),
        (math.inf, Standing()),
    ])
    subject = SimPerson(0, True, motion, _height(rng), position_ne_m=(0.0, 0.0))
    return _make_world(rng, config, [subject], vehicle_bearing_rad=float(rng.uniform(-0.2, 0.2)))


def build_sprint_toward(rng: np.random.Generator, config: StackConfig) -> World:
    # Walks north for 6 s with the vehicle behind (south), then turns and sprints at the vehicle's ground
    # projection at 8 m/s for 7 s: faster than the 5 m/s the vehicle may fly, so it must climb or back off.
    sprint_end_s = 13.0 + float(rng.uniform(-0.5, 0.5))
    motion = Phased([
        (6.0, WaypointWalker([(60.0, 0.0)], WALK_SPEED_MPS * float(rng.uniform(0.9, 1.1)))),
        (sprint_end_s, TowardPoint(SPRINT_SPEED_MPS, None, accel_mps2=4.0, stop_distance_m=2.0)),
        (math.inf, Standing(accel_mps2=4.0)),
    ])
    subject = SimPerson(0, True, motion, _height(rng), position_ne_m=(0.0, 0.0))
    return _make_world(rng, config, [subject], vehicle_bearing_rad=math.pi)


def build_bystander_crossing(rng: np.random.Generator, config: StackConfig) -> World:
    # The subject walks north. At t_cross a bystander walking west crosses the subject's path 40 % of the
    # follow distance behind the subject, i.e. between subject and drone and near the drone.
    speed = WALK_SPEED_MPS * float(rng.uniform(0.95, 1.05))
    subject = SimPerson(0, True, WaypointWalker([(150.0, 0.0)], speed), _height(rng), position_ne_m=(0.0, 0.0))
    t_cross = 20.0 + float(rng.uniform(-2.0, 2.0))
    x_cross = speed * t_cross - 0.4 * config.follow.distance_m
    half_m, by_speed = 20.0, 1.5
    crosser = SimPerson(1, False, Phased([
        (t_cross - half_m / by_speed, Standing()),
        (math.inf, WaypointWalker([(x_cross, -half_m - 10.0)], by_speed)),
    ]), _height(rng), position_ne_m=(x_cross, half_m))
    onlooker = SimPerson(2, False, Standing(), _height(rng),
                         position_ne_m=(70.0 + float(rng.uniform(-5, 5)), -30.0 + float(rng.uniform(-5, 5))))
    return _make_world(rng, config, [subject, crosser, onlooker], vehicle_bearing_rad=math.pi)


def build_occlusion_trees(rng: np.random.Generator, config: StackConfig) -> World:
    # A row of trees along the north axis; the subject walks beside it, crosses through gaps twice and is
    # hidden from the following drone for a few seconds each time.
    trees = [Tree((x + float(rng.uniform(-1, 1)), float(rng.uniform(-0.3, 0.3))), float(rng.uniform(1.0, 1.5)),
                  float(rng.uniform(5.0, 7.0))) for x in np.arange(25.0, 110.0, 12.0)]
    route = [(40.0, -3.0), (46.0, 3.0), (70.0, 3.0), (79.0, -3.0), (115.0, -3.0)]
    motion = WaypointWalker(route, WALK_SPEED_MPS * float(rng.uniform(0.9, 1.1)))
    subject = SimPerson(0, True, motion, _height(rng), position_ne_m=(0.0, -3.0))
    bystander = SimPerson(1, False, Standing(), _height(rng), position_ne_m=(55.0, 8.0 + float(rng.uniform(0, 3))))
    return _make_world(rng, config, [subject, bystander], vehicle_bearing_rad=math.pi, trees=trees)


def leave_fence_fence(config: StackConfig) -> FenceConfig:
    """The ``leave_fence`` world's fence: north edge 45 m north of the subject's start."""
    return FenceConfig.model_validate({
        "polygon_ne_m": ((-60.0, -60.0), (-60.0, 60.0), (45.0, 60.0), (45.0, -60.0)),
        "altitude_floor_m": config.fence.altitude_floor_m,
        "altitude_ceiling_m": config.fence.altitude_ceiling_m,
    })


def build_leave_fence(rng: np.random.Generator, config: StackConfig) -> World:
    subject = SimPerson(0, True, WaypointWalker([(150.0, float(rng.uniform(-5, 5)))],
                                                WALK_SPEED_MPS * float(rng.uniform(0.95, 1.05))),
                        _height(rng), position_ne_m=(0.0, 0.0))
    return _make_world(rng, config, [subject], vehicle_bearing_rad=math.pi, fence=leave_fence_fence(config))


#: When the subject_lost blackout starts and how long it lasts (s).
SUBJECT_LOST_START_S = 15.0
SUBJECT_LOST_DURATION_S = 10.0


def build_subject_lost(rng: np.random.Generator, config: StackConfig) -> World:
    # The subject walks 12 m, then stands (under a canopy) and the sensor loses it for 10 s (a blackout window),
    # then it walks on and is visible again.
    speed = WALK_SPEED_MPS * float(rng.uniform(0.95, 1.05))
    stop_n = 12.0
    dwell = SUBJECT_LOST_START_S + SUBJECT_LOST_DURATION_S + 2.0 - stop_n / speed
    motion = WaypointWalker([(stop_n, 0.0), (120.0, 0.0)], speed, dwell_s=(dwell, 0.0))
    subject = SimPerson(0, True, motion, _height(rng), position_ne_m=(0.0, 0.0))
    hidden = [(SUBJECT_LOST_START_S, SUBJECT_LOST_START_S + SUBJECT_LOST_DURATION_S, 0)]
    return _make_world(rng, config, [subject], vehicle_bearing_rad=math.pi, hidden_s=hidden)


def build_strong_wind(rng: np.random.Generator, config: StackConfig) -> World:
    subject = _walker_subject(rng, [(40.0, 5.0), (80.0, -5.0), (120.0, 10.0)], WALK_SPEED_MPS)
    towards = math.pi / 2 + float(rng.uniform(-0.3, 0.3))  # blowing roughly east (from the west)
    wind = Wind((8.0 * math.cos(towards), 8.0 * math.sin(towards), 0.0), (2.0, 2.0, 0.5), 4.0, rng=rng)
    return _make_world(rng, config, [subject], vehicle_bearing_rad=math.pi, wind=wind)


SCENARIOS: dict[str, ScenarioSpec] = {
    s.name: s
    for s in (
        ScenarioSpec("walk", "subject walks a gently curving path at ~1.4 m/s", 60.0, build_walk),
        ScenarioSpec("jog_turns", "subject jogs at ~3 m/s with four sharp turns", 60.0, build_jog_turns),
        ScenarioSpec("stop_and_go", "subject walks 4-8 s, stops 2-5 s, repeatedly", 60.0, build_stop_and_go),
        ScenarioSpec("walk_toward", "subject walks at the drone's ground projection for 25 s", 45.0,
                     build_walk_toward),
        ScenarioSpec("sprint_toward", "subject turns and sprints at the drone at 8 m/s (faster than the drone "
                     "may fly) for 7 s", 40.0, build_sprint_toward),
        ScenarioSpec("bystander_crossing", "a bystander crosses between drone and subject, near the drone",
                     50.0, build_bystander_crossing),
        ScenarioSpec("occlusion_trees", "subject walks beside a row of trees, crossing behind it twice", 75.0,
                     build_occlusion_trees),
        ScenarioSpec("leave_fence", "subject walks out of a 105 m x 120 m fence; the drone must hold at the fence",
                     70.0, build_leave_fence),
        ScenarioSpec("subject_lost", "subject stands still and is unseen by the sensor for 10 s (t=15..25 s), "
                     "then walks on", 45.0, build_subject_lost),
        ScenarioSpec("strong_wind", "walk in an 8 m/s mean wind with 2 m/s gusts", 60.0, build_strong_wind),
    )
}


# -- regressions of the adversarial search (#12): not part of ``all``, flown by tests/sim/runners/test_holes.py --

def _bystander_running_at_the_vehicle(rng: np.random.Generator, start_ne_m: tuple[float, float], start_s: float,
                                      person_id: int = 1) -> SimPerson:
    """Stands at ``start_ne_m`` until ``start_s``, then sprints at the vehicle's ground projection at 8 m/s and
    keeps chasing it (it passes under the vehicle, out of the image, and turns after it)."""
    return SimPerson(person_id, False, Phased([
        (start_s, Standing()),
        (math.inf, TowardPoint(SPRINT_SPEED_MPS, None, accel_mps2=5.0, stop_distance_m=0.3)),
    ]), _height(rng), position_ne_m=start_ne_m)


def build_chaser_from_behind(rng: np.random.Generator, config: StackConfig) -> World:
    # #12 item 1: a bystander in view ahead runs at the vehicle, under it and chases it from behind (7.9 m of
    # a 10 m standoff at the old 10 m follow height).
    subject = _walker_subject(rng, [(40.0, 5.0), (80.0, -5.0), (120.0, 10.0)], WALK_SPEED_MPS)
    chaser = _bystander_running_at_the_vehicle(rng, (12.0 + float(rng.uniform(-2, 2)), 8.0), 6.0)
    return _make_world(rng, config, [subject, chaser], vehicle_bearing_rad=math.pi)


def build_sprinter_ahead(rng: np.random.Generator, config: StackConfig) -> World:
    # #12 item 2: a bystander 20 m ahead of the vehicle, in view, sprints at it at 8 m/s (8.8 m).
    subject = _walker_subject(rng, [(40.0, 5.0), (80.0, -5.0), (120.0, 10.0)], WALK_SPEED_MPS)
    start_n = 20.0 - config.follow.distance_m  # the vehicle starts distance_m south of the subject
    sprinter = _bystander_running_at_the_vehicle(rng, (start_n, 3.0 + float(rng.uniform(-1, 1))), 4.0)
    return _make_world(rng, config, [subject, sprinter], vehicle_bearing_rad=math.pi)


def build_bystander_off_path(rng: np.random.Generator, config: StackConfig) -> World:
    # #12 item 3: the vehicle flies past a bystander standing 2 m off its path; their box is cut by the image
    # bottom as it passes (9.93 m with the detector's box jitter; a perfect detector gave 12.4 m).
    speed = WALK_SPEED_MPS * float(rng.uniform(0.95, 1.05))
    subject = SimPerson(0, True, WaypointWalker([(150.0, 0.0)], speed), _height(rng), position_ne_m=(0.0, 0.0))
    bystander = SimPerson(1, False, Standing(), _height(rng), position_ne_m=(25.0 + float(rng.uniform(-3, 3)), 2.0))
    return _make_world(rng, config, [subject, bystander], vehicle_bearing_rad=math.pi)


def build_unseen_chaser(rng: np.random.Generator, config: StackConfig) -> World:
    # #12 item 8: a person the detector never reports (from behind, out of a canopy) runs at the vehicle.
    subject = _walker_subject(rng, [(40.0, 5.0), (80.0, -5.0), (120.0, 10.0)], WALK_SPEED_MPS)
    start_n = -config.follow.distance_m - 30.0
    chaser = _bystander_running_at_the_vehicle(rng, (start_n, float(rng.uniform(-3, 3))), 3.0)
    return _make_world(rng, config, [subject, chaser], vehicle_bearing_rad=math.pi, hidden_s=[(0.0, 1e9, 1)])


def build_gusty_fence(rng: np.random.Generator, config: StackConfig) -> World:
    # #12 item 6: the leave_fence walk in an 8 m/s mean wind with 6 m/s gusts blowing the vehicle out
    # (north, across the edge it holds at): commanded is not achieved.
    subject = SimPerson(0, True, WaypointWalker([(150.0, float(rng.uniform(-5, 5)))],
                                                WALK_SPEED_MPS * float(rng.uniform(0.95, 1.05))),
                        _height(rng), position_ne_m=(0.0, 0.0))
    wind = Wind((8.0, 0.0, 0.0), (3.0, 3.0, 0.5), 3.0, rng=rng)  # gusts of +-6 m/s (2 sigma): within authority
    return _make_world(rng, config, [subject], vehicle_bearing_rad=math.pi, fence=leave_fence_fence(config),
                       wind=wind)


REGRESSION_SCENARIOS: dict[str, ScenarioSpec] = {
    s.name: s
    for s in (
        ScenarioSpec("chaser_from_behind", "a bystander runs at the vehicle at 8 m/s, under it, and chases it",
                     40.0, build_chaser_from_behind),
        ScenarioSpec("sprinter_ahead", "a bystander 20 m ahead sprints at the vehicle at 8 m/s", 30.0,
                     build_sprinter_ahead),
        ScenarioSpec("bystander_off_path", "the vehicle passes a bystander standing 2 m off its path", 50.0,
                     build_bystander_off_path),
        ScenarioSpec("unseen_chaser", "a person the detector never sees runs at the vehicle from behind", 40.0,
                     build_unseen_chaser),
        ScenarioSpec("gusty_fence", "leave_fence in an 8 m/s wind with +-6 m/s gusts blowing out", 70.0,
                     build_gusty_fence),
    )
}


def get_scenario(name: str) -> ScenarioSpec:
    """The scenario called ``name`` (built-in or a regression); raises ``UnknownScenarioError`` listing the
    known names."""
    spec = SCENARIOS.get(name) or REGRESSION_SCENARIOS.get(name)
    if spec is None:
        raise UnknownScenarioError(
            f"unknown scenario {name!r}; known scenarios: {', '.join(sorted(SCENARIOS))} (regressions: "
            f"{', '.join(sorted(REGRESSION_SCENARIOS))})")
    return spec
