"""Charter item 4 at the wire: each SafeCommand sent once, expired never, a stall ends in one hold."""

from __future__ import annotations

import time

import numpy as np
import pytest
from fb_peers import ARDU_BRAKE, engaged_rig, link_config, mav2, pump, safe_command, setpoints

from drone_perception.types import ModeRequest
from firmware_bridge.bridge import MavlinkBridge, StallWatchdog
from firmware_bridge.errors import BridgeError


def _set_mode_requests(ap) -> list[tuple[float, float, float]]:
    return [(m.param1, m.param2, m.param3) for m in ap.of_type("COMMAND_LONG")
            if m.command == mav2.MAV_CMD_DO_SET_MODE]


def test_each_command_is_sent_exactly_once(rig, gcs_factory) -> None:
    bridge, ap, gcs = engaged_rig(rig, gcs_factory)
    sent = [(0.1 * i, -0.05 * i, 0.0, 0.01 * i) for i in range(1, 11)]
    for vx, vy, vz, yr in sent:
        now = time.monotonic()
        assert bridge.send(safe_command(now, (vx, vy, vz), yr), now)
        bridge.poll(now, timeout_s=0.01)
    pump(bridge, 0.2, gcs)
    got = setpoints(ap)
    assert len(got) == len(sent)
    np.testing.assert_allclose(np.array(got), np.array(sent), atol=1e-6)  # float32 on the wire, in order
    m = ap.of_type("SET_POSITION_TARGET_LOCAL_NED")[0]
    assert m.coordinate_frame == mav2.MAV_FRAME_LOCAL_NED
    assert m.type_mask == 1479  # velocity + yaw rate only


def test_expired_command_is_refused(rig, gcs_factory, recorder) -> None:
    bridge, ap, gcs = engaged_rig(rig, gcs_factory)
    now = time.monotonic()
    stale = safe_command(now - 1.0, (1.0, 0.0, 0.0), ttl_s=0.2)
    exactly_at_expiry = safe_command(now - 0.2, (1.0, 0.0, 0.0), ttl_s=0.2)
    assert not bridge.send(stale, now)
    assert not bridge.send(exactly_at_expiry, now)
    pump(bridge, 0.15, gcs)
    assert setpoints(ap) == []
    assert bridge.refused_expired == 2
    assert not [m for m in recorder.topic("/mavlink/out") if m["msg_type"] == "SET_POSITION_TARGET_LOCAL_NED"]


def test_moving_command_refused_when_not_engaged_but_hold_is_sent(rig) -> None:
    bridge, ap = rig()
    now = time.monotonic()
    assert not bridge.send(safe_command(now, (1.0, 0.0, 0.0)), now)
    assert not bridge.send(safe_command(now, (0.0, 0.0, 0.0), yaw_rate_radps=0.3), now)
    assert bridge.send(safe_command(now, (0.0, 0.0, 0.0)), now)  # holds stream (PX4 pre-OFFBOARD needs them)
    pump(bridge, 0.1)
    assert setpoints(ap) == [(0.0, 0.0, 0.0, 0.0)]


@pytest.mark.parametrize(("autopilot", "expected_mode"), [
    ("ardupilot", (1.0, float(ARDU_BRAKE), 0.0)),
    ("px4", (1.0, 4.0, 3.0)),  # AUTO / LOITER = Hold
])
def test_stall_sends_one_hold_then_brake_and_then_nothing(rig, gcs_factory, autopilot, expected_mode) -> None:
    cfg = link_config(autopilot=autopilot)
    bridge, ap, gcs = engaged_rig(rig, gcs_factory, config=cfg)
    for _ in range(5):
        now = time.monotonic()
        assert bridge.send(safe_command(now, (1.5, 0.0, 0.0)), now)
        pump(bridge, 0.05, gcs)
    # the pipeline stops here; the owner's loop keeps polling and checking for a stall
    end = time.monotonic() + 0.6
    acted = 0
    while time.monotonic() < end:
        now = time.monotonic()
        bridge.poll(now, timeout_s=0.01)
        acted += bridge.check_stall(now)
    pump(bridge, 0.1, gcs)
    assert acted == 1
    got = setpoints(ap)
    assert got[:5] == [(1.5, 0.0, 0.0, 0.0)] * 5
    assert got[5:] == [(0.0, 0.0, 0.0, 0.0)]  # exactly one hold, no re-sent velocity
    assert _set_mode_requests(ap) == [expected_mode]
    assert not bridge.engagement.following


def test_watchdog_thread_catches_a_hung_owner(rig, gcs_factory) -> None:
    bridge, ap, gcs = engaged_rig(rig, gcs_factory)
    now = time.monotonic()
    assert bridge.send(safe_command(now, (1.0, 0.5, 0.0)), now)
    with StallWatchdog(bridge):
        time.sleep(0.4)  # the owner's loop is hung: no poll, no send
    got = setpoints(ap)
    deadline = time.monotonic() + 1.0
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
        got = setpoints(ap)
    assert got == [(1.0, 0.5, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0)]
    assert _set_mode_requests(ap) == [(1.0, float(ARDU_BRAKE), 0.0)]
    del gcs


def test_no_stall_action_before_any_command(rig) -> None:
    bridge, ap = rig()
    assert not bridge.check_stall(time.monotonic() + 10.0)
    pump(bridge, 0.05)
    assert setpoints(ap) == []


def test_mode_request_is_forwarded_and_rate_limited(rig, gcs_factory) -> None:
    bridge, ap, gcs = engaged_rig(rig, gcs_factory)
    for _ in range(5):
        now = time.monotonic()
        bridge.send(safe_command(now, (0.0, 0.0, 0.0), mode_request=ModeRequest.LOITER), now)
        bridge.poll(now, timeout_s=0.02)
    pump(bridge, 0.1, gcs)
    assert _set_mode_requests(ap) == [(1.0, 5.0, 0.0)]
    assert bridge.telemetry.mode == "LOITER"  # the peer applied it; the bridge saw it in the HEARTBEAT


@pytest.mark.parametrize(("period_s", "stall_s"), [(0.05, 0.05), (0.05, 0.01), (0.0, None), (1.0, None)])
def test_bad_timing_settings_rejected(rig, period_s, stall_s) -> None:
    bridge, _ap = rig(connect=False)
    with pytest.raises(BridgeError):
        MavlinkBridge(bridge.link, bridge.dialect, bridge._deadman, setpoint_period_s=period_s,
                      stall_timeout_s=stall_s)


def test_no_second_hold_after_a_disengage(rig, gcs_factory) -> None:
    """A disengage sends its one hold; the stall watchdog must not add another hold + BRAKE afterwards."""
    bridge, ap, gcs = engaged_rig(rig, gcs_factory)
    now = time.monotonic()
    assert bridge.send(safe_command(now, (1.0, 0.0, 0.0)), now)
    bridge.disengage(now, "operator disengaged")
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        t = time.monotonic()
        bridge.poll(t, timeout_s=0.01)
        assert not bridge.check_stall(t)
    pump(bridge, 0.1, gcs)
    assert setpoints(ap) == [(1.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0)]
    assert _set_mode_requests(ap) == []
