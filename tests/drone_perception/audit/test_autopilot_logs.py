"""Autopilot logs as evidence: a .tlog written with pymavlink and a .ulg written byte by byte in the
ULog format (pyulog has no writer), read back into arm/mode/fence/failsafe/timeout events."""

from __future__ import annotations

import struct

import pytest
from fake_runs import write_fake_run
from pymavlink.dialects.v20 import ardupilotmega as mav2

from drone_perception.audit.api import audit_record
from drone_perception.audit.autopilot_logs import align_to_record, read_autopilot_log, read_tlog, read_ulog
from drone_perception.record.errors import RecordError
from drone_perception.record.reader import read_record

T0_S = 1_700_000_000.0
ARMED = mav2.MAV_MODE_FLAG_SAFETY_ARMED
CUSTOM = mav2.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED


def write_tlog(path, rows):
    """rows: (time_s, src_system, src_component, message). A tlog is 8-byte big-endian Unix µs + packet."""
    with open(path, "wb") as f:
        for t, sysid, compid, msg in rows:
            link = mav2.MAVLink(None, srcSystem=sysid, srcComponent=compid)
            f.write(struct.pack(">Q", int(t * 1e6)) + msg.pack(link))


def hb(vtype, base_mode, custom_mode, status=mav2.MAV_STATE_ACTIVE, autopilot=mav2.MAV_AUTOPILOT_ARDUPILOTMEGA):
    return mav2.MAVLink_heartbeat_message(vtype, autopilot, base_mode, custom_mode, status, 3)


def copter_rows(vtype=mav2.MAV_TYPE_QUADROTOR):
    q, c = vtype, CUSTOM
    return [
        (T0_S + 0.0, 1, 1, hb(q, c, 0, mav2.MAV_STATE_STANDBY)),  # STABILIZE, disarmed
        (T0_S + 0.1, 1, 191, hb(mav2.MAV_TYPE_ONBOARD_CONTROLLER, 0, 0, autopilot=mav2.MAV_AUTOPILOT_INVALID)),
        (T0_S + 0.5, 255, 190, mav2.MAVLink_command_long_message(1, 1, 400, 0, 1, 0, 0, 0, 0, 0, 0)),
        (T0_S + 1.0, 1, 1, hb(q, c | ARMED, 0)),
        (T0_S + 2.0, 1, 1, hb(q, c | ARMED, 4)),  # GUIDED
        (T0_S + 3.0, 1, 1, mav2.MAVLink_statustext_message(mav2.MAV_SEVERITY_WARNING, b"Fence Breach")),
        (T0_S + 3.0, 1, 1, mav2.MAVLink_fence_status_message(1, 1, mav2.FENCE_BREACH_BOUNDARY, 0)),
        (T0_S + 3.5, 1, 1, hb(q, c | ARMED, 17, mav2.MAV_STATE_CRITICAL)),  # BRAKE, failsafe
        (T0_S + 4.0, 1, 1, mav2.MAVLink_statustext_message(mav2.MAV_SEVERITY_INFO, b"GUIDED timeout")),
        (T0_S + 5.0, 1, 1, hb(q, c, 17)),
    ]


def test_copter_tlog_events(tmp_path):
    path = tmp_path / "flight.tlog"
    write_tlog(path, copter_rows())
    ap = read_tlog(path)
    assert ap.vehicle_type == "QUADROTOR" and ap.autopilot == "ardupilot" and ap.supported_vehicle
    assert ap.problems == ()
    kinds = [(e.kind, e.text) for e in ap.events]
    assert ("arm_request", "arm requested by system 255 component 190") in kinds
    assert [k for k in kinds if k[0] in ("armed", "disarmed")] == [("disarmed", "disarmed"), ("armed", "armed"),
                                                                     ("disarmed", "disarmed")]
    assert [t for k, t in kinds if k == "mode"] == ["STABILIZE", "GUIDED", "BRAKE"]
    assert {k for k, _ in kinds} >= {"fence_breach", "failsafe", "command_timeout"}
    armed = ap.first("armed")
    assert armed is not None and armed.log_time_s == pytest.approx(T0_S + 1.0)


def test_fixed_wing_log_is_reported_as_another_vehicle(tmp_path):
    path = tmp_path / "plane.tlog"
    write_tlog(path, copter_rows(vtype=mav2.MAV_TYPE_FIXED_WING))
    ap = read_tlog(path)
    assert ap.vehicle_type == "FIXED_WING" and not ap.supported_vehicle
    assert any("another vehicle type (FIXED_WING)" in p for p in ap.problems)
    assert ap.first("armed") is not None  # arm events are still listed


@pytest.mark.parametrize(("content", "problem"), [(b"", "empty"), (bytes(range(256)) * 8, "no vehicle HEARTBEAT")],
                         ids=["empty", "garbage"])
def test_bad_tlog_reports_problems(tmp_path, content, problem):
    path = tmp_path / "bad.tlog"
    path.write_bytes(content)
    ap = read_tlog(path)
    assert any(problem in p for p in ap.problems)


def _ulog_msg(kind, payload):
    return struct.pack("<HB", len(payload), ord(kind)) + payload


def write_ulog(path, status_rows, texts):
    """Minimal ULog v1: header, flag bits, one format, one subscription, data and logged strings."""
    out = b"ULog\x01\x12\x35" + bytes([1]) + struct.pack("<Q", 0)
    out += _ulog_msg("B", bytes(40))
    out += _ulog_msg("F", b"vehicle_status:uint64_t timestamp;uint8_t arming_state;uint8_t nav_state;"
                          b"bool failsafe;uint8_t vehicle_type;")
    out += _ulog_msg("A", struct.pack("<BH", 0, 0) + b"vehicle_status")
    for row in status_rows:
        out += _ulog_msg("D", struct.pack("<H", 0) + struct.pack("<QBB?B", *row))
    for ts_us, text in texts:
        out += _ulog_msg("L", struct.pack("<BQ", ord("4"), ts_us) + text.encode())
    path.write_bytes(out)


@pytest.mark.parametrize(("vehicle_type", "name", "supported"), [(1, "ROTARY_WING", True), (2, "FIXED_WING", False)])
def test_px4_ulog_events(tmp_path, vehicle_type, name, supported):
    path = tmp_path / "flight.ulg"
    rows = [(1_000_000, 1, 2, False, vehicle_type), (2_000_000, 2, 2, False, vehicle_type),
            (3_000_000, 2, 14, False, vehicle_type), (4_000_000, 2, 4, True, vehicle_type),
            (5_000_000, 1, 4, False, vehicle_type)]
    write_ulog(path, rows, [(3_500_000, "Failsafe: offboard lost, holding")])
    ap = read_autopilot_log(path)
    assert ap.format == "ulog" and ap.vehicle_type == name and ap.supported_vehicle is supported
    assert [e.text for e in ap.events if e.kind == "mode"] == ["POSCTL", "OFFBOARD", "LOITER"]
    assert [e.log_time_s for e in ap.events if e.kind == "armed"] == [2.0]
    assert {e.kind for e in ap.events} >= {"command_timeout", "failsafe", "disarmed"}


def test_not_a_ulog(tmp_path):
    path = tmp_path / "x.ulg"
    path.write_bytes(b"definitely not a ulog file" * 10)
    ap = read_ulog(path)
    assert ap.events == () and any("not a readable ULog" in p for p in ap.problems)


def test_unknown_extension_and_missing_file(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"abc")
    with pytest.raises(RecordError, match="unknown extension"):
        read_autopilot_log(tmp_path / "x.bin")
    with pytest.raises(RecordError, match="does not exist"):
        read_autopilot_log(tmp_path / "nope.tlog")


def test_tlog_is_aligned_on_the_shared_arm_event_and_lands_in_the_report(tmp_path):
    record = write_fake_run(tmp_path / "r.mcap", duration_s=6.0)  # records an "armed" event at t=0
    tlog = tmp_path / "flight.tlog"
    write_tlog(tlog, copter_rows())
    ap = read_tlog(tlog)
    al = align_to_record(ap, read_record(record))
    assert "first arm event" in al.how and al.offset_s == pytest.approx(-(T0_S + 1.0))
    html = tmp_path / "report.html"
    verdict = audit_record(record, html, tmp_path / "v.json", tlog=tlog)
    events = verdict["autopilot"]["events"]
    armed = next(e for e in events if e["kind"] == "armed")
    assert armed["record_time_s"] == pytest.approx(0.0, abs=1e-6)
    text = html.read_text()
    assert 'id="autopilot-events"' in text and "arm requested by system 255 component 190" in text


def test_a_pre_arm_message_is_a_pre_arm_failure_not_a_failsafe(tmp_path):
    """#14: "PreArm: Throttle below Failsafe" was counted as a failsafe."""
    tlog = tmp_path / "prearm.tlog"
    write_tlog(tlog, [(T0_S, 1, 1, hb(mav2.MAV_TYPE_QUADROTOR, CUSTOM, 0, mav2.MAV_STATE_STANDBY)),
                      (T0_S + 1, 1, 1, mav2.MAVLink_statustext_message(mav2.MAV_SEVERITY_CRITICAL,
                                                                       b"PreArm: Throttle below Failsafe"))])
    kinds = [e.kind for e in read_tlog(tlog).events]
    assert "prearm_failure" in kinds and "failsafe" not in kinds


def test_an_autopilot_log_of_another_flight_is_flagged_and_not_counted(tmp_path):
    """#14: an unrelated flight's --tlog (years apart) gave PASS with no warning. Without a shared arm or mode
    event the logs are aligned by wall clock, and the tlog's events then fall years outside the record."""
    record = write_fake_run(tmp_path / "r.mcap", duration_s=6.0)
    tlog = tmp_path / "other.tlog"
    rows = [(T0_S + k, 1, 1, hb(mav2.MAV_TYPE_QUADROTOR, CUSTOM, 5, mav2.MAV_STATE_CRITICAL)) for k in range(5)]
    write_tlog(tlog, rows)  # 2023, LOITER, a failsafe state: nothing shared with the record
    verdict = audit_record(record, None, None, tlog=tlog)
    ap = verdict["autopilot"]
    assert ap["overlaps_record"] is False and any("another flight" in p for p in ap["problems"]), ap
    assert "failsafe" not in ap["summary"]


def test_an_autopilot_log_alone_gives_the_autopilots_evidence(tmp_path, capsys):
    from drone_perception.cli import main

    tlog = tmp_path / "flight.tlog"
    write_tlog(tlog, copter_rows())
    code = main(["audit", str(tlog), "-o", str(tmp_path / "ap.html"), "--json", str(tmp_path / "ap.json")])
    out = capsys.readouterr().out
    assert code == 0 and "no charter verdict" in out and "fence_breach" in out
    assert "arm requested by system 255 component 190" in out
    assert 'id=autopilot-events' in (tmp_path / "ap.html").read_text()
