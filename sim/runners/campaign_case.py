"""One campaign case (issue 13): run it, judge it on ground truth with a signed margin per invariant, hash
its trace. :mod:`sim.runners.campaign` runs many of them.

Margins (negative = the invariant broke; the search has a gradient and the report says how close):

- ``standoff_m``: min over time and people of the 3D separation minus the standoff;
- ``fence_m``: min fence margin of the true position;
- ``disengaged_commands``: minus the commands sent while disengaged (0 is the best);
- ``mission``: 1 when the run did its job (engaged, motion sent, subject in view), -1 otherwise.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from drone_perception.config.envelope import mission_warnings
from drone_perception.interfaces import Recorder
from sim.campaign.family import Case
from sim.campaign.faults import (
    DirectInjection,
    MavlinkInjection,
    link_faults_at_onset,
    schedule_companion_faults,
    schedule_vehicle_faults,
)
from sim.campaign.perturb import bystander_mode, perturbed
from sim.mavlink.faults import LinkFaults
from sim.runners.direct import periods_for, run_scenario
from sim.runners.lockstep import MavlinkScenarioLoop
from sim.runners.truth import ScenarioResult
from sim.sensing.sensors import CALIBRATED_INPUT_PX, DEFAULT_DETECTOR_INPUT_WIDTH_PX, DetectionModelParams
from sim.world.scenarios import get_scenario

SCHEMA = "drone-perception/campaign-case/1"
INVARIANTS = ("standoff_m", "fence_m", "disengaged_commands", "mission")


def run_case(case: Case, code_version: str) -> dict[str, Any]:
    """One case: its manifest line (id, parameters, margins, trace hash, verdict)."""
    config, fault = case.config(), case.fault()
    r = simulate(case)
    margins = {
        "standoff_m": round(float(r.min_separation_any_m - r.standoff_m), 4),
        "fence_m": round(float(r.min_fence_margin_m), 4),
        "disengaged_commands": -int(r.sent_while_disengaged),
        "mission": 1 if not r.mission_failures else -1,
    }
    return {"schema": SCHEMA, "id": case.case_id(code_version), "code": code_version, **case.key(),
            "loop": case.loop, "fault": fault.kind, "bystander_mode": bystander_mode(case),
            "margins": margins, "trace_hash": trace_hash(r.trajectory),
            "verdict": "pass" if all(v >= 0 for v in margins.values()) else "fail",
            "failures": r.failures, "subject_in_view_share": round(float(r.subject_in_view_share), 4),
            "engaged_share": round(float(r.engaged_share), 4), "motion_commands": int(r.motion_commands),
            # what the envelope check foresaw at load: a mission failure it warned of is no surprise
            "mission_warnings": mission_warnings(config.follow, config.camera)}


def detection_params(case: Case, width_px: int) -> DetectionModelParams:
    """The calibrated detector profile at the camera's width, its miss height scale times the case's."""
    scale = CALIBRATED_INPUT_PX["miss_height_scale"] * width_px / DEFAULT_DETECTOR_INPUT_WIDTH_PX
    return DetectionModelParams.calibrated(width_px, miss_height_scale_px=scale * case.param("detector_miss_scale"))


def simulate(case: Case, recorder: Recorder | None = None) -> ScenarioResult:
    """Fly the case on its loop: the scenario with the case's bystanders and wind, config and fault."""
    config = case.config()
    params = detection_params(case, config.camera.width_px)
    spec = perturbed(case, get_scenario(case.scenario))
    fault = case.fault()
    if case.loop == "direct":
        return run_scenario(case.scenario, config, seed=case.seed, detection_params=params, keep_trajectory=True,
                            spec=spec, injection=DirectInjection(fault, case.seed), recorder=recorder)
    with MavlinkScenarioLoop(case.scenario, config, seed=case.seed, detection_params=params, spec=spec,
                             injection=MavlinkInjection(fault, case.seed), recorder=recorder) as loop:
        loop.launch()
        schedule_vehicle_faults(loop.vehicle, fault, case.seed, loop.handover_s)
        schedule_companion_faults(loop.companion_clock, fault, loop.handover_s)
        impairment = link_faults_at_onset(fault)
        for _ in range(periods_for(spec.duration_s, loop.dt_s)):
            if impairment is not None and loop.world.t_s >= fault.start_s:
                loop.vehicle.faults = LinkFaults(impairment, np.random.default_rng([case.seed, 31]))
                impairment = None
            loop.step()
        return loop.result()


def trace_hash(trajectory: dict[str, Any]) -> str:
    """16 hex of sha256 over the vehicle's and people's true positions (mm) at every period."""
    h = hashlib.sha256()
    h.update(np.round(np.asarray(trajectory.get("vehicle", []), dtype=np.float64), 3).tobytes())
    for people in trajectory.get("people", []):  # per period: (id, position, is_subject) of each person
        for pid, pos, _ in people:
            h.update(int(pid).to_bytes(4, "little", signed=True))
            h.update(np.round(np.asarray(pos, dtype=np.float64), 3).tobytes())
    return h.hexdigest()[:16]


__all__ = ["INVARIANTS", "SCHEMA", "detection_params", "run_case", "simulate", "trace_hash"]
