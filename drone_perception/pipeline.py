"""The stack, composed: detections -> tracks -> subject lock -> estimate -> follow -> governor.

The same :class:`Pipeline` runs in simulation and in live flight; only what feeds it (frames or simulated
detections, a simulated or MAVLink vehicle) and what consumes its output (the sim autopilot or the MAVLink
bridge) differ. It does no I/O of its own except through the injected recorder, and it takes explicit time.

Fail closed: any exception in perception, estimation or control turns into "no proposed command", which the
governor turns into a hold; the governor itself never raises.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from drone_perception.config import StackConfig
from drone_perception.control.follow import FollowController
from drone_perception.control.governor import GovernorInput, GovernorOutput, SafetyGovernor
from drone_perception.errors import DronePerceptionError
from drone_perception.estimate import SubjectFilter
from drone_perception.geometry import observed_sector
from drone_perception.interfaces import Detector, NullRecorder, Recorder, Tracker
from drone_perception.people import PeopleMemory
from drone_perception.record import topics
from drone_perception.track.lock import LockState, LockStatus, SubjectLock
from drone_perception.types import (
    CameraModel,
    Detections,
    Frame,
    OperatorInput,
    People,
    SafeCommand,
    TargetEstimate,
    Tracks,
    VehicleState,
    VelocityCommand,
    to_jsonable,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineOutput:
    """One control period. ``send`` is True only when the governor says the operator has handed control to
    the stack (engaged, dead-man live, armed, companion mode); otherwise nothing may be sent at all."""

    safe: SafeCommand
    send: bool
    governor: GovernorOutput
    tracks: Tracks
    estimate: TargetEstimate
    people: People
    proposed: VelocityCommand | None
    lock: LockStatus
    detections: Detections | None


class Pipeline:
    """Compose the stages. Inject the tracker (and a detector when frames are given) and a recorder."""

    def __init__(
        self,
        config: StackConfig,
        *,
        tracker: Tracker,
        detector: Detector | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.config = config
        self.tracker = tracker
        self.detector = detector
        self.recorder: Recorder = recorder if recorder is not None else NullRecorder()
        self.lock = SubjectLock(config.tracker)
        self.subject_filter = SubjectFilter(lost_timeout_s=config.safety.subject_lost_timeout_s)
        self.people_memory = PeopleMemory(
            growth_mps=config.safety.design_person_speed_mps,
            forget_after_s=config.safety.forget_person_after_s,
        )
        self.follow = FollowController(config.follow)
        self.governor = SafetyGovernor(config.safety, config.fence, config.camera)
        self._tracks: Tracks | None = None
        self._perception_stamp_s = -math.inf
        self._last_operator_subject: int | None = None
        self._last_control_s: float | None = None
        self._people: People | None = None

    # ------------------------------------------------------------------ operator
    def select_subject(self, track_id: int) -> tuple[bool, str]:
        """Lock the subject on an existing confirmed track (the operator's choice)."""
        if self._tracks is None:
            return False, "no tracks yet"
        ok = self.lock.lock(track_id, self._tracks)
        if ok:
            self.subject_filter.reset()
        return ok, "locked" if ok else f"track {track_id} cannot be locked"

    def select_at_pixel(self, u_px: float, v_px: float) -> tuple[int | None, str]:
        """Lock the one confirmed track whose box contains pixel (u, v) (an operator's click). A click inside
        two or more boxes is refused (``SubjectLock.lock_at_pixel``). Returns (track id or None, reason)."""
        if self._tracks is None:
            return None, "refused: no tracks yet"
        track_id, reason = self.lock.lock_at_pixel(u_px, v_px, self._tracks)
        if track_id is not None:
            self.subject_filter.reset()
        return track_id, reason

    def select_in_box(self, xyxy_px: np.ndarray) -> tuple[int | None, str]:
        """Lock the confirmed track that best overlaps the operator's box, unambiguously
        (``SubjectLock.lock_in_box``). Returns (track id or None, reason)."""
        if self._tracks is None:
            return None, "refused: no tracks yet"
        track_id, reason = self.lock.lock_in_box(xyxy_px, self._tracks)
        if track_id is not None:
            self.subject_filter.reset()
        return track_id, reason

    def release_subject(self) -> None:
        self.lock.release()
        self.subject_filter.reset()

    @property
    def tracks(self) -> Tracks | None:
        return self._tracks

    # ------------------------------------------------------------------ the loop
    def step(
        self,
        *,
        now_s: float,
        vehicle: VehicleState,
        operator: OperatorInput,
        camera: CameraModel | None,
        detections: Detections | None = None,
        frame: Frame | None = None,
    ) -> PipelineOutput:
        """Run one control period at ``now_s`` (monotonic seconds).

        Pass ``frame`` (with a detector injected) for real perception, or ``detections`` directly
        (simulation); pass neither when no new perception arrived this period.
        """
        rec = self.recorder
        rec.record(topics.VEHICLE, now_s, vehicle)
        rec.record(topics.OPERATOR, now_s, operator)
        proposed: VelocityCommand | None = None
        estimate = TargetEstimate.invalid(now_s)
        status = self._lock_status(now_s)
        try:
            detections = self._perceive(frame, detections)
            if detections is not None:
                rec.record(topics.DETECTIONS, detections.stamp_s, detections)
                dt_s = detections.stamp_s - self._perception_stamp_s
                dt_s = dt_s if math.isfinite(dt_s) and dt_s > 0 else 1.0 / self.config.camera.rate_hz
                self._tracks = self.tracker.update(detections, camera, dt_s)
                self._perception_stamp_s = detections.stamp_s
                rec.record(topics.TRACKS, self._tracks.stamp_s, self._tracks)
            tracks = self._tracks if self._tracks is not None else Tracks.empty(now_s)
            self._apply_operator_choice(operator, tracks)
            status, estimate = self._estimate_subject(tracks, now_s, new_perception=detections is not None)
            self._people = self.people_memory.update(tracks, status.track_id, now_s)
            proposed = self._propose(operator, estimate, vehicle, now_s)
        except Exception:  # any stage failure, expected or a bug, must end in a hold
            # Fail closed (charter item 3): the governor turns "no proposed command" into a hold.
            log.exception("pipeline stage failed, holding")
            proposed = None
            estimate = TargetEstimate.invalid(now_s)
        people = self._people if self._people is not None else People.empty(now_s)
        tracks = self._tracks if self._tracks is not None else Tracks.empty(now_s)

        gov = self.governor.step(
            GovernorInput(
                now_s=now_s,
                proposed=proposed,
                vehicle=vehicle,
                people=people,
                subject=estimate,
                operator=operator,
                perception_stamp_s=self._perception_stamp_s,
                observed_sector=observed_sector(camera) if camera is not None else None,
            )
        )
        rec.record(topics.SUBJECT, now_s, estimate)
        rec.record(topics.PEOPLE, now_s, people)
        if proposed is not None:
            rec.record(topics.PROPOSED, now_s, proposed)
        if type(rec) is not NullRecorder:  # building the message costs more than the rest of the record
            rec.record(topics.SAFE, now_s, _safe_message(gov, now_s))
        return PipelineOutput(
            safe=gov.safe,
            send=gov.engaged,
            governor=gov,
            tracks=tracks,
            estimate=estimate,
            people=people,
            proposed=proposed,
            lock=status,
            detections=detections,
        )

    def _lock_status(self, now_s: float) -> LockStatus:
        """The lock's state without a new tracker output (no row: nothing new to measure)."""
        return LockStatus(self.lock.state, self.lock.track_id, None, "no new perception", now_s)

    # ------------------------------------------------------------------ stages
    def _perceive(self, frame: Frame | None, detections: Detections | None) -> Detections | None:
        if frame is None:
            return detections
        if self.detector is None:
            raise DronePerceptionError("a frame was given but the pipeline has no detector")
        return self.detector.detect(frame)

    def _apply_operator_choice(self, operator: OperatorInput, tracks: Tracks) -> None:
        chosen = operator.subject_track_id
        # Same choice as before: nothing to do, unless it could not be locked yet (track not confirmed).
        if chosen == self._last_operator_subject and (chosen is None or self.lock.state is not LockState.NONE):
            return
        self._last_operator_subject = chosen
        if chosen is None:
            self.release_subject()
        elif self.lock.lock(chosen, tracks):
            self.subject_filter.reset()
        else:
            log.debug("operator chose track %s but it cannot be locked (yet)", chosen)

    def _estimate_subject(
        self, tracks: Tracks, now_s: float, *, new_perception: bool
    ) -> tuple[LockStatus, TargetEstimate]:
        predicted = None
        if self.subject_filter.initialized:
            predicted = self.subject_filter.predicted_position(now_s)
        status = self.lock.update(tracks, now_s, predicted) if new_perception else self._lock_status(now_s)
        if status.state in (LockState.NONE, LockState.LOST) or status.track_id is None:
            return status, TargetEstimate.invalid(now_s, -1 if status.track_id is None else status.track_id)
        measurement = None
        row = status.row if new_perception else None
        if row is not None and np.isfinite(tracks.position_ned_m[row]).all():
            sigma = float(tracks.position_sigma_m[row])
            sigma = sigma if math.isfinite(sigma) and sigma > 0 else 2.0
            cov = np.diag([sigma**2, sigma**2, 0.25])
            measurement = (tracks.position_ned_m[row], cov)
        return status, self.subject_filter.step(now_s, status.track_id, measurement)

    def _propose(
        self, operator: OperatorInput, estimate: TargetEstimate, vehicle: VehicleState, now_s: float
    ) -> VelocityCommand | None:
        dt_s = now_s - self._last_control_s if self._last_control_s is not None else 0.0
        self._last_control_s = now_s
        if not (operator.engaged and operator.deadman_ok) or not estimate.valid:
            # Re-engaging starts from the vehicle's current velocity, never with a step.
            self.follow.reset()
            return None
        dt_s = dt_s if 0.0 < dt_s < 1.0 else 1.0 / self.config.control_rate_hz
        return self.follow.step(estimate, vehicle, dt_s)


def _safe_message(gov: GovernorOutput, now_s: float) -> dict[str, object]:
    msg = to_jsonable(gov.safe)
    msg.update(
        {
            "stamp_s": now_s,
            "engaged": gov.engaged,
            "min_separation_est_m": to_jsonable(gov.min_separation_m),
            "stopping_point_ned_m": to_jsonable(np.asarray(gov.stopping_point_ned_m)),
            "fence_margin_m": to_jsonable(gov.fence_margin_m),
        }
    )
    return msg
