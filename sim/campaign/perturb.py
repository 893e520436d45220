"""A case's world: the built-in scenario's, with the family's bystanders and wind added (issue 13 item 1).

The scenario builds its world as always (its people, trees, fence, wind and hidden windows, from the case seed);
then the case's ``bystanders`` (0-4) join its people, the first ``hidden_bystanders`` of them start behind a tree
of their own (seen from the vehicle's start), and its wind gets the case's mean and gusts on top. The
world is rebuilt through :class:`~sim.world.world.World`'s own constructor, so every check it makes still holds.

Bystanders start round the subject's start point: the first at ``bystander_range_m`` on ``bystander_bearing_rad``,
the others evenly spread round the circle at ranges 15 % apart. They stand until ``bystander_start_s``; then, by
``bystander_mode`` (thirds of [0, 1)):

- stand: keep standing (a crowd at the roadside);
- cross: walk straight across the subject's start point at ``bystander_speed_mps``;
- chase: run at the vehicle's ground point at ``bystander_speed_mps`` (the adversarial person; up to 7 m/s, a
  sprint, faster than any subject the stack follows).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from drone_perception.config import StackConfig
from sim.campaign.family import Case
from sim.world.occluders import Tree, TreeSet, occlusion_fractions
from sim.world.people import ConstantVelocity, MotionModel, Phased, SimPerson, Standing, TowardPoint
from sim.world.scenarios import ScenarioSpec
from sim.world.wind import Wind
from sim.world.world import World

BYSTANDER_MODES = ("stand", "cross", "chase")


def bystander_mode(case: Case) -> str:
    return BYSTANDER_MODES[min(int(case.param("bystander_mode") * 3), 2)]


def _bystanders(case: Case, world: World, rng: np.random.Generator) -> list[SimPerson]:
    n = int(case.param("bystanders"))
    origin = world.subject.position_ned_m[:2]
    first_id = max(p.id for p in world.people) + 1
    mode, speed = bystander_mode(case), case.param("bystander_speed_mps")
    out = []
    for i in range(n):
        bearing = case.param("bystander_bearing_rad") + 2.0 * math.pi * i / n
        r = case.param("bystander_range_m") * (1.0 + 0.15 * i)
        start = origin + r * np.array([math.cos(bearing), math.sin(bearing)])
        then: MotionModel
        if mode == "stand":
            then = Standing()
        elif mode == "cross":
            heading = bearing + math.pi  # through the subject's start point and on
            then = ConstantVelocity((speed * math.cos(heading), speed * math.sin(heading)))
        else:
            then = TowardPoint(speed, None)
        motion = Phased([(max(case.param("bystander_start_s"), 1e-3), Standing()), (math.inf, then)])
        out.append(SimPerson(first_id + i, False, motion, float(rng.uniform(1.6, 1.9)),
                             position_ne_m=(float(start[0]), float(start[1]))))
    return out


def _trees(case: Case, world: World, bystanders: list[SimPerson]) -> list[Tree]:
    """A tree in front of each of the first ``hidden_bystanders`` bystanders, as seen from the vehicle's start: on
    the line from the vehicle's ground point to the bystander, its near edge ``tree_gap_m`` from them. A tree that
    would stand over the vehicle's start, the subject's start point or the bystander, or hide any of the subject
    from the vehicle's start, is not planted: the trees hide bystanders, and the operator can still lock the
    subject (the scenarios' own trees hide the subject where they mean to)."""
    n = min(int(case.param("hidden_bystanders")), len(bystanders))
    radius, height, gap = case.param("tree_radius_m"), case.param("tree_height_m"), case.param("tree_gap_m")
    camera = world.vehicle.position_ned_m
    view = camera[:2]
    subj = world.subject
    subject = subj.position_ned_m[:2]
    out = []
    for person in bystanders[:n]:
        foot = person.position_ned_m[:2]
        line = foot - view
        dist = float(np.hypot(*line))
        if dist <= 1e-6:
            continue
        center = foot - line / dist * (gap + radius)
        if (float(np.hypot(*(center - view))) <= radius + 1.0 or float(np.hypot(*(center - subject))) <= radius + 0.5
                or float(np.hypot(*(center - foot))) <= radius + 0.25):
            continue
        tree = Tree((float(center[0]), float(center[1])), radius, height)
        if occlusion_fractions(camera, subj.position_ned_m, subj.height_m, subj.width_m, TreeSet([tree]))[0] > 0.0:
            continue
        out.append(tree)
    return out


def _wind(case: Case, world: World) -> Wind:
    w, d = case.param("wind_mps"), case.param("wind_dir_rad")
    base = world.wind
    if w == 0.0 and case.param("gust_mps") == 0.0:
        return base
    mean = base.mean_ned_mps + np.array([w * math.cos(d), w * math.sin(d), 0.0])
    sigma = np.maximum(base.gust_sigma_mps, case.param("gust_mps") * np.array([1.0, 1.0, 0.3]))
    return Wind(mean, sigma, base.gust_time_constant_s)


def perturbed(case: Case, spec: ScenarioSpec) -> ScenarioSpec:
    """``spec`` with the case's bystanders and wind added to every world it builds."""

    def build(rng: np.random.Generator, config: StackConfig) -> World:
        world = spec.build(rng, config)
        if int(case.param("bystanders")) == 0 and case.param("wind_mps") == 0.0 and case.param("gust_mps") == 0.0:
            return world
        extra_rng = np.random.default_rng([case.seed, 17])  # the scenario's own draws stay as they were
        bystanders = _bystanders(case, world, extra_rng)
        return World(people=(*world.people, *bystanders), vehicle=world.vehicle,
                     autopilot=world.autopilot, wind=_wind(case, world), intrinsics=world.intrinsics,
                     gimbal_pitch_rad=world.gimbal_pitch_rad, rng=world.rng, fence=world.fence,
                     trees=(*world.trees, *_trees(case, world, bystanders)), own_fence=world.own_fence,
                     hidden_s=world.hidden_s, t_s=world.t_s)

    return replace(spec, build=build)


__all__ = ["BYSTANDER_MODES", "bystander_mode", "perturbed"]
