"""One MAVLink table for the bridge and the audit: the same objects on both sides, the ids equal to the
MAVLink dialect's enums by name, the same verdict on the same message, and no shell imported by the core."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from drone_perception import mavlink_tables as T
from drone_perception.audit import autopilot_logs, checks_commands
from drone_perception.audit.series import Context, StepSeries


def test_bridge_and_audit_use_the_identical_table_objects() -> None:
    from firmware_bridge import allowlist, dialects

    for name in ("ALLOWED_MESSAGES", "ALLOWED_COMMANDS", "ACKABLE_COMMANDS", "ALLOWED_MISSION_ITEM_COMMANDS",
                 "WRITABLE_PARAMS", "VELOCITY_YAW_RATE_TYPE_MASK"):
        assert getattr(allowlist, name) is getattr(T, name), name
    for name in ("ARDUCOPTER_MODES", "ARDUPILOT", "PX4", "PX4_MAIN_MODES", "PX4_AUTO_SUB_MODES", "Dialect",
                 "dialect_for"):
        assert getattr(dialects, name) is getattr(T, name), name
    assert issubclass(allowlist.Allowlist, T.OutgoingAllowlist)
    assert allowlist.Allowlist.violation is T.OutgoingAllowlist.violation  # the rule is not overridden
    # the audit's side
    assert checks_commands.OutgoingAllowlist is T.OutgoingAllowlist
    assert checks_commands.FORBIDDEN_COMMANDS is T.FORBIDDEN_COMMANDS
    assert checks_commands.FORBIDDEN_MESSAGES is T.FORBIDDEN_MESSAGES
    assert checks_commands.ARDUPILOT is dialects.ARDUPILOT and checks_commands.PX4 is dialects.PX4
    assert autopilot_logs.ARDUPILOT is dialects.ARDUPILOT and autopilot_logs.PX4 is dialects.PX4


def test_tables_are_plain_immutable_data() -> None:
    for table in (T.ALLOWED_MESSAGES, T.ALLOWED_COMMANDS, T.ACKABLE_COMMANDS, T.ALLOWED_MISSION_ITEM_COMMANDS,
                  T.WRITABLE_PARAMS, T.FORBIDDEN_MESSAGES, T.MISSION_TYPED_MESSAGES, T.NOT_VEHICLE_TYPES):
        assert isinstance(table, frozenset)
    assert not (T.ALLOWED_MESSAGES & T.FORBIDDEN_MESSAGES)
    assert not (T.ALLOWED_COMMANDS & set(T.FORBIDDEN_COMMANDS))
    assert not (T.ACKABLE_COMMANDS & set(T.FORBIDDEN_COMMANDS))
    assert T.MISSION_TYPED_MESSAGES <= T.ALLOWED_MESSAGES


#: Our constant -> its name in the MAVLink dialect (pymavlink's ardupilotmega module).
_BY_NAME: list[tuple[int, str]] = [
    (T.MAV_CMD_DO_SET_MODE, "MAV_CMD_DO_SET_MODE"),
    (T.MAV_CMD_SET_MESSAGE_INTERVAL, "MAV_CMD_SET_MESSAGE_INTERVAL"),
    (T.MAV_CMD_REQUEST_MESSAGE, "MAV_CMD_REQUEST_MESSAGE"),
    (T.MAV_CMD_REQUEST_CAMERA_INFORMATION, "MAV_CMD_REQUEST_CAMERA_INFORMATION"),
    (T.MAV_CMD_CAMERA_TRACK_POINT, "MAV_CMD_CAMERA_TRACK_POINT"),
    (T.MAV_CMD_CAMERA_TRACK_RECTANGLE, "MAV_CMD_CAMERA_TRACK_RECTANGLE"),
    (T.MAV_CMD_CAMERA_STOP_TRACKING, "MAV_CMD_CAMERA_STOP_TRACKING"),
    (T.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION, "MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION"),
    (T.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION, "MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION"),
    (T.MAV_CMD_NAV_GUIDED_ENABLE, "MAV_CMD_NAV_GUIDED_ENABLE"),
    (T.MAV_CMD_MISSION_START, "MAV_CMD_MISSION_START"),
    (T.CMD_ARMING, "MAV_CMD_COMPONENT_ARM_DISARM"),
    (T.MAV_RESULT_ACCEPTED, "MAV_RESULT_ACCEPTED"),
    (T.MAV_FRAME_LOCAL_NED, "MAV_FRAME_LOCAL_NED"),
    (T.MAV_MISSION_TYPE_FENCE, "MAV_MISSION_TYPE_FENCE"),
    (T.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, "MAV_MODE_FLAG_CUSTOM_MODE_ENABLED"),
    (T.MAV_MODE_FLAG_SAFETY_ARMED, "MAV_MODE_FLAG_SAFETY_ARMED"),
    (T.MAV_STATE_CRITICAL, "MAV_STATE_CRITICAL"),
    (T.MAV_STATE_EMERGENCY, "MAV_STATE_EMERGENCY"),
    (T.MAV_AUTOPILOT_INVALID, "MAV_AUTOPILOT_INVALID"),
    (T.POSITION_TARGET_TYPEMASK_X_IGNORE, "POSITION_TARGET_TYPEMASK_X_IGNORE"),
    (T.POSITION_TARGET_TYPEMASK_Y_IGNORE, "POSITION_TARGET_TYPEMASK_Y_IGNORE"),
    (T.POSITION_TARGET_TYPEMASK_Z_IGNORE, "POSITION_TARGET_TYPEMASK_Z_IGNORE"),
    (T.POSITION_TARGET_TYPEMASK_AX_IGNORE, "POSITION_TARGET_TYPEMASK_AX_IGNORE"),
    (T.POSITION_TARGET_TYPEMASK_AY_IGNORE, "POSITION_TARGET_TYPEMASK_AY_IGNORE"),
    (T.POSITION_TARGET_TYPEMASK_AZ_IGNORE, "POSITION_TARGET_TYPEMASK_AZ_IGNORE"),
    (T.POSITION_TARGET_TYPEMASK_YAW_IGNORE, "POSITION_TARGET_TYPEMASK_YAW_IGNORE"),
]
#: FORBIDDEN_COMMANDS keys by their MAVLink name.
_FORBIDDEN_BY_NAME = {
    "MAV_CMD_NAV_TAKEOFF", "MAV_CMD_NAV_TAKEOFF_LOCAL", "MAV_CMD_NAV_VTOL_TAKEOFF", "MAV_CMD_NAV_GUIDED_ENABLE",
    "MAV_CMD_DO_SET_SERVO", "MAV_CMD_DO_REPEAT_SERVO", "MAV_CMD_DO_GRIPPER", "MAV_CMD_MISSION_START",
    "MAV_CMD_COMPONENT_ARM_DISARM",
}


@pytest.mark.parametrize(("value", "name"), _BY_NAME, ids=[n for _, n in _BY_NAME])
def test_ids_match_the_mavlink_dialect_by_name(value: int, name: str) -> None:
    mav2 = pytest.importorskip("pymavlink.dialects.v20.ardupilotmega")
    assert value == getattr(mav2, name)


def test_tables_match_the_mavlink_dialect() -> None:
    mav2 = pytest.importorskip("pymavlink.dialects.v20.ardupilotmega")
    assert set(T.FORBIDDEN_COMMANDS) == {getattr(mav2, n) for n in _FORBIDDEN_BY_NAME}
    messages = {cls.msgname for cls in mav2.mavlink_map.values()}
    assert messages >= T.ALLOWED_MESSAGES and messages >= T.FORBIDDEN_MESSAGES
    mav_type = mav2.enums["MAV_TYPE"]
    assert all(mav_type[k].name == f"MAV_TYPE_{v}" for k, v in T.MULTIROTOR_TYPES.items())
    assert {mav_type[k].name for k in T.NOT_VEHICLE_TYPES} == {
        "MAV_TYPE_GCS", "MAV_TYPE_ONBOARD_CONTROLLER", "MAV_TYPE_GIMBAL", "MAV_TYPE_ADSB", "MAV_TYPE_CAMERA",
        "MAV_TYPE_CHARGING_STATION", "MAV_TYPE_FLARM", "MAV_TYPE_SERVO", "MAV_TYPE_ODID"}
    assert T.AUTOPILOT_DIALECT_NAMES == {mav2.MAV_AUTOPILOT_ARDUPILOTMEGA: "ardupilot", mav2.MAV_AUTOPILOT_PX4: "px4"}


def _recorded(msg: Any) -> dict[str, Any]:
    """``msg`` as the bridge's link records it on /mavlink/out."""
    fields = {}
    for k in msg.get_fieldnames():
        v = getattr(msg, k)
        fields[k] = v.decode("ascii", errors="replace").rstrip("\x00") if isinstance(v, (bytes, bytearray)) else v
    return {"msg_type": msg.get_type(), "command": fields.get("command"), "fields": fields}


def test_audit_gives_the_bridges_verdict_on_the_same_messages() -> None:
    mav2 = pytest.importorskip("pymavlink.dialects.v20.ardupilotmega")
    from firmware_bridge.allowlist import Allowlist
    from firmware_bridge.errors import AllowlistViolation

    mav = mav2.MAVLink(None, 1, 191)
    cmd = mav.command_long_encode
    msgs = [
        mav.heartbeat_encode(18, 8, 0, 0, 4),
        mav.set_position_target_local_ned_encode(0, 1, 1, 1, T.VELOCITY_YAW_RATE_TYPE_MASK, 0, 0, 0, 1, 0, 0, 0, 0,
                                                 0, 0, 0.1),
        mav.set_position_target_local_ned_encode(0, 1, 1, 1, 0b0000_1111_1111_1000, 10, 0, -5, 0, 0, 0, 0, 0, 0, 0,
                                                 0),
        cmd(1, 1, T.MAV_CMD_SET_MESSAGE_INTERVAL, 0, 33, 1e5, 0, 0, 0, 0, 0),
        cmd(1, 1, T.MAV_CMD_DO_SET_MODE, 0, 1, 17, 0, 0, 0, 0, 0),  # ArduPilot BRAKE
        cmd(1, 1, T.MAV_CMD_DO_SET_MODE, 0, 1, 4, 3, 0, 0, 0, 0),  # PX4 Hold
        cmd(1, 1, T.MAV_CMD_DO_SET_MODE, 0, 1, 4, 0, 0, 0, 0, 0),  # ArduPilot GUIDED: refused
        cmd(1, 1, T.CMD_ARMING, 0, 1, 0, 0, 0, 0, 0, 0),
        mav.command_ack_encode(T.CMD_ARMING, T.MAV_RESULT_ACCEPTED, 0, 0, 255, 190),
        mav.command_ack_encode(T.MAV_CMD_CAMERA_TRACK_POINT, T.MAV_RESULT_ACCEPTED, 0, 0, 255, 190),
        mav.param_set_encode(1, 1, b"GUID_TIMEOUT", 0.5, 9),
        mav.param_set_encode(1, 1, b"ARMING_CHECK", 0.0, 9),
        mav.mission_count_encode(1, 1, 3, T.MAV_MISSION_TYPE_FENCE),
        mav.mission_count_encode(1, 1, 3, 0),
        mav.mission_item_int_encode(1, 1, 0, 0, 16, 0, 1, 0, 0, 0, 0, 1, 1, 10, T.MAV_MISSION_TYPE_FENCE),
        mav.set_mode_encode(1, 1, 4),
        mav.manual_control_encode(1, 500, 0, 500, 0, 0),
    ]
    bridge = Allowlist(T.ARDUPILOT.safe_mode_params | T.PX4.safe_mode_params)
    ctx = Context(meta=None, fence=None, safety=None, link=None, tethered=None, engaged=StepSeries([]),
                  engaged_source="")
    audit = checks_commands._allowlist_checker(ctx)
    verdicts = []
    for msg in msgs:
        try:
            bridge.check(msg)
            expected = None
        except AllowlistViolation as exc:
            expected = str(exc)
        assert audit(_recorded(msg)) == expected, msg.get_type()
        verdicts.append(expected is None)
    assert any(verdicts) and not all(verdicts)


def test_core_modules_import_no_shell() -> None:
    """The core (geometry, tracking, the audit, the tables) runs without the bridge, the simulator or pymavlink
    imported; the audit only loads pymavlink inside its tlog reader."""
    code = ("import sys\n"
            "import drone_perception.mavlink_tables, drone_perception.geometry, drone_perception.geometry_scalar\n"
            "import drone_perception.track.association, drone_perception.track.lock\n"
            "import drone_perception.audit.checks, drone_perception.audit.checks_commands\n"
            "import drone_perception.audit.autopilot_logs\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('firmware_bridge', 'sim', 'pymavlink'))\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
