"""A synthetic flight record: a scripted follow run written with the real FlightRecorder and value types.

For the audit's tests and for trying the report without a simulator. The subject walks north at
1 m/s; a bystander stands to the east; the vehicle follows 15 m behind at 8 m height. ``violate``
breaks one charter invariant on purpose (see :data:`VIOLATIONS`); ``mission`` makes a run that does not do
its job (see :data:`MISSIONS`) while breaking nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drone_perception.config import StackConfig
from drone_perception.record import topics
from drone_perception.record.mcap_recorder import FlightRecorder
from drone_perception.types import (
    OperatorInput,
    People,
    SafeCommand,
    TargetEstimate,
    VehicleState,
    VelocityCommand,
    Verdict,
    to_jsonable,
)

#: ``violate`` values and the invariant each one breaks.
VIOLATIONS: dict[str, str] = {
    "standoff": "standoff",
    "disengaged": "no_commands_while_disengaged",
    "expiry": "commands_expire",
    "fence": "fence",
    "speed": "speed_caps",
    "allowlist": "allowlist",
    "arm": "operator_in_command",
    "untethered": "tether_or_sim",
    "crash": "evidence",
}

#: ``mission`` values: "follow" (the default: engaged from 2 s, motion sent), "never_engaged" (the operator
#: never engages: nothing is sent), "holds_only" (engaged, but the governor holds all the time, as when nothing
#: is locked).
MISSIONS = ("follow", "never_engaged", "holds_only")

#: SET_POSITION_TARGET_LOCAL_NED type_mask for velocity + yaw rate (ignore position, accel, yaw).
VELOCITY_YAW_RATE_TYPE_MASK = 1 | 2 | 4 | 64 | 128 | 256 | 1024
MAV_FRAME_LOCAL_NED = 1


def write_fake_run(
    path: str | Path,
    *,
    violate: str | None = None,
    duration_s: float = 20.0,
    rate_hz: float = 20.0,
    truth: bool = True,
    mavlink: bool = False,
    seed: int = 0,
    mission: str = "follow",
) -> Path:
    """Write the record to ``path`` and return it. ``mavlink=True`` also records /mavlink/out as a
    bridge would (and a "sitl" link instead of the direct "sim" link)."""
    if violate is not None and violate not in VIOLATIONS:
        raise ValueError(f"violate = {violate!r}: must be one of {sorted(VIOLATIONS)} or None")
    if mission not in MISSIONS:
        raise ValueError(f"mission = {mission!r}: must be one of {MISSIONS}")
    rng = np.random.default_rng(seed)
    config = StackConfig.model_validate({})
    mavlink = mavlink or violate in ("allowlist", "arm", "untethered", "expiry")
    link = "mavlink" if violate == "untethered" else ("sitl" if mavlink else "sim")
    rec = FlightRecorder(path, max_chunk_age_s=0.05)
    rec.record(topics.META, 0.0, {"config": config.model_dump(mode="json"),
                                  "scenario": f"synthetic-{violate}-{mission}", "link": link, "tethered": False,
                                  "version": "synthetic"})
    rec.record(topics.FENCE, 0.0, to_jsonable(config.fence.model_dump()))
    dt = 1.0 / rate_hz
    engage_s, release_s = 2.0, duration_s - 2.0
    bystander = np.array([5.0, 30.0, 0.0])
    last_safe: SafeCommand | None = None
    for i in range(round(duration_s * rate_hz)):
        t = i * dt
        subject = np.array([20.0 + 1.0 * t, 0.0, 0.0])
        v_cmd = np.array([1.0, 0.0, 0.0])
        vehicle = subject + np.array([-15.0, 0.0, -8.0])
        if mission != "follow":  # nothing moves the vehicle: it hovers where follow would have started
            vehicle, v_cmd = np.array([5.0, 0.0, -8.0]), np.zeros(3)
        if violate == "standoff" and 10.0 <= t < 11.0:
            vehicle = subject + np.array([-4.0, 0.0, -3.0])
        if violate == "fence" and 12.0 <= t < 13.0:
            vehicle = np.array([148.0, 0.0, -8.0])
        if violate == "speed" and 8.0 <= t < 9.0:
            v_cmd = np.array([8.0, 0.0, 0.0])
        engaged_op = engage_s <= t < release_s and mission != "never_engaged"
        engaged_gov = engaged_op or (violate == "disengaged" and release_s <= t < release_s + 1.0)
        state = VehicleState(vehicle, v_cmd, np.zeros(3), True, "GUIDED", True, t)
        rec.record(topics.VEHICLE, t, state)
        rec.record(topics.OPERATOR, t, OperatorInput(engaged_op, True, 1 if t >= 1.0 else None, t))
        noise = rng.normal(0, 0.3, (2, 3)) * [1, 1, 0]
        people = People(np.array([subject, bystander]) + noise, np.array([[1.0, 0, 0], [0, 0, 0]]),
                        np.array([0.5, 0.8]), np.array([t, t]), np.array([True, False]), t)
        rec.record(topics.PEOPLE, t, people)
        rec.record(topics.SUBJECT, t, TargetEstimate(1, people.position_ned_m[0], np.array([1.0, 0, 0]),
                                                     np.eye(3) * 0.25, t, True))
        cmd = VelocityCommand(v_cmd if engaged_gov and mission == "follow" else np.zeros(3), 0.0, t)
        rec.record(topics.PROPOSED, t, cmd)
        limits = frozenset({"standoff_closing"}) if 5.0 <= t < 6.0 else frozenset()
        verdict = Verdict.LIMITED if limits else (Verdict.PASS if engaged_gov else Verdict.HOLD)
        if mission == "holds_only":
            verdict = Verdict.HOLD
        safe = SafeCommand(cmd, verdict, limits, t + config.safety.command_ttl_s)
        stop = vehicle + cmd.velocity_ned_mps * 1.5
        if violate == "fence" and 12.0 <= t < 13.0:
            stop = np.array([152.0, 0.0, -8.0])
        msg = to_jsonable(safe)
        msg.update({"stamp_s": t, "engaged": engaged_gov, "min_separation_est_m": 16.0,
                    "stopping_point_ned_m": stop.tolist(), "fence_margin_m": 150.0 - abs(stop[0])})
        if violate != "expiry" or t < release_s:
            rec.record(topics.SAFE, t, msg)
            last_safe = safe
        if mavlink and i % 20 == 0:
            rec.record(topics.MAVLINK_OUT, t, {"msg_type": "HEARTBEAT", "command": None,
                                               "fields": {"type": 18, "autopilot": 8}, "stamp_s": t})
        # The bridge sends the governor's command while engaged; the "expiry" violation keeps
        # re-sending the last one after the pipeline stopped (what MAVSDK issue #374 describes).
        send = last_safe if violate == "expiry" and t >= release_s else safe
        if send is not None and (engaged_gov or (violate == "expiry" and t >= release_s)) and mavlink:
            v = send.command.velocity_ned_mps
            rec.record(topics.MAVLINK_OUT, t, {
                "msg_type": "SET_POSITION_TARGET_LOCAL_NED", "command": None, "stamp_s": t,
                "expires_at_s": send.expires_at_s,
                "fields": {"vx": v[0], "vy": v[1], "vz": v[2], "yaw_rate": 0.0,
                           "type_mask": VELOCITY_YAW_RATE_TYPE_MASK, "coordinate_frame": MAV_FRAME_LOCAL_NED}})
        if truth:
            rec.record(topics.TRUTH, t, {"vehicle_position_ned_m": vehicle.tolist(),
                                         "vehicle_velocity_ned_mps": cmd.velocity_ned_mps.tolist(),
                                         "people": [{"id": 0, "position_ned_m": subject.tolist(), "is_subject": True},
                                                    {"id": 1, "position_ned_m": bystander.tolist(),
                                                     "is_subject": False}], "stamp_s": t})
        if violate == "allowlist" and i == 100:
            rec.record(topics.MAVLINK_OUT, t, {"msg_type": "PLAY_TUNE", "command": None, "fields": {}, "stamp_s": t})
        if violate == "arm" and i == 60:
            rec.record(topics.MAVLINK_OUT, t, {"msg_type": "COMMAND_LONG", "command": 400, "stamp_s": t,
                                               "fields": {"param1": 1.0, "param2": 0.0, "param3": 0.0}})
        if i == 0:
            rec.record(topics.AUTOPILOT_EVENTS, t, {"kind": "armed", "armed": True, "stamp_s": t})
        if abs(t - engage_s) < dt / 2:
            rec.record(topics.AUTOPILOT_EVENTS, t, {"kind": "mode", "mode": "GUIDED", "stamp_s": t})
    if violate == "crash":
        rec.flush()
        return Path(path)  # abandoned without close(): no footer, as after a crash
    rec.close()
    return Path(path)
