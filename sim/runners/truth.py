"""Ground truth of a closed-loop run, the same for every runner (direct, camera, MAVLink lock-step, SITL).

:class:`TruthMeter` measures on the simulator's ground truth (never on the stack's own estimates): minimum 3D
separation to the subject and to every person, fence margin, what was sent while disengaged, governor
interventions; :class:`TruthObserver` feeds it from the control loop and records ``/sim/truth``; the result is a
:class:`ScenarioResult`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drone_perception.interfaces import Recorder
from drone_perception.loop import Period
from drone_perception.record import topics
from drone_perception.types import OperatorInput, SafeCommand
from sim.world.world import World


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




class TruthObserver:
    """Control-loop observer: a SafeCommand that reached the vehicle is counted against the operator's state at
    that time, then the period is measured and ``/sim/truth`` recorded (stamped with the stack's ``now_s``).
    ``subject_in_view()``: the perception source's ground truth of whether the subject was visible."""

    def __init__(self, meter: TruthMeter, recorder: Recorder, subject_in_view: Callable[[], bool]) -> None:
        self.meter = meter
        self.recorder = recorder
        self.subject_in_view = subject_in_view

    def on_period(self, period: Period) -> None:
        out = period.output
        if period.sent and out is not None and period.operator is not None:
            self.meter.command(out.safe, period.operator)
        truth = self.meter.update(
            period.now_s, engaged=period.engaged, sending=period.sent,
            limits=out.safe.limits_applied if out is not None else frozenset(),
            subject_in_view=self.subject_in_view(),
            mode_request=out is not None and out.safe.mode_request is not None)
        self.recorder.record(topics.TRUTH, period.now_s, truth)
