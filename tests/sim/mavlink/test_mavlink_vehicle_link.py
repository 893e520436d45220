"""Simulated MAVLink vehicle: signing, seeded fault injection, telemetry rates, RC channels, routing."""

from __future__ import annotations

import math
import socket

import numpy as np
import pytest
from pymavlink.dialects.v20 import ardupilotmega as M

from sim.mavlink.faults import LinkFaultConfig
from sim.mavlink.ground_station import ScriptedGroundStation
from sim.mavlink.link import SimTimeout, new_mavlink, signing_key_from_bytes
from sim.mavlink.vehicle import MavlinkSimVehicle, SimVehicleConfig

DT_S = 0.02
KEY = signing_key_from_bytes(b"correct horse battery staple")


def _vehicle(seed: int = 0, **config: object) -> MavlinkSimVehicle:
    return MavlinkSimVehicle("udpin:127.0.0.1:0", rng=np.random.default_rng(seed),
                             config=SimVehicleConfig(**config))  # type: ignore[arg-type]


def _client(v: MavlinkSimVehicle, component_id: int = M.MAV_COMP_ID_MISSIONPLANNER, system_id: int = 255,
            signing_key: bytes | None = None) -> ScriptedGroundStation:
    return ScriptedGroundStation(f"udpout:127.0.0.1:{v.local_address[1]}", system_id=system_id,
                                 component_id=component_id, signing_key=signing_key,
                                 pump=lambda: v.step(DT_S), clock=lambda: v.time_s)


@pytest.mark.parametrize(("client_key", "accepted"), [
    (KEY, True),
    (None, False),  # unsigned: refused
    (signing_key_from_bytes(b"wrong key"), False),  # badly signed: refused
], ids=["signed", "unsigned", "wrong-key"])
def test_signing_accepts_signed_and_refuses_unsigned(client_key: bytes | None, accepted: bool) -> None:
    with MavlinkSimVehicle("udpin:127.0.0.1:0", rng=np.random.default_rng(0), signing_key=KEY) as v, \
            _client(v, signing_key=client_key) as gcs:
        if client_key is None or accepted:  # a client with another key refuses the vehicle's messages too
            assert gcs.wait_heartbeat(5).get_msgbuf()[2] & M.MAVLINK_IFLAG_SIGNED  # the vehicle signs
        if accepted:
            assert gcs.command(M.MAV_CMD_DO_SET_MODE, [1, 5], 5, check=False) == M.MAV_RESULT_FAILED
            assert gcs.get_param("GUID_TIMEOUT", 5) == pytest.approx(3.0)
            assert v.signature_rejects == 0
        else:
            with pytest.raises(SimTimeout):
                gcs.command(M.MAV_CMD_DO_SET_MODE, [1, 5], 0.3)
            assert v.signature_rejects > 0
            assert "COMMAND_LONG" not in v.received_counts


@pytest.mark.parametrize("loss", [0.0, 0.1, 0.3])
def test_packet_loss_rate_matches_configuration(loss: float) -> None:
    with _vehicle(seed=3, faults=LinkFaultConfig(loss_probability=loss)) as v, _client(v) as gcs:
        v.rates.set_rate(M.MAVLINK_MSG_ID_LOCAL_POSITION_NED, 50.0, now_s=0.0)
        n_sent = 0
        n_pos = 0
        for _ in range(2000):  # 40 s of simulated time
            gcs.heartbeat()
            n_sent += 1
            v.step(DT_S)
            gcs.tick()
            while gcs._inbox:
                n_pos += gcs._inbox.pop().get_type() == "LOCAL_POSITION_NED"
        stats = v.link_stats
    n_expected = 50.0 * 40.0
    tol = 4.0 * math.sqrt(loss * (1.0 - loss) / n_expected) + 2e-3
    assert n_pos / n_expected == pytest.approx(1.0 - loss, abs=tol)  # vehicle -> client
    assert v.received_counts["HEARTBEAT"] / n_sent == pytest.approx(1.0 - loss, abs=tol)  # client -> vehicle
    assert stats.tx_dropped / stats.tx_attempted == pytest.approx(loss, abs=tol)


def test_faults_are_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[int]:
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(0.5)
        v = MavlinkSimVehicle(f"udpout:127.0.0.1:{sink.getsockname()[1]}", rng=np.random.default_rng(seed),
                              config=SimVehicleConfig(faults=LinkFaultConfig(loss_probability=0.4)))
        parser = new_mavlink(1, 0, None)
        seqs: list[int] = []
        for _ in range(100):
            v.step(DT_S)
        v.close()
        sink.setblocking(False)
        while True:
            try:
                data = sink.recv(65535)
            except BlockingIOError:
                break
            seqs += [m.get_seq() for m in parser.parse_buffer(data) or []]
        sink.close()
        return seqs

    a, b, c = run(11), run(11), run(12)
    assert a == b and len(a) > 10
    assert a != c


def test_latency_delays_both_directions() -> None:
    with _vehicle(faults=LinkFaultConfig(latency_s=0.2)) as v, _client(v) as gcs:
        t0 = v.time_s
        gcs.command(M.MAV_CMD_DO_SET_MODE, [1, 0], 5)
        rtt_s = v.time_s - t0
    assert rtt_s == pytest.approx(0.4, abs=2 * DT_S + 1e-9)


def test_link_drop_silences_the_link_for_the_window() -> None:
    with _vehicle() as v, _client(v) as gcs:
        gcs.wait_heartbeat(5)
        v.drop_link(3.0)
        t_drop = v.time_s
        gcs.latest.clear()
        gcs.wait_until("window over", lambda: v.time_s >= t_drop + 2.9, 5)
        assert "HEARTBEAT" not in gcs.latest
        hb = gcs.wait_heartbeat(5)
    assert hb is not None and v.time_s >= t_drop + 3.0


def test_gps_glitch_jumps_the_reported_position_and_blocks_arming() -> None:
    with _vehicle() as v, _client(v) as gcs:
        gcs.wait_prearm_ok(5)
        v.inject_gps_glitch((50.0, -20.0, 0.0), duration_s=2.0)
        pos = gcs.recv_match("LOCAL_POSITION_NED", 5, lambda m: m.x > 1.0)
        assert (pos.x, pos.y) == pytest.approx((50.0, -20.0), abs=0.01)
        assert np.allclose(v.position_ned_m, 0.0)  # truth did not move
        gcs.heartbeat()
        assert gcs.command(M.MAV_CMD_COMPONENT_ARM_DISARM, [1], 5, check=False) == M.MAV_RESULT_FAILED
        back = gcs.recv_match("LOCAL_POSITION_NED", 5, lambda m: abs(m.x) < 1.0)
    assert back.x == pytest.approx(0.0, abs=0.01)


@pytest.mark.parametrize(("msg_id", "rate_hz"), [
    (M.MAVLINK_MSG_ID_ATTITUDE, 20.0),
    (M.MAVLINK_MSG_ID_GLOBAL_POSITION_INT, 10.0),
    (M.MAVLINK_MSG_ID_RC_CHANNELS, 5.0),
    (M.MAVLINK_MSG_ID_HOME_POSITION, 0.0),
])
def test_set_message_interval_sets_the_stream_rate(msg_id: int, rate_hz: float) -> None:
    name = M.mavlink_map[msg_id].msgname
    with _vehicle() as v, _client(v) as gcs:
        gcs.set_message_interval(msg_id, rate_hz, 5)
        gcs.tick()
        gcs._inbox.clear()
        t0 = v.time_s
        n = 0
        while v.time_s < t0 + 4.0 - 1e-9:
            v.step(DT_S)
            gcs.tick()
            while gcs._inbox:
                n += gcs._inbox.pop().get_type() == name
    assert abs(n - rate_hz * 4.0) <= 1


def test_rc_channels_report_switches_and_expiring_overrides() -> None:
    with _vehicle(seed=0) as v, _client(v) as gcs:
        v.set_rc_channel(7, 1900)  # the dead-man switch on the transmitter
        gcs.rc_override({8: 1200})
        rc = gcs.recv_match("RC_CHANNELS", 5, lambda m: m.chan8_raw == 1200)
        assert rc.chan7_raw == 1900 and rc.chan1_raw == 1500
        v.set_rc_channel(7, 1100)
        rc = gcs.recv_match("RC_CHANNELS", 5, lambda m: m.chan7_raw == 1100)
        t0 = v.time_s
        rc = gcs.recv_match("RC_CHANNELS", 10, lambda m: m.chan8_raw == 1500)  # RC_OVERRIDE_TIME = 3 s
    assert v.time_s - t0 == pytest.approx(3.0, abs=0.6)


def test_vehicle_routes_between_ground_station_and_companion() -> None:
    with _vehicle() as v, _client(v) as gcs, _client(v, M.MAV_COMP_ID_ONBOARD_COMPUTER, 1) as comp:
        comp.target_system, comp.heartbeats_enabled = 255, False  # listen to the GCS through the vehicle
        comp.heartbeat()  # registers the companion as a peer of the vehicle
        gcs.send(gcs.link.mav.command_long_encode(1, M.MAV_COMP_ID_CAMERA, M.MAV_CMD_CAMERA_STOP_TRACKING,
                                                  0, 0, 0, 0, 0, 0, 0, 0))
        gcs.heartbeat()
        cmd = comp.recv_match("COMMAND_LONG", 5)
        hb = comp.recv_match("HEARTBEAT", 5)
    assert hb.type == M.MAV_TYPE_GCS
    assert cmd.command == M.MAV_CMD_CAMERA_STOP_TRACKING and cmd.target_component == M.MAV_COMP_ID_CAMERA
    assert "COMMAND_ACK" not in gcs.latest  # the autopilot does not answer for the camera


def test_malformed_datagrams_are_ignored() -> None:
    with _vehicle() as v, _client(v) as gcs:
        gcs.link.send_bytes(b"\xfd\x09garbage" + bytes(range(40)), ("127.0.0.1", v.local_address[1]))
        gcs.link.send_bytes(b"\x00" * 7, ("127.0.0.1", v.local_address[1]))
        for _ in range(5):
            v.step(DT_S)
        assert gcs.get_param("GUID_TIMEOUT", 5) == pytest.approx(3.0)
