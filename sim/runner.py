"""Closed-loop simulation: world -> simulated detections -> the stack's Pipeline -> sim autopilot.

``run_scenario`` runs one named scenario at the control rate and returns a :class:`ScenarioResult` measured on
ground truth (not on the stack's own estimates): minimum 3D separation to the subject and to every person,
fence margin, what was sent while disengaged, governor interventions.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drone_perception.config import StackConfig
from drone_perception.interfaces import NullRecorder, Recorder
from drone_perception.pipeline import Pipeline
from drone_perception.record import topics
from drone_perception.track.bytetrack import ByteTracker
from drone_perception.track.lock import LockState
from drone_perception.types import to_jsonable
from sim.operator import OperatorScript, ScriptedOperator
from sim.scenarios import get_scenario
from sim.sensors import DetectionModelParams, simulate_detections

log = logging.getLogger(__name__)


@dataclass
class ScenarioResult:
    """Ground-truth figures of one closed-loop run. Distances in metres, times in seconds."""

    scenario: str
    seed: int
    duration_s: float
    standoff_m: float
    min_separation_subject_m: float
    min_separation_any_m: float
    min_separation_at_s: float
    subject_in_view_share: float
    interventions: dict[str, int]
    min_fence_margin_m: float
    sent_while_disengaged: int
    commands_sent: int
    holds_sent: int
    mode_requests: int
    redesignations: int
    trajectory: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def failures(self) -> list[str]:
        out = []
        if self.min_separation_any_m < self.standoff_m:
            out.append(
                f"standoff broken: {self.min_separation_any_m:.2f} m < {self.standoff_m:.2f} m "
                f"at t={self.min_separation_at_s:.2f} s"
            )
        if self.min_fence_margin_m < 0.0:
            out.append(f"fence breached by {-self.min_fence_margin_m:.2f} m")
        if self.sent_while_disengaged:
            out.append(f"{self.sent_while_disengaged} commands sent while disengaged")
        return out

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "passed": self.passed,
            "failures": self.failures,
            "duration_s": round(self.duration_s, 2),
            "standoff_m": self.standoff_m,
            "min_separation_subject_m": round(self.min_separation_subject_m, 2),
            "min_separation_any_m": round(self.min_separation_any_m, 2),
            "min_separation_at_s": round(self.min_separation_at_s, 2),
            "subject_in_view_share": round(self.subject_in_view_share, 3),
            "min_fence_margin_m": round(self.min_fence_margin_m, 2),
            "interventions": dict(sorted(self.interventions.items())),
            "commands_sent": self.commands_sent,
            "holds_sent": self.holds_sent,
            "mode_requests": self.mode_requests,
            "operator_redesignations": self.redesignations,
            "sent_while_disengaged": self.sent_while_disengaged,
        }


def run_scenario(
    name: str,
    config: StackConfig | None = None,
    *,
    seed: int = 0,
    recorder: Recorder | None = None,
    operator_script: OperatorScript | None = None,
    detection_params: DetectionModelParams | None = None,
    duration_s: float | None = None,
    keep_trajectory: bool = True,
) -> ScenarioResult:
    """Run scenario ``name`` in closed loop. Raises ``UnknownScenarioError`` for an unknown name."""
    spec = get_scenario(name)
    config = config or StackConfig()
    rng = np.random.default_rng(seed)
    world = spec.build(rng, config)
    config = world.stack_config(config)  # the scenario may bring its own fence
    rec: Recorder = recorder if recorder is not None else NullRecorder()
    pipeline = Pipeline(config, tracker=ByteTracker(config.tracker), recorder=rec)
    operator = ScriptedOperator(operator_script)
    det_params = detection_params or DetectionModelParams()
    dt_s = 1.0 / config.control_rate_hz
    steps = round((duration_s if duration_s is not None else spec.duration_s) / dt_s)
    standoff = config.safety.min_standoff_m

    rec.record(topics.META, 0.0, {"config": config.model_dump(mode="json"), "scenario": name, "seed": seed,
                                  "link": "sim", "tethered": config.fence.tethered})
    rec.record(topics.FENCE, 0.0, to_jsonable(config.fence.model_dump()))

    min_subject = min_any = math.inf
    min_at = 0.0
    min_margin = math.inf
    interventions: Counter[str] = Counter()
    sent = holds = disengaged_sends = mode_requests = 0
    in_view = engaged_steps = 0
    traj: dict[str, list[Any]] = {"t": [], "vehicle": [], "people": [], "engaged": []}
    subject_id = world.subject.id

    for _ in range(steps):
        world.step(dt_s)
        now = world.t_s
        camera = world.camera_model()
        detections, gt_ids = simulate_detections(world, camera, rng, det_params)
        subject = world.subject
        lock_lost = pipeline.lock.state in (LockState.LOST, LockState.NONE)
        op = operator.step(now, pipeline.tracks, camera, subject.position_ned_m, subject.height_m,
                           lock_lost=lock_lost)
        out = pipeline.step(now_s=now, vehicle=world.vehicle_state(), operator=op, camera=camera,
                            detections=detections)
        if out.send:
            if not (op.engaged and op.deadman_ok):
                disengaged_sends += 1
            if not out.safe.expired(now):
                world.command(out.safe.command)
                sent += 1
                holds += int(out.safe.verdict.value == "hold")
        if out.safe.mode_request is not None:
            mode_requests += 1
        if op.engaged:
            engaged_steps += 1
            in_view += int(np.any(gt_ids == subject_id))
            interventions.update(out.safe.limits_applied)

        sep_min, per_person = world.min_separation_m()
        sep_subject = float(per_person[world.subject_index])
        if sep_min < min_any:
            min_any, min_at = sep_min, now
        min_subject = min(min_subject, sep_subject)
        min_margin = min(min_margin, world.fence_margin_m())
        truth = world.truth()
        rec.record(topics.TRUTH, now, truth)
        if keep_trajectory:
            traj["t"].append(now)
            traj["vehicle"].append(truth["vehicle_position_ned_m"])
            traj["people"].append([(p["id"], p["position_ned_m"], p["is_subject"]) for p in truth["people"]])
            traj["engaged"].append(out.send)

    traj["fence_ne_m"] = [list(p) for p in config.fence.polygon_ne_m]
    return ScenarioResult(
        scenario=name,
        seed=seed,
        duration_s=steps * dt_s,
        standoff_m=standoff,
        min_separation_subject_m=min_subject,
        min_separation_any_m=min_any,
        min_separation_at_s=min_at,
        subject_in_view_share=in_view / engaged_steps if engaged_steps else 0.0,
        interventions=dict(interventions),
        min_fence_margin_m=min_margin,
        sent_while_disengaged=disengaged_sends,
        commands_sent=sent,
        holds_sent=holds,
        mode_requests=mode_requests,
        redesignations=operator.redesignations,
        trajectory=traj if keep_trajectory else {},
    )


def save_trajectory_plot(result: ScenarioResult, path: str | Path) -> Path:
    """Top-down (east right, north up) plot of vehicle, subject, bystanders and the fence."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traj = result.trajectory
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 7), dpi=100)
    fence = np.array(traj.get("fence_ne_m", []), dtype=float)
    if len(fence):
        closed = np.vstack([fence, fence[:1]])
        ax.plot(closed[:, 1], closed[:, 0], "k--", lw=1, label="geofence")
    veh = np.array(traj["vehicle"], dtype=float)
    ax.plot(veh[:, 1], veh[:, 0], "C0-", lw=1.5, label="vehicle")
    tracks: dict[int, list[Any]] = {}
    is_subj: dict[int, bool] = {}
    for people in traj["people"]:
        for pid, pos, subj in people:
            tracks.setdefault(pid, []).append(pos)
            is_subj[pid] = subj
    for pid, pts in tracks.items():
        arr = np.array(pts, dtype=float)
        style = "C3-" if is_subj[pid] else "C2-"
        ax.plot(arr[:, 1], arr[:, 0], style, lw=1.2, label="subject" if is_subj[pid] else f"person {pid}")
    ax.plot(veh[0, 1], veh[0, 0], "C0o")
    # Frame on what happened, not on the whole fence.
    pts = [veh[:, :2]] + [np.array(p, dtype=float)[:, :2] for p in tracks.values()]
    allp = np.vstack(pts)
    lo, hi = allp.min(axis=0) - 20, allp.max(axis=0) + 20
    ax.set_xlim(lo[1], hi[1])
    ax.set_ylim(lo[0], hi[0])
    ax.set_aspect("equal")
    ax.set_xlabel("east [m]")
    ax.set_ylabel("north [m]")
    verdict = "PASS" if result.passed else "FAIL"
    ax.set_title(
        f"{result.scenario}: {verdict}  min separation {result.min_separation_any_m:.1f} m "
        f"(standoff {result.standoff_m:.0f} m)"
    )
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
