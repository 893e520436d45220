"""Ground truth of a closed-loop run, the same for every runner (direct, camera, MAVLink lock-step, SITL).

:class:`TruthMeter` measures on the simulator's ground truth (never on the stack's own estimates): minimum 3D
separation to the subject and to every person, fence margin, what was sent while disengaged, governor
interventions, and whether the run did its job (follow engaged, motion commanded, subject in view, distance
kept); :class:`TruthObserver` feeds it from the control loop and records ``/sim/truth``; the result is a
:class:`ScenarioResult`.

A run passes only when it is safe *and* did its job (charter item 8, "no vacuous verdicts"): a run in which
follow never engaged, only holds were sent, or the subject was never in view while engaged is a failure
whatever its safety figures say.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drone_perception.config.follow import FollowConfig
from drone_perception.interfaces import Recorder
from drone_perception.loop import Period
from drone_perception.record import topics
from drone_perception.types import OperatorInput, SafeCommand
from sim.world.world import World

#: ``ScenarioResult.summary()["schema"]``: bump when a key changes meaning or disappears.
SUMMARY_SCHEMA = "drone-perception/sim-summary/1"


@dataclass
class ScenarioResult:
    """Ground-truth figures of one closed-loop run. Distances in metres, times in seconds.

    Mission figures (what the run did, beside whether it was safe):

    * ``engaged_share``: periods in which the operator had engaged follow and the pipeline ran / all periods.
    * ``motion_commands``: SafeCommands that reached the vehicle with a verdict other than hold
      (``commands_sent - holds_sent``).
    * ``subject_in_view_share``: share of the engaged periods with the subject in view (the perception source's
      ground truth).
    * ``follow_distance_error_mean_m`` / ``_max_m``: mean and max of | true horizontal distance vehicle ->
      subject's foot point - ``follow_distance_m`` | over the engaged periods (NaN when never engaged). The
      offset's height is not in it: the governor may climb over a runner, which is not a follow error.
    """

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
    engaged_share: float = 0.0
    follow_distance_m: float = math.nan
    follow_distance_error_mean_m: float = math.nan
    follow_distance_error_max_m: float = math.nan
    engaged_periods: int = 0
    trajectory: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def motion_commands(self) -> int:
        """Commands sent that were not holds."""
        return self.commands_sent - self.holds_sent

    @property
    def safety_failures(self) -> list[str]:
        """Safety invariants broken on ground truth (standoff, fence, commands while disengaged)."""
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
    def mission_failures(self) -> list[str]:
        """Why the run did not do its job: never engaged, only holds sent, subject never in view while engaged."""
        out = []
        if self.engaged_periods == 0:
            out.append("follow never engaged")
        if self.motion_commands <= 0:
            out.append("no motion command sent (only holds)" if self.commands_sent
                       else "no motion command sent (nothing sent)")
        if self.engaged_periods > 0 and self.subject_in_view_share <= 0.0:
            out.append("subject never in view while engaged")
        return out

    @property
    def failures(self) -> list[str]:
        """Every failure: safety first, then mission (``passed`` is ``not failures``)."""
        return self.safety_failures + self.mission_failures

    @property
    def safety_passed(self) -> bool:
        return not self.safety_failures

    @property
    def mission_passed(self) -> bool:
        return not self.mission_failures

    @property
    def passed(self) -> bool:
        """Safe and did its job: no safety failure and no mission failure."""
        return not self.failures

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (schema :data:`SUMMARY_SCHEMA`). ``passed`` / ``failures`` cover safety and
        mission together; ``safety`` and ``mission`` say each on its own. NaN figures become None."""
        def num(v: float, nd: int) -> float | None:
            return round(v, nd) if math.isfinite(v) else None

        return {
            "schema": SUMMARY_SCHEMA,
            "scenario": self.scenario,
            "seed": self.seed,
            "passed": self.passed,
            "failures": self.failures,
            "safety": {"verdict": "pass" if self.safety_passed else "fail", "failures": self.safety_failures},
            "mission": {
                "verdict": "pass" if self.mission_passed else "fail",
                "failures": self.mission_failures,
                "engaged_share": round(self.engaged_share, 3),
                "motion_commands": self.motion_commands,
                "subject_in_view_share": round(self.subject_in_view_share, 3),
                "follow_distance_m": num(self.follow_distance_m, 2),
                "follow_distance_error_m": {"mean": num(self.follow_distance_error_mean_m, 2),
                                            "max": num(self.follow_distance_error_max_m, 2)},
            },
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
    Stamps are the stack's clock (``now_s``). ``follow``: the run's follow offset, against which the distance
    error is measured (default: ``FollowConfig()``; a runner with another offset must pass its own)."""

    def __init__(self, world: World, standoff_m: float, *, follow: FollowConfig,
                 keep_trajectory: bool = True) -> None:
        self.world = world
        self.standoff_m = standoff_m
        self.keep_trajectory = keep_trajectory
        self.follow_distance_m = follow.distance_m
        self.distance_error_sum_m = 0.0
        self.distance_error_max_m = 0.0
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
        if engaged:
            veh = truth["vehicle_position_ned_m"]
            subj = truth["people"][w.subject_index]["position_ned_m"]
            err = abs(math.hypot(veh[0] - subj[0], veh[1] - subj[1]) - self.follow_distance_m)
            self.distance_error_sum_m += err
            self.distance_error_max_m = max(self.distance_error_max_m, err)
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
            engaged_share=self.engaged_steps / self.steps if self.steps else 0.0,
            follow_distance_m=self.follow_distance_m,
            follow_distance_error_mean_m=(self.distance_error_sum_m / self.engaged_steps if self.engaged_steps
                                          else math.nan),
            follow_distance_error_max_m=self.distance_error_max_m if self.engaged_steps else math.nan,
            engaged_periods=self.engaged_steps,
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
