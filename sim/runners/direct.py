"""Closed loop on the in-process autopilot: world -> simulated detections -> the stack's Pipeline -> the world's
GUIDED autopilot, through :class:`drone_perception.loop.ControlLoop`.

:func:`run_scenario` runs one named scenario at the control rate and returns a
:class:`~sim.runners.truth.ScenarioResult` measured on ground truth (not on the stack's own estimates).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from drone_perception.config import StackConfig
from drone_perception.interfaces import NullRecorder, Recorder
from drone_perception.loop import ControlLoop, Health, PeriodClock, VehicleLink, always_alive
from drone_perception.pipeline import Pipeline
from drone_perception.record.header import record_run_header
from drone_perception.selection import PipelineTrackingHandler
from drone_perception.track.bytetrack import ByteTracker
from sim.runners.crew import ConsoleHands, OperatorScript, ScriptedCrew
from sim.runners.parts import Injection, SimPerception, SimulatedDetections, WorldClock, WorldVehicleLink
from sim.runners.truth import ScenarioResult, TruthMeter, TruthObserver
from sim.sensing.sensors import DetectionModelParams
from sim.world.scenarios import ScenarioSpec, get_scenario


def periods_for(duration_s: float, dt_s: float) -> int:
    """Control periods in ``duration_s`` (at least one)."""
    return max(1, round(duration_s / dt_s))


def run_scenario(name: str, config: StackConfig | None = None, *, seed: int = 0,
                 recorder: Recorder | None = None, operator_script: OperatorScript | None = None,
                 detection_params: DetectionModelParams | None = None, duration_s: float | None = None,
                 keep_trajectory: bool = True, spec: ScenarioSpec | None = None,
                 injection: Injection | None = None) -> ScenarioResult:
    """Run scenario ``name`` in closed loop. Raises ``UnknownScenarioError`` for an unknown name. ``spec``: run
    this (e.g. a campaign's perturbed variant of ``name``) instead of the built-in; ``injection``: a fault."""
    spec = spec if spec is not None else get_scenario(name)
    config = config or StackConfig()
    rng = np.random.default_rng(seed)
    world = spec.build(rng, config)
    config = world.stack_config(config)  # the scenario may bring its own fence
    rec: Recorder = recorder if recorder is not None else NullRecorder()
    pipeline = Pipeline(config, tracker=ByteTracker(config.tracker), recorder=rec)
    dt_s = 1.0 / config.control_rate_hz
    record_run_header(rec, config, stamp_s=0.0, scenario=name, link="sim", seed=seed)
    clock: PeriodClock = WorldClock(world, dt_s)
    vehicle: VehicleLink = WorldVehicleLink(world)
    perception: SimPerception = SimulatedDetections(world, rng, detection_params)
    health: Callable[[float], Health] = always_alive
    if injection is not None:
        clock, vehicle, perception = injection.parts(world, clock, vehicle, perception)
        health = lambda now_s: injection.health(world)  # noqa: E731
    crew = ScriptedCrew(world, ConsoleHands(PipelineTrackingHandler(pipeline, world.intrinsics)), operator_script)
    meter = TruthMeter(world, config.safety.min_standoff_m, follow=config.follow, keep_trajectory=keep_trajectory)
    loop = ControlLoop(pipeline, clock=clock, vehicle=vehicle, perception=perception, operator=crew,
                       observers=[TruthObserver(meter, rec, perception.subject_in_view)], health=health)
    loop.run(periods_for(duration_s if duration_s is not None else spec.duration_s, dt_s))
    return meter.result(name, seed, dt_s, redesignations=crew.redesignations)


__all__ = ["periods_for", "run_scenario"]
