"""What the autopilot saw, from its own logs: ArduPilot/GCS telemetry logs (``.tlog``, read with
pymavlink) and PX4 flight logs (``.ulg``, read with pyulog).

Extracted: arm/disarm (and who asked for it, where a COMMAND_LONG shows the sender), mode changes,
fence breaches, failsafes and setpoint-stream (offboard/guided) timeouts. :func:`align_to_record` puts
them on the record's clock: on a shared event (the first arm, else the first switch into
GUIDED/OFFBOARD, seen in both logs), else, for a tlog, through the recorder's wall clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drone_perception.mavlink_tables import (
    ARDUPILOT,
    AUTOPILOT_DIALECT_NAMES,
    CMD_ARMING,
    MAV_AUTOPILOT_INVALID,
    MAV_MODE_FLAG_SAFETY_ARMED,
    MAV_STATE_CRITICAL,
    MAV_STATE_EMERGENCY,
    MULTIROTOR_TYPES,
    NOT_VEHICLE_TYPES,
    PX4,
)
from drone_perception.record import topics
from drone_perception.record.errors import RecordError
from drone_perception.record.reader import FlightLog

_COMPANION_MODES = (ARDUPILOT.companion_mode, PX4.companion_mode)  # GUIDED, OFFBOARD


@dataclass(frozen=True)
class AutopilotEvent:
    """``log_time_s``: the autopilot log's own clock (tlog: Unix time; ulog: seconds since boot)."""

    log_time_s: float
    #: armed | disarmed | mode | fence_breach | failsafe | command_timeout | arm_request | prearm_failure |
    #: statustext
    kind: str
    text: str


@dataclass(frozen=True)
class AutopilotLog:
    source: str
    format: str  # "tlog" | "ulog"
    vehicle_type: str | None
    autopilot: str | None
    events: tuple[AutopilotEvent, ...]
    problems: tuple[str, ...] = ()
    supported_vehicle: bool = False

    def first(self, kind: str, contains: str = "") -> AutopilotEvent | None:
        return next((e for e in self.events if e.kind == kind and contains in e.text), None)


def _classify_text(text: str) -> str:
    low = text.lower()
    if low.startswith(("prearm", "pre-arm", "preflight fail")) or "prearm" in low[:12]:
        return "prearm_failure"  # "PreArm: Throttle below Failsafe" is a pre-arm check, not a failsafe
    if ("offboard" in low and ("lost" in low or "timeout" in low)) or "guided timeout" in low:
        return "command_timeout"
    if "fence" in low and ("breach" in low or "violat" in low):
        return "fence_breach"
    if "failsafe" in low:
        return "failsafe"
    return "statustext"


def read_tlog(path: str | Path) -> AutopilotLog:
    """Events from a MAVLink telemetry log (each message prefixed by its 8-byte Unix-µs stamp)."""
    # The one place the audit needs a MAVLink parser: decoding the tlog's frames (the numbers it then looks
    # for are drone_perception.mavlink_tables'; pymavlink also names enum values those tables do not list).
    from pymavlink import mavutil
    from pymavlink.dialects.v20 import ardupilotmega as mav2

    p = Path(path)
    problems: list[str] = []
    events: list[AutopilotEvent] = []
    if p.stat().st_size == 0:
        return AutopilotLog(str(p), "tlog", None, None, (), (f"{p} is empty (0 bytes)",))
    conn = mavutil.mavlink_connection(str(p), dialect="ardupilotmega", robust_parsing=True)
    vehicle: tuple[int, int] | None = None
    vtype: str | None = None
    autopilot: str | None = None
    armed: bool | None = None
    mode: str | None = None
    status: int | None = None
    breach: int | None = None
    n = bad = 0
    try:
        while True:
            msg = conn.recv_match(blocking=False)
            if msg is None:
                break
            n += 1
            kind = msg.get_type()
            t = float(getattr(msg, "_timestamp", math.nan))
            if kind == "BAD_DATA":
                bad += 1
                continue
            if kind == "HEARTBEAT":
                if msg.type in NOT_VEHICLE_TYPES or msg.autopilot == MAV_AUTOPILOT_INVALID:
                    continue
                src = (msg.get_srcSystem(), msg.get_srcComponent())
                if vehicle is None:
                    vehicle = src
                    vtype = MULTIROTOR_TYPES.get(msg.type) or _enum_name(mav2, "MAV_TYPE", msg.type)
                    autopilot = AUTOPILOT_DIALECT_NAMES.get(msg.autopilot,
                                                            _enum_name(mav2, "MAV_AUTOPILOT", msg.autopilot))
                if src != vehicle:
                    continue
                now_armed = bool(msg.base_mode & MAV_MODE_FLAG_SAFETY_ARMED)
                if now_armed != armed:
                    events.append(AutopilotEvent(t, "armed" if now_armed else "disarmed",
                                                 "armed" if now_armed else "disarmed"))
                    armed = now_armed
                dialect = PX4 if autopilot == "px4" else ARDUPILOT
                name = dialect.mode_name(msg.base_mode, msg.custom_mode)
                if msg.type not in MULTIROTOR_TYPES:
                    name = f"custom_mode {msg.custom_mode}"  # copter mode tables do not apply
                if name != mode:
                    events.append(AutopilotEvent(t, "mode", name))
                    mode = name
                if msg.system_status != status:
                    if msg.system_status in (MAV_STATE_CRITICAL, MAV_STATE_EMERGENCY):  # a failsafe is active
                        events.append(AutopilotEvent(t, "failsafe", _enum_name(mav2, "MAV_STATE", msg.system_status)))
                    status = msg.system_status
            elif kind == "COMMAND_LONG" and msg.command == CMD_ARMING:
                who = f"system {msg.get_srcSystem()} component {msg.get_srcComponent()}"
                what = "arm" if msg.param1 >= 0.5 else "disarm"
                events.append(AutopilotEvent(t, "arm_request", f"{what} requested by {who}"))
            elif kind == "STATUSTEXT":
                text = str(msg.text).rstrip("\x00")
                events.append(AutopilotEvent(t, _classify_text(text), text))
            elif kind == "FENCE_STATUS" and msg.breach_status != breach:
                if msg.breach_status:
                    events.append(AutopilotEvent(t, "fence_breach", f"breach type {msg.breach_type}, "
                                                 f"count {msg.breach_count}"))
                breach = msg.breach_status
    except Exception as exc:  # pymavlink raises many types on garbage: report what was read so far
        problems.append(f"reading stopped after {n} messages: {type(exc).__name__}: {exc}")
    if bad:
        problems.append(f"{bad} unparseable stretches of bytes (corrupt or not MAVLink)")
    if vehicle is None:
        problems.append("no vehicle HEARTBEAT found: not a telemetry log of a vehicle, or empty")
    supported = vtype in MULTIROTOR_TYPES.values()
    if vtype is not None and not supported:
        problems.append(f"log from another vehicle type ({vtype}): this stack flies multirotors; arm and "
                        "breach events are listed, mode names are not decoded")
    return AutopilotLog(str(p), "tlog", vtype, autopilot, tuple(events), tuple(problems), supported)


def _enum_name(mav: Any, enum: str, value: int) -> str:
    entry = mav.enums.get(enum, {}).get(value)
    name = entry.name if entry is not None else f"{enum}_{value}"
    return name.removeprefix(f"{enum}_")


# PX4 vehicle_status.nav_state values (vehicle_status.msg).
_PX4_NAV_STATES = {0: "MANUAL", 1: "ALTCTL", 2: "POSCTL", 3: "MISSION", 4: "LOITER", 5: "RTL", 10: "ACRO",
                   12: "DESCEND", 13: "TERMINATION", 14: "OFFBOARD", 15: "STAB", 17: "TAKEOFF", 18: "LAND",
                   19: "FOLLOW_TARGET", 20: "PRECLAND", 21: "ORBIT"}
_PX4_VEHICLE_TYPES = {1: "ROTARY_WING", 2: "FIXED_WING", 3: "ROVER"}


def read_ulog(path: str | Path) -> AutopilotLog:
    """Events from a PX4 ULog: vehicle_status (arming, nav_state, failsafe), vehicle_command (arm
    requests and their source), geofence_result, and the logged text messages."""
    from pyulog import ULog

    p = Path(path)
    if p.stat().st_size == 0:
        return AutopilotLog(str(p), "ulog", None, "px4", (), (f"{p} is empty (0 bytes)",))
    try:
        ulog = ULog(str(p))
    except Exception as exc:  # pyulog raises assorted errors on a non-ULog file
        return AutopilotLog(str(p), "ulog", None, "px4", (), (f"not a readable ULog: {type(exc).__name__}: {exc}",))
    problems: list[str] = []
    if ulog.file_corruption:
        problems.append("the ULog reports file corruption (some data may be missing)")
    events: list[AutopilotEvent] = []
    vtype: str | None = None
    topics_ = {d.name: d for d in ulog.data_list if d.multi_id == 0}
    status = topics_.get("vehicle_status")
    if status is not None:
        d = status.data
        ts = d["timestamp"] * 1e-6
        prev: dict[str, Any] = {}
        for i in range(len(ts)):
            arming = int(d["arming_state"][i]) if "arming_state" in d else None
            nav = int(d["nav_state"][i]) if "nav_state" in d else None
            fs = bool(d["failsafe"][i]) if "failsafe" in d else None
            if "vehicle_type" in d and vtype is None:
                vtype = _PX4_VEHICLE_TYPES.get(int(d["vehicle_type"][i]), f"type {int(d['vehicle_type'][i])}")
            if arming is not None and arming != prev.get("arming"):
                events.append(AutopilotEvent(float(ts[i]), "armed" if arming == 2 else "disarmed",
                                             f"arming_state {arming}"))
            if nav is not None and nav != prev.get("nav"):
                events.append(AutopilotEvent(float(ts[i]), "mode", _PX4_NAV_STATES.get(nav, f"nav_state {nav}")))
            if fs and not prev.get("fs"):
                events.append(AutopilotEvent(float(ts[i]), "failsafe", "vehicle_status.failsafe set"))
            prev = {"arming": arming, "nav": nav, "fs": fs}
    else:
        problems.append("no vehicle_status topic: arming and modes unknown")
    cmd = topics_.get("vehicle_command")
    if cmd is not None and "command" in cmd.data:
        d = cmd.data
        for i in range(len(d["timestamp"])):
            if int(d["command"][i]) == CMD_ARMING:
                what = "arm" if float(d["param1"][i]) >= 0.5 else "disarm"
                who = (f"system {int(d['source_system'][i])} component {int(d['source_component'][i])}"
                       if "source_system" in d else "unknown source")
                t_s = float(d["timestamp"][i]) * 1e-6
                events.append(AutopilotEvent(t_s, "arm_request", f"{what} requested by {who}"))
    geo = topics_.get("geofence_result")
    if geo is not None and "geofence_violated" in geo.data:
        was = False
        for t, v in zip(geo.data["timestamp"], geo.data["geofence_violated"]):
            if v and not was:
                events.append(AutopilotEvent(float(t) * 1e-6, "fence_breach", "geofence_violated"))
            was = bool(v)
    for m in ulog.logged_messages:
        events.append(AutopilotEvent(m.timestamp * 1e-6, _classify_text(m.message), m.message))
    events.sort(key=lambda e: e.log_time_s)
    supported = vtype in (None, "ROTARY_WING")
    if vtype is not None and not supported:
        problems.append(f"log from another vehicle type ({vtype}): this stack flies multirotors")
    return AutopilotLog(str(p), "ulog", vtype, "px4", tuple(events), tuple(problems), supported)


def read_autopilot_log(path: str | Path) -> AutopilotLog:
    """By extension: ``.tlog`` (pymavlink) or ``.ulg`` (pyulog). Raises RecordError otherwise/unreadable."""
    p = Path(path)
    if not p.is_file():
        raise RecordError(f"autopilot log {p} does not exist")
    if p.suffix.lower() == ".ulg":
        return read_ulog(p)
    if p.suffix.lower() in (".tlog", ".mav", ".log"):
        return read_tlog(p)
    raise RecordError(f"autopilot log {p}: unknown extension {p.suffix!r} (expected .tlog or .ulg)")


@dataclass(frozen=True)
class Alignment:
    """``record_time_s = log_time_s + offset_s``; ``how`` says what the offset rests on."""

    offset_s: float | None
    how: str
    extra: dict[str, Any] = field(default_factory=dict)


def align_to_record(ap: AutopilotLog, log: FlightLog | None) -> Alignment:
    if log is None or not log.readable:
        return Alignment(None, "no companion record to align with")
    rec_events = log.get(topics.AUTOPILOT_EVENTS)
    rec_arm = next((s for s, m in rec_events if m.get("kind") == "armed" and m.get("armed", True)), None)
    ap_arm = ap.first("armed")
    if rec_arm is not None and ap_arm is not None:
        return Alignment(rec_arm - ap_arm.log_time_s, "on the first arm event seen in both logs")
    for mode in _COMPANION_MODES:
        rec_mode = next((s for s, m in rec_events if m.get("kind") == "mode" and m.get("mode") == mode), None)
        ap_mode = ap.first("mode", mode)
        if rec_mode is not None and ap_mode is not None:
            return Alignment(rec_mode - ap_mode.log_time_s, f"on the first switch to {mode} seen in both logs")
    if ap.format == "tlog" and log.wall_minus_stamp_s is not None:
        return Alignment(-log.wall_minus_stamp_s, "by wall clock (tlog Unix time vs the recorder's wall clock; "
                         "assumes the two machines' clocks agree)")
    return Alignment(None, "not aligned: no shared event and no common clock")


#: Slack (s) around the record's span within which an aligned autopilot log still counts as the same flight.
OVERLAP_SLACK_S = 120.0


def overlap_problem(ap: AutopilotLog, log: FlightLog | None, al: Alignment) -> str | None:
    """Why the autopilot log is not the record's flight (its events, aligned, fall outside the record's time
    span), or None when it overlaps or cannot be placed."""
    span = log.time_span_s if log is not None else None
    if span is None or al.offset_s is None or not ap.events:
        return None
    first, last = ap.events[0].log_time_s + al.offset_s, ap.events[-1].log_time_s + al.offset_s
    if last < span[0] - OVERLAP_SLACK_S or first > span[1] + OVERLAP_SLACK_S:
        return (f"the autopilot log's events fall at record time {first:.0f}..{last:.0f} s, outside the flight "
                f"record's {span[0]:.0f}..{span[1]:.0f} s: it is probably another flight, and its events are not "
                "counted")
    return None


def autopilot_section(ap: AutopilotLog, log: FlightLog | None) -> dict[str, Any]:
    """The verdict's ``autopilot`` entry (JSON-compatible). An autopilot log that does not overlap the record in
    time is flagged (``overlaps_record`` False, a problem) and its events are not counted in the summary."""
    al = align_to_record(ap, log)
    mismatch = overlap_problem(ap, log, al)
    counts: dict[str, int] = {}
    for e in ([] if mismatch else ap.events):
        counts[e.kind] = counts.get(e.kind, 0) + 1
    arm_by = [] if mismatch else [e.text for e in ap.events if e.kind == "arm_request"]
    summary: dict[str, Any] = {k: v for k, v in counts.items() if k != "statustext"}
    if arm_by:
        summary["first arm request"] = arm_by[0]
    return {
        "source": ap.source,
        "format": ap.format,
        "vehicle_type": ap.vehicle_type,
        "autopilot": ap.autopilot,
        "supported_vehicle": ap.supported_vehicle,
        "alignment": al.how + (f" (offset {al.offset_s:+.3f} s)" if al.offset_s is not None else ""),
        "offset_s": al.offset_s,
        "problems": list(ap.problems) + ([mismatch] if mismatch else []),
        "overlaps_record": None if log is None or al.offset_s is None else mismatch is None,
        "summary": summary,
        "events": [
            {"log_time_s": e.log_time_s, "record_time_s": (e.log_time_s + al.offset_s) if al.offset_s is not None
             else None, "kind": e.kind, "text": e.text}
            for e in ap.events
        ],
    }
