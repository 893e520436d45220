"""Names of every limit the safety governor can apply (the ``SafeCommand.limits_applied`` vocabulary).

The values are short snake_case strings written into the flight record; the audit reads them, so a
value must never change meaning. Gates (the first group) turn the output into a HOLD; the others limit
the command and leave it flying.
"""

from __future__ import annotations

# -- gates: the output is a HOLD (zero velocity, zero yaw rate) -------------------------------------
#: The operator has not engaged follow (the pipeline sends nothing; the operator flies).
NOT_ENGAGED = "not_engaged"
#: The operator's dead-man signal (RC switch or console heartbeat) is not live.
DEADMAN = "deadman"
#: The vehicle is not armed.
NOT_ARMED = "not_armed"
#: The autopilot is not in a companion-control mode (GUIDED / OFFBOARD).
WRONG_MODE = "wrong_mode"
#: The telemetry link to the autopilot is down.
LINK_LOST = "link_lost"
#: The vehicle state is older than ``SafetyConfig.stale_input_s``.
STALE_VEHICLE = "stale_vehicle"
#: Perception is older than ``SafetyConfig.stale_input_s``.
STALE_PERCEPTION = "stale_perception"
#: A NaN or infinite value in any input (vehicle, command, people, subject, time, sector).
NAN_INPUT = "nan_input"
#: No (or a stale) proposed command.
NO_COMMAND = "no_command"
#: The subject estimate is invalid or too old.
SUBJECT_LOST = "subject_lost"
#: An exception inside the governor (it never propagates; the output is a HOLD).
INTERNAL_ERROR = "internal_error"
#: The reported position jumped farther than the vehicle can fly (a GPS glitch): not believed, hold.
POSITION_JUMP = "position_jump"

# -- caps ---------------------------------------------------------------------------------------------
SPEED_CAP = "speed_cap"
VERTICAL_SPEED_CAP = "vertical_speed_cap"
ACCEL_CAP = "accel_cap"
YAW_RATE_CAP = "yaw_rate_cap"

# -- people -------------------------------------------------------------------------------------------
#: A person is inside the standoff: only moving away (or up) relative to them is allowed.
STANDOFF = "standoff"
#: Closing speed towards a person limited so the vehicle can stop before the standoff.
CLOSING_SPEED = "closing_speed"
#: Horizontal speed into directions the camera has not observed is capped.
UNOBSERVED_DIRECTION = "unobserved_direction"
#: Below the ground-safe height, horizontal speed is capped so that a person first found at the detector's
#: reliable range can still be kept outside the standoff (``control.sight``).
SIGHT_RANGE = "sight_range"

# -- geofence (on the predicted stopping point) ----------------------------------------------------
FENCE = "fence"
ALTITUDE_FLOOR = "altitude_floor"
ALTITUDE_CEILING = "altitude_ceiling"
TETHER = "tether"

#: Gates: any of these makes the output a HOLD.
GATES = frozenset({
    NOT_ENGAGED, DEADMAN, NOT_ARMED, WRONG_MODE, LINK_LOST, STALE_VEHICLE, STALE_PERCEPTION, NAN_INPUT,
    NO_COMMAND, SUBJECT_LOST, INTERNAL_ERROR, POSITION_JUMP,
})
#: Gates under which the vehicle state is still trustworthy: the output is a hold, but people are still
#: protected (a person running at a holding vehicle makes the governor back off or climb; see the governor).
EVADING_GATES = frozenset({NO_COMMAND, SUBJECT_LOST, STALE_PERCEPTION})
#: Gates after which the pipeline sends nothing at all (the operator flies).
DISENGAGING_GATES = frozenset({NOT_ENGAGED, DEADMAN, NOT_ARMED, WRONG_MODE})
#: Limits that protect people or the fence: their reductions are never slowed by the accel cap.
PROTECTIVE = frozenset({STANDOFF, CLOSING_SPEED, SIGHT_RANGE, FENCE, ALTITUDE_FLOOR, ALTITUDE_CEILING, TETHER})

ALL = frozenset({
    NOT_ENGAGED, DEADMAN, NOT_ARMED, WRONG_MODE, LINK_LOST, STALE_VEHICLE, STALE_PERCEPTION, NAN_INPUT,
    NO_COMMAND, SUBJECT_LOST, INTERNAL_ERROR, POSITION_JUMP, SPEED_CAP, VERTICAL_SPEED_CAP, ACCEL_CAP, YAW_RATE_CAP,
    STANDOFF, CLOSING_SPEED, UNOBSERVED_DIRECTION, SIGHT_RANGE, FENCE, ALTITUDE_FLOOR, ALTITUDE_CEILING, TETHER,
})
