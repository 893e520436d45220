"""Channels of the flight record. Every message is JSON (the ``to_jsonable`` form of a value type,
or the dict documented here), stamped with the stack's monotonic ``stamp_s``.

The pipeline and the bridge write these; the audit reads them. Adding a topic is fine; changing the
meaning of one breaks old records, so don't.
"""

from __future__ import annotations

#: Once per run: {"config": StackConfig.model_dump(), "scenario": str|None, "link": "sim"|"mavlink"|...,
#:  "tethered": bool, "version": str}
META = "/meta"
#: Detections (to_jsonable)
DETECTIONS = "/perception/detections"
#: Tracks (to_jsonable)
TRACKS = "/perception/tracks"
#: TargetEstimate (to_jsonable)
SUBJECT = "/estimate/subject"
#: People the governor considered (to_jsonable)
PEOPLE = "/estimate/people"
#: VehicleState as the stack saw it (to_jsonable)
VEHICLE = "/vehicle/state"
#: OperatorInput (to_jsonable)
OPERATOR = "/operator/input"
#: VelocityCommand proposed by the follow controller (to_jsonable); absent when none was proposed
PROPOSED = "/control/proposed"
#: SafeCommand from the governor (to_jsonable) plus {"margins": {...}} the governor computed:
#:  {"command":..., "verdict":..., "limits_applied": [...], "expires_at_s":..., "mode_request":...,
#:   "engaged": bool, "min_separation_est_m": float|None, "stopping_point_ned_m": [3],
#:   "fence_margin_m": float|None}
SAFE = "/control/safe"
#: Every MAVLink message the bridge sent: {"msg_type": str, "command": int|None, "fields": {...},
#:  "stamp_s": float}
MAVLINK_OUT = "/mavlink/out"
#: Telemetry/events from the autopilot: {"kind": "mode"|"armed"|"failsafe"|"fence_breach"|"statustext"|
#:  "link", ...}
AUTOPILOT_EVENTS = "/autopilot/events"
#: Simulation only: {"vehicle_position_ned_m": [3], "vehicle_velocity_ned_mps": [3],
#:  "people": [{"id": int, "position_ned_m": [3], "is_subject": bool}], "stamp_s": float}
TRUTH = "/sim/truth"
#: Once: the geofence {"polygon_ne_m": [...], "altitude_floor_m":..., "altitude_ceiling_m":...,
#:  "tether_length_m":..., "tether_anchor_ne_m": [2]}
FENCE = "/fence"
#: Once, last: {"complete": bool, "reason": str} ("complete": false when the run was interrupted, e.g. Ctrl-C);
#: the audit counts a record whose run did not finish as unverifiable
RUN_END = "/run/end"
#: Optional compressed camera frames (foxglove.CompressedImage schema)
CAMERA = "/camera/image"
