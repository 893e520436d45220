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
from drone_perception.types import OperatorInput, SafeCommand, to_jsonable
from sim.operator import OperatorScript, ScriptedOperator
from sim.scenarios import get_scenario
from sim.sensors import DetectionModelParams, simulate_detections
from sim.world import World

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

    record_run_header(rec, config, name, seed, link="sim")
    meter = TruthMeter(world, standoff, keep_trajectory=keep_trajectory)
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
        if out.send and not out.safe.expired(now):
            world.command(out.safe.command)
            meter.command(out.safe, op)
        truth = meter.update(now, engaged=op.engaged, sending=out.send, limits=out.safe.limits_applied,
                             subject_in_view=bool(np.any(gt_ids == subject_id)),
                             mode_request=out.safe.mode_request is not None)
        rec.record(topics.TRUTH, now, truth)
    return meter.result(name, seed, dt_s, redesignations=operator.redesignations)


def record_run_header(rec: Recorder, config: StackConfig, scenario: str, seed: int, *, link: str,
                      **extra: Any) -> None:
    """The /meta and /fence messages every simulated run starts with (what the audit needs)."""
    meta = {"config": config.model_dump(mode="json"), "scenario": scenario, "seed": seed, "link": link,
            "tethered": config.fence.tethered, **extra}
    rec.record(topics.META, 0.0, meta)
    rec.record(topics.FENCE, 0.0, to_jsonable(config.fence.model_dump()))


class TruthMeter:
    """Ground-truth figures of one closed-loop run, the same for every runner (direct, camera, MAVLink).
    Stamps are the stack's clock (``now_s``)."""

    def __init__(self, world: World, standoff_m: float, *, keep_trajectory: bool = True) -> None:
        self.world = world
        self.standoff_m = standoff_m
        self.keep_trajectory = keep_trajectory
        self.min_subject = self.min_any = self.min_margin = math.inf
        self.min_at = 0.0
        self.interventions: Counter[str] = Counter()
        self.sent = self.holds = self.disengaged_sends = self.mode_requests = 0
        self.in_view = self.engaged_steps = 0
        self.steps = 0
        self.traj: dict[str, list[Any]] = {"t": [], "vehicle": [], "people": [], "engaged": []}

    def command(self, safe: SafeCommand, op: OperatorInput) -> None:
        """A SafeCommand that reached the autopilot (counted against the operator's state at that time)."""
        if not (op.engaged and op.deadman_ok):
            self.disengaged_sends += 1
        self.sent += 1
        self.holds += int(safe.verdict.value == "hold")

    def update(self, now_s: float, *, engaged: bool, sending: bool, limits: frozenset[str],
               subject_in_view: bool, mode_request: bool) -> dict[str, Any]:
        """One control period; returns the ``/sim/truth`` message (stamped ``now_s``)."""
        w = self.world
        self.steps += 1
        self.mode_requests += int(mode_request)
        if engaged:
            self.engaged_steps += 1
            self.in_view += int(subject_in_view)
            self.interventions.update(limits)
        sep_min, per_person = w.min_separation_m()
        if sep_min < self.min_any:
            self.min_any, self.min_at = sep_min, now_s
        self.min_subject = min(self.min_subject, float(per_person[w.subject_index]))
        self.min_margin = min(self.min_margin, w.fence_margin_m())
        truth = w.truth()
        truth["stamp_s"] = now_s
        truth["world_t_s"] = w.t_s
        if self.keep_trajectory:
            self.traj["t"].append(now_s)
            self.traj["vehicle"].append(truth["vehicle_position_ned_m"])
            self.traj["people"].append([(p["id"], p["position_ned_m"], p["is_subject"]) for p in truth["people"]])
            self.traj["engaged"].append(sending)
        return truth

    def result(self, scenario: str, seed: int, dt_s: float, *, redesignations: int = 0) -> ScenarioResult:
        self.traj["fence_ne_m"] = [list(p) for p in self.world.fence.polygon_ne_m]
        return ScenarioResult(
            scenario=scenario, seed=seed, duration_s=self.steps * dt_s, standoff_m=self.standoff_m,
            min_separation_subject_m=self.min_subject, min_separation_any_m=self.min_any,
            min_separation_at_s=self.min_at,
            subject_in_view_share=self.in_view / self.engaged_steps if self.engaged_steps else 0.0,
            interventions=dict(self.interventions), min_fence_margin_m=self.min_margin,
            sent_while_disengaged=self.disengaged_sends, commands_sent=self.sent, holds_sent=self.holds,
            mode_requests=self.mode_requests, redesignations=redesignations,
            trajectory=self.traj if self.keep_trajectory else {},
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
