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

from sim.campaign.family import Case
from sim.runners.direct import run_scenario
from sim.sensing.sensors import CALIBRATED_INPUT_PX, DEFAULT_DETECTOR_INPUT_WIDTH_PX, DetectionModelParams

SCHEMA = "drone-perception/campaign-case/1"
INVARIANTS = ("standoff_m", "fence_m", "disengaged_commands", "mission")


def run_case(case: Case, code_version: str) -> dict[str, Any]:
    """One case: its manifest line (id, parameters, margins, trace hash, verdict)."""
    config = case.config()
    width = config.camera.width_px
    scale = CALIBRATED_INPUT_PX["miss_height_scale"] * width / DEFAULT_DETECTOR_INPUT_WIDTH_PX
    params = DetectionModelParams.calibrated(width, miss_height_scale_px=scale * case.params["detector_miss_scale"])
    r = run_scenario(case.scenario, config, seed=case.seed, detection_params=params, keep_trajectory=True)
    margins = {
        "standoff_m": round(float(r.min_separation_any_m - r.standoff_m), 4),
        "fence_m": round(float(r.min_fence_margin_m), 4),
        "disengaged_commands": -int(r.sent_while_disengaged),
        "mission": 1 if not r.mission_failures else -1,
    }
    return {"schema": SCHEMA, "id": case.case_id(code_version), "code": code_version, **case.key(),
            "margins": margins, "trace_hash": trace_hash(r.trajectory),
            "verdict": "pass" if all(v >= 0 for v in margins.values()) else "fail",
            "failures": r.failures, "subject_in_view_share": round(float(r.subject_in_view_share), 4)}


def trace_hash(trajectory: dict[str, Any]) -> str:
    """16 hex of sha256 over the vehicle's and people's true positions (mm) at every period."""
    h = hashlib.sha256()
    h.update(np.round(np.asarray(trajectory.get("vehicle", []), dtype=np.float64), 3).tobytes())
    for people in trajectory.get("people", []):  # per period: (id, position, is_subject) of each person
        for pid, pos, _ in people:
            h.update(int(pid).to_bytes(4, "little", signed=True))
            h.update(np.round(np.asarray(pos, dtype=np.float64), 3).tobytes())
    return h.hexdigest()[:16]


__all__ = ["INVARIANTS", "SCHEMA", "run_case", "trace_hash"]
