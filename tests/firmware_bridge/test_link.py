"""Link: connection strings, link-loss detection time, dead vehicle, busy port, malformed input."""

from __future__ import annotations

import socket
import time

import pytest
from fb_peers import link_config, mav2, pump

from firmware_bridge.allowlist import Allowlist
from firmware_bridge.bridge import MavlinkBridge
from firmware_bridge.dialects import ARDUPILOT
from firmware_bridge.errors import BridgeError, LinkTimeout
from firmware_bridge.link import MavlinkLink, parse_connection


@pytest.mark.parametrize(("connection", "error"), [
    ("udpin:127.0.0.1:0", None),
    ("udpout:127.0.0.1:14550", None),
    ("tcp:127.0.0.1:5760", None),
    ("serial:/dev/ttyACM0:921600", None),
    ("/dev/ttyUSB0", None),
    ("udpin:127.0.0.1", BridgeError),
    ("udpout:127.0.0.1:0", BridgeError),
    ("tcp:host:99999", BridgeError),
    ("carrier-pigeon:home", BridgeError),
    ("", BridgeError),
])
def test_parse_connection(connection, error) -> None:
    if error is None:
        device, _ = parse_connection(connection)
        assert device
    else:
        with pytest.raises(error):
            parse_connection(connection)


def test_serial_baud_is_parsed() -> None:
    assert parse_connection("serial:/dev/ttyACM0:921600") == ("/dev/ttyACM0", {"baud": 921600})


def test_port_in_use_is_a_clear_bridge_error() -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as pymavlink / MAVProxy bind
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    try:
        with pytest.raises(BridgeError, match="already in use"):
            MavlinkLink.open(f"udpin:127.0.0.1:{port}", allowlist=Allowlist(ARDUPILOT.safe_mode_params))
    finally:
        holder.close()


def test_tcp_refused_is_a_bridge_error() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(BridgeError, match="cannot open"):
        MavlinkLink.open(f"tcp:127.0.0.1:{port}", allowlist=Allowlist(ARDUPILOT.safe_mode_params))


def test_vehicle_that_never_answers_raises_link_timeout() -> None:
    bridge = MavlinkBridge.open(link_config())
    try:
        t0 = time.monotonic()
        with pytest.raises(LinkTimeout, match="HEARTBEAT"):
            bridge.connect(timeout_s=0.3)
        assert time.monotonic() - t0 < 1.0
        assert not bridge.vehicle_state(time.monotonic()).link_ok
    finally:
        bridge.close()


def test_link_loss_detected_within_one_second(rig) -> None:
    """The autopilot goes silent right after a heartbeat; measure the detection delay."""
    bridge, ap = rig(peer={"heartbeat_hz": 1.0, "telemetry_hz": 20.0})
    pump(bridge, 0.3)
    assert bridge.vehicle_state(time.monotonic()).link_ok
    n = len(ap.heartbeats_sent)
    deadline = time.monotonic() + 2.0
    while len(ap.heartbeats_sent) == n and time.monotonic() < deadline:  # wait for a fresh heartbeat
        bridge.poll(time.monotonic(), timeout_s=0.005)
    ap.streaming.clear()
    last_hb = ap.heartbeats_sent[-1]
    detected = None
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        now = time.monotonic()
        if not bridge.poll(now, timeout_s=0.005).link_ok:
            detected = now
            break
    assert detected is not None, "link loss never detected"
    delay_hb = detected - last_hb
    delay_msg = detected - bridge.link.last_message_s
    print(f"link loss detected {delay_hb * 1000:.0f} ms after the last heartbeat, "
          f"{delay_msg * 1000:.0f} ms after the last autopilot message")
    assert delay_hb < 1.0
    events = [e for e in bridge._recorder.topic("/autopilot/events") if e["kind"] == "link"]  # type: ignore[attr-defined]
    assert events[-1]["ok"] is False


def test_heartbeat_only_link_uses_the_heartbeat_timeout(rig) -> None:
    """Without the streams, a 5 Hz heartbeat alone keeps the link up (no silence rule before connect)."""
    bridge, _ap = rig(connect=False, peer={"heartbeat_hz": 5.0, "telemetry_hz": 0.0})
    bridge.link.wait_heartbeat(2.0)
    pump(bridge, 0.6)
    assert bridge.vehicle_state(time.monotonic()).link_ok


MALFORMED = [
    b"\x00\x01\x02garbage" * 10,
    bytes([0xFD, 9, 0, 0, 0, 1, 1, 0, 0, 0]) + b"\x00" * 9 + b"\xde\xad",  # heartbeat with a bad CRC
    bytes([0xFD, 200, 0, 0, 0, 1, 1]),  # truncated header claiming 200 bytes
    bytes([0xFE, 9, 0, 1, 1, 0]) + b"\xff" * 11,  # MAVLink 1 with wrong CRC
    bytes([0xFD, 4, 0, 0, 0, 1, 1, 0xFF, 0xFF, 0xFF]) + b"\x01\x02\x03\x04\x00\x00",  # unknown id 0xFFFFFF
]


@pytest.mark.parametrize("blob", MALFORMED)
def test_malformed_input_is_ignored(rig, blob) -> None:
    bridge, ap = rig()
    before = bridge.link.malformed_count
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _ in range(3):
            raw.sendto(blob, bridge.link.local_address)
        pump(bridge, 0.15)
    finally:
        raw.close()
    assert bridge.vehicle_state(time.monotonic()).link_ok  # still alive and decoding
    assert bridge.link.malformed_count >= before
    # and the link still works for well-formed traffic afterwards
    ap.send(mav2.MAVLink_sys_status_message(0, 0, 0, 0, 12000, 0, 20, 0, 0, 0, 0, 0, 0))
    pump(bridge, 0.1)
    assert bridge.telemetry.battery is not None and bridge.telemetry.battery.remaining_frac == pytest.approx(0.2)


def test_a_truncated_datagram_does_not_swallow_the_next_good_messages(rig) -> None:
    """A UDP datagram that ends inside a frame (header claiming 200 bytes) is dropped at the datagram boundary;
    kept in the parser it would absorb the autopilot's next datagrams as that frame's payload."""
    bridge, ap = rig()
    before = bridge.link.malformed_count
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        raw.sendto(bytes([0xFD, 200, 0, 0, 0, 1, 1]), bridge.link.local_address)
        time.sleep(0.02)  # the truncated datagram is queued first
        ap.send(mav2.MAVLink_sys_status_message(0, 0, 0, 0, 12000, 0, 20, 0, 0, 0, 0, 0, 0))
        time.sleep(0.02)
        pump(bridge, 0.05)
    finally:
        raw.close()
    assert bridge.telemetry.battery is not None and bridge.telemetry.battery.remaining_frac == pytest.approx(0.2)
    assert bridge.link.malformed_count > before


def test_unexpected_messages_are_ignored(rig) -> None:
    bridge, ap = rig()
    ap.send(mav2.MAVLink_vfr_hud_message(1.0, 2.0, 90, 50, 10.0, 0.0))
    ap.send(mav2.MAVLink_mission_item_reached_message(3))
    ap.send(mav2.MAVLink_command_ack_message(400, 0))  # an ACK for something the bridge never sent
    pump(bridge, 0.1)
    assert bridge.vehicle_state(time.monotonic()).link_ok


def test_companion_heartbeat_is_an_onboard_controller(rig) -> None:
    bridge, ap = rig()
    pump(bridge, 0.1)
    hb = ap.wait_for(lambda m: m.get_type() == "HEARTBEAT" and m.get_srcComponent() == 191)
    assert hb.type == mav2.MAV_TYPE_ONBOARD_CONTROLLER and hb.autopilot == mav2.MAV_AUTOPILOT_INVALID
    assert bridge.link.target_system == 1 and bridge.link.target_component == 1
