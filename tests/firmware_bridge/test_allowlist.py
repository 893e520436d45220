"""Charter item 6: only allowlisted messages and commands can leave the bridge; a whole session is checked."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from fb_peers import engaged_rig, mav2, pump, safe_command

from drone_perception.config.safety import FenceConfig
from drone_perception.types import ModeRequest
from firmware_bridge.allowlist import ALLOWED_COMMANDS, ALLOWED_MESSAGES, Allowlist
from firmware_bridge.dialects import ARDUPILOT, PX4
from firmware_bridge.errors import AllowlistViolation

MAV = mav2.MAVLink(None, 1, 191)

#: Every command the vehicle must never receive from the companion (ids from pymavlink).
FORBIDDEN_COMMANDS = [
    mav2.MAV_CMD_COMPONENT_ARM_DISARM, mav2.MAV_CMD_NAV_TAKEOFF, mav2.MAV_CMD_NAV_TAKEOFF_LOCAL,
    mav2.MAV_CMD_NAV_VTOL_TAKEOFF, mav2.MAV_CMD_DO_SET_SERVO, mav2.MAV_CMD_DO_REPEAT_SERVO,
    mav2.MAV_CMD_DO_SET_RELAY, mav2.MAV_CMD_DO_REPEAT_RELAY, mav2.MAV_CMD_DO_GRIPPER, mav2.MAV_CMD_DO_PARACHUTE,
    mav2.MAV_CMD_DO_SET_ACTUATOR, mav2.MAV_CMD_DO_WINCH, mav2.MAV_CMD_PAYLOAD_PREPARE_DEPLOY,
    mav2.MAV_CMD_PAYLOAD_CONTROL_DEPLOY, mav2.MAV_CMD_DO_FLIGHTTERMINATION, mav2.MAV_CMD_DO_MOUNT_CONTROL,
    mav2.MAV_CMD_NAV_WAYPOINT, mav2.MAV_CMD_DO_REPOSITION, mav2.MAV_CMD_MISSION_START, mav2.MAV_CMD_NAV_LAND,
    mav2.MAV_CMD_DO_SET_HOME, mav2.MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN, mav2.MAV_CMD_DO_MOTOR_TEST,
    mav2.MAV_CMD_DO_ENGINE_CONTROL, mav2.MAV_CMD_DO_FENCE_ENABLE, mav2.MAV_CMD_DO_FOLLOW,
]

POS_MASK = 0b0000_1111_1111_1000  # position setpoint: velocity/accel/yaw ignored

FORBIDDEN_MESSAGES = [
    ("SET_MODE", MAV.set_mode_encode(1, 1, 4)),
    ("MANUAL_CONTROL", MAV.manual_control_encode(1, 500, 0, 500, 0, 0)),
    ("RC_CHANNELS_OVERRIDE", MAV.rc_channels_override_encode(1, 1, *([1500] * 8))),
    ("SET_ACTUATOR_CONTROL_TARGET", MAV.set_actuator_control_target_encode(0, 0, 1, 1, [0.0] * 8)),
    ("SET_ATTITUDE_TARGET", MAV.set_attitude_target_encode(0, 1, 1, 0, [1, 0, 0, 0], 0, 0, 0, 0.5)),
    ("SET_POSITION_TARGET_GLOBAL_INT", MAV.set_position_target_global_int_encode(
        0, 1, 1, 6, 1479, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0)),
    ("position setpoint", MAV.set_position_target_local_ned_encode(
        0, 1, 1, 1, POS_MASK, 10.0, 0.0, -5.0, 0, 0, 0, 0, 0, 0, 0, 0)),
    ("body-frame setpoint", MAV.set_position_target_local_ned_encode(
        0, 1, 1, mav2.MAV_FRAME_BODY_OFFSET_NED, 1479, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0)),
    ("MISSION_ITEM (legacy)", MAV.mission_item_encode(1, 1, 0, 0, 16, 0, 1, 0, 0, 0, 0, 47.0, 8.0, 10.0, 0)),
    ("mission upload", MAV.mission_count_encode(1, 1, 3, mav2.MAV_MISSION_TYPE_MISSION)),
    ("waypoint in fence", MAV.mission_item_int_encode(1, 1, 0, 0, 16, 0, 1, 0, 0, 0, 0, 1, 1, 10, 1)),
    ("PARAM_SET ARMING_CHECK", MAV.param_set_encode(1, 1, b"ARMING_CHECK", 0.0, 9)),
    ("PARAM_SET FENCE_ACTION", MAV.param_set_encode(1, 1, b"FENCE_ACTION", 0.0, 9)),
    ("COMMAND_INT", MAV.command_int_encode(1, 1, 0, 192, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
    ("FILE_TRANSFER_PROTOCOL", MAV.file_transfer_protocol_encode(0, 1, 1, [0] * 251)),
    ("ACK accepting an arm", MAV.command_ack_encode(400, mav2.MAV_RESULT_ACCEPTED, 0, 0, 255, 190)),
]


def _cmd(command: int, *params: float):
    p = list(params) + [0.0] * (7 - len(params))
    return MAV.command_long_encode(1, 1, command, 0, *p)


@pytest.mark.parametrize("command", FORBIDDEN_COMMANDS)
@pytest.mark.parametrize("dialect", [ARDUPILOT, PX4], ids=["ardupilot", "px4"])
def test_forbidden_commands_refused(dialect, command) -> None:
    with pytest.raises(AllowlistViolation, match=str(command)):
        Allowlist(dialect.safe_mode_params).check(_cmd(command, 1.0))


@pytest.mark.parametrize(("name", "msg"), FORBIDDEN_MESSAGES, ids=[n for n, _ in FORBIDDEN_MESSAGES])
def test_forbidden_messages_refused(name, msg) -> None:
    with pytest.raises(AllowlistViolation):
        Allowlist(ARDUPILOT.safe_mode_params).check(msg)


@pytest.mark.parametrize(("dialect", "params", "allowed"), [
    (ARDUPILOT, (1, 4, 0), False),  # GUIDED: an autonomous mode the pilot must select
    (ARDUPILOT, (1, 3, 0), False),  # AUTO
    (ARDUPILOT, (1, 0, 0), False),  # STABILIZE
    (ARDUPILOT, (1, 17, 0), True),  # BRAKE
    (ARDUPILOT, (1, 5, 0), True),  # LOITER
    (ARDUPILOT, (1, 6, 0), True),  # RTL
    (ARDUPILOT, (1, 9, 0), True),  # LAND
    (ARDUPILOT, (1, 17.0001, 0), True),
    (ARDUPILOT, (1, float("nan"), 0), False),
    (PX4, (1, 6, 0), False),  # OFFBOARD
    (PX4, (1, 4, 4), False),  # AUTO.MISSION
    (PX4, (1, 4, 2), False),  # AUTO.TAKEOFF
    (PX4, (1, 4, 3), True),  # AUTO.LOITER (Hold)
    (PX4, (1, 4, 5), True),  # AUTO.RTL
])
def test_set_mode_only_to_safer_modes(dialect, params, allowed) -> None:
    msg = _cmd(mav2.MAV_CMD_DO_SET_MODE, *params)
    if allowed:
        Allowlist(dialect.safe_mode_params).check(msg)
    else:
        with pytest.raises(AllowlistViolation):
            Allowlist(dialect.safe_mode_params).check(msg)


def test_refused_command_never_reaches_the_wire(rig, recorder) -> None:
    bridge, ap = rig()
    n_out = len(recorder.topic("/mavlink/out"))
    for command in FORBIDDEN_COMMANDS:
        with pytest.raises(AllowlistViolation):
            bridge.link.command_long(command, (1.0,), time.monotonic())
    pump(bridge, 0.1)
    assert not [m for m in ap.of_type("COMMAND_LONG") if m.command in FORBIDDEN_COMMANDS]
    assert len(recorder.topic("/mavlink/out")) == n_out + sum(1 for m in recorder.topic("/mavlink/out")[n_out:]
                                                               if m["msg_type"] == "HEARTBEAT")


def test_source_never_spells_forbidden_constants() -> None:
    root = Path(__file__).parents[2]
    pattern = re.compile(r"MAV_CMD_\w*(ARM_DISARM|TAKEOFF|SERVO|GRIPPER|PARACHUTE|RELAY|ACTUATOR|PAYLOAD|WINCH|"
                         r"FLIGHTTERMINATION)|COMPONENT_ARM_DISARM|NAV_TAKEOFF|DO_SET_SERVO|DO_GRIPPER|DO_PARACHUTE")
    # the bridge's own modules and the table module it imports its allowlist from
    sources = [*sorted((root / "firmware_bridge").glob("*.py")), root / "drone_perception" / "mavlink_tables.py"]
    hits = [f"{p.name}:{i}" for p in sources
            for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []


def test_whole_session_sends_only_allowlisted_messages(rig, gcs_factory, recorder) -> None:
    """Connect, set the timeout, upload the fence, engage, follow, get a track command, stall, disengage:
    record everything the bridge sent and check each against the allowlist."""

    class Handler:
        def on_track_point(self, u: float, v: float) -> tuple[bool, str]:
            return True, "locked"

        def on_track_rectangle(self, *a: float) -> tuple[bool, str]:
            return False, "no person in the box"

        def on_stop_tracking(self) -> tuple[bool, str]:
            return True, "released"

    bridge, ap, gcs = engaged_rig(rig, gcs_factory, handler=Handler())
    bridge.configure_command_timeout(0.5, timeout_s=2.0)
    bridge.upload_fence(FenceConfig(), timeout_s=3.0)
    gcs.command(mav2.MAV_CMD_REQUEST_MESSAGE, mav2.MAVLINK_MSG_ID_CAMERA_INFORMATION)
    gcs.command(mav2.MAV_CMD_CAMERA_TRACK_POINT, 0.4, 0.6)
    gcs.command(mav2.MAV_CMD_CAMERA_TRACK_RECTANGLE, 0.1, 0.1, 0.2, 0.3)
    gcs.command(mav2.MAV_CMD_COMPONENT_ARM_DISARM, 1.0, target_component=191)
    for i in range(20):
        now = time.monotonic()
        mode = ModeRequest.LOITER if i == 10 else None
        bridge.send(safe_command(now, (0.1 * i, 0.0, -0.1), 0.05, mode_request=mode), now)
        pump(bridge, 0.03, gcs)
    bridge.camera.publish_image_status(time.monotonic(), (0.3, 0.4, 0.5, 0.8))
    bridge.camera.publish_image_status(time.monotonic(), None)
    for _ in range(20):
        now = time.monotonic()
        bridge.poll(now, timeout_s=0.01)
        bridge.check_stall(now)
    bridge.disengage(time.monotonic())
    pump(bridge, 0.1, gcs)

    out = recorder.topic("/mavlink/out")
    kinds = {m["msg_type"] for m in out}
    assert kinds <= ALLOWED_MESSAGES
    commands = {m["fields"]["command"] for m in out if m["msg_type"] == "COMMAND_LONG"}
    assert commands <= ALLOWED_COMMANDS
    assert not (commands & set(FORBIDDEN_COMMANDS))
    # the session exercised the interesting kinds
    assert {"HEARTBEAT", "SET_POSITION_TARGET_LOCAL_NED", "COMMAND_LONG", "PARAM_SET", "MISSION_ITEM_INT",
            "COMMAND_ACK", "CAMERA_INFORMATION", "CAMERA_TRACKING_IMAGE_STATUS", "STATUSTEXT"} <= kinds
    # what the autopilot actually received matches what was recorded (nothing bypassed the recorder)
    with ap._lock:
        wire_kinds = {m.get_type() for _, m in ap.received}
    assert wire_kinds <= kinds
    acks = [m["fields"] for m in out if m["msg_type"] == "COMMAND_ACK"]
    assert all(a["result"] != mav2.MAV_RESULT_ACCEPTED for a in acks if a["command"] == 400)
