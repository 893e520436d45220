"""Telemetry decoding: autopilot messages -> VehicleState and extras (pure and over loopback UDP)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from fb_peers import ARMED_FLAGS, link_config, mav2, pump
from hypothesis import given
from hypothesis import strategies as st

from drone_perception.types import ModeRequest
from firmware_bridge.dialects import ARDUPILOT, PX4, dialect_for
from firmware_bridge.errors import BridgeError
from firmware_bridge.telemetry import TelemetryDecoder, quaternion_to_rpy

MAV = mav2.MAVLink(None)


@pytest.mark.parametrize(("dialect", "base", "custom", "expected"), [
    (ARDUPILOT, ARMED_FLAGS, 4, "GUIDED"),
    (ARDUPILOT, ARMED_FLAGS, 17, "BRAKE"),
    (ARDUPILOT, ARMED_FLAGS, 5, "LOITER"),
    (ARDUPILOT, ARMED_FLAGS, 99, "MODE_99"),
    (ARDUPILOT, 0, 4, "UNKNOWN"),  # custom-mode flag not set
    (PX4, ARMED_FLAGS, 6 << 16, "OFFBOARD"),
    (PX4, ARMED_FLAGS, (4 << 16) | (3 << 24), "LOITER"),
    (PX4, ARMED_FLAGS, (4 << 16) | (5 << 24), "RTL"),
    (PX4, ARMED_FLAGS, 3 << 16, "POSCTL"),
])
def test_mode_names(dialect, base, custom, expected) -> None:
    assert dialect.mode_name(base, custom) == expected


@pytest.mark.parametrize("dialect", [ARDUPILOT, PX4])
@pytest.mark.parametrize("request_", list(ModeRequest))
def test_mode_requests_land_in_safer_modes(dialect, request_) -> None:
    assert dialect.request_name(request_) in {"BRAKE", "LOITER", "RTL", "LAND"}
    assert dialect.request_name(request_) != dialect.companion_mode


def test_unknown_autopilot_is_a_config_error() -> None:
    with pytest.raises(BridgeError.__mro__[1]):  # DronePerceptionError (ConfigError)
        dialect_for("betaflight")


def test_decoder_fields_and_events() -> None:
    dec = TelemetryDecoder(ARDUPILOT)
    assert not dec.vehicle_state(True).is_finite  # nothing yet: NaN -> governor holds
    hb = MAV.heartbeat_encode(2, 3, ARMED_FLAGS, 4, 4)
    events = dec.update(hb, 1.0)
    assert {e["kind"] for e in events} == {"armed", "mode"}
    dec.update(MAV.local_position_ned_encode(0, 1.0, 2.0, -10.0, 0.5, -0.5, 0.1), 1.1)
    dec.update(MAV.attitude_encode(0, 0.1, -0.2, 3.0, 0, 0, 0), 1.1)
    dec.update(MAV.sys_status_encode(0, 0, 0, 0, 15800, 0, 76, 0, 0, 0, 0, 0, 0), 1.2)
    dec.update(MAV.home_position_encode(473977420, 85455940, 488000, 0.0, 0.0, 0.0, [1, 0, 0, 0], 0, 0, 0), 1.2)
    q = [math.cos(-0.25), 0.0, math.sin(-0.25), 0.0]  # pitch -0.5 rad (looking down)
    dec.update(MAV.gimbal_device_attitude_status_encode(0, 0, 0, 2048, q, 0, 0, 0, 0), 1.3)
    vs = dec.vehicle_state(True)
    np.testing.assert_allclose(vs.position_ned_m, [1.0, 2.0, -10.0])
    np.testing.assert_allclose(vs.velocity_ned_mps, [0.5, -0.5, 0.1], atol=1e-6)
    np.testing.assert_allclose(vs.attitude_rpy_rad, [0.1, -0.2, 3.0], atol=1e-6)
    assert vs.armed and vs.mode == "GUIDED" and vs.stamp_s == 1.1
    assert dec.battery is not None and dec.battery.voltage_v == pytest.approx(15.8)
    assert dec.battery.remaining_frac == pytest.approx(0.76)
    assert dec.home is not None and dec.home.lat_deg == pytest.approx(47.397742)
    assert dec.gimbal is not None and dec.gimbal.pitch_rad == pytest.approx(-0.5, abs=1e-6)
    assert dec.gimbal.yaw_in_earth_frame


def test_decoder_ignores_non_finite_position() -> None:
    dec = TelemetryDecoder(ARDUPILOT)
    dec.update(MAV.local_position_ned_encode(0, 1.0, 2.0, 3.0, 0, 0, 0), 1.0)
    dec.update(MAV.local_position_ned_encode(0, math.nan, 2.0, 3.0, 0, 0, 0), 2.0)
    assert dec.ignored_count == 1
    assert dec.position_stamp_s == 1.0


@given(st.floats(-math.pi + 1e-3, math.pi - 1e-3), st.floats(-1.5, 1.5), st.floats(-math.pi + 1e-3, math.pi - 1e-3))
def test_quaternion_to_rpy_roundtrip(roll, pitch, yaw) -> None:
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    q = (cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy,
         cr * cp * sy - sr * sp * cy)
    r, p, y = quaternion_to_rpy(q)
    assert p == pytest.approx(pitch, abs=1e-6)
    assert math.cos(r - roll) == pytest.approx(1.0, abs=1e-6)
    assert math.cos(y - yaw) == pytest.approx(1.0, abs=1e-6)


def test_telemetry_over_loopback(rig) -> None:
    bridge, ap = rig()
    ap.send(mav2.MAVLink_sys_status_message(0, 0, 0, 0, 16000, 0, 50, 0, 0, 0, 0, 0, 0))
    pump(bridge, 0.2)
    vs = bridge.vehicle_state(time.monotonic())
    np.testing.assert_allclose(vs.position_ned_m, ap.position_ned_m)
    np.testing.assert_allclose(vs.velocity_ned_mps, ap.velocity_ned_mps)
    assert vs.armed and vs.mode == "GUIDED" and vs.link_ok
    assert bridge.telemetry.battery is not None and bridge.telemetry.battery.remaining_frac == pytest.approx(0.5)
    # the bridge asked for the streams it needs (SET_MESSAGE_INTERVAL for LOCAL_POSITION_NED at 20 Hz)
    asks = {int(m.param1): m.param2 for m in ap.of_type("COMMAND_LONG")
            if m.command == mav2.MAV_CMD_SET_MESSAGE_INTERVAL}
    assert asks[32] == pytest.approx(50000.0)  # LOCAL_POSITION_NED every 50 ms
    assert asks[30] == pytest.approx(50000.0)  # ATTITUDE


def test_px4_offboard_mode_over_loopback(rig) -> None:
    bridge, _ap = rig(config=link_config(autopilot="px4"))
    pump(bridge, 0.1)
    assert bridge.vehicle_state(time.monotonic()).mode == "OFFBOARD"
