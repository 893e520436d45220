"""Malformed MAVLink (issue 13 item 1): garbled datagrams from the vehicle are dropped by the checksum or rejected
by the bridge's telemetry decoder, and a campaign case with the fault on the MAVLink loop stays safe."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pymavlink.dialects.v20 import ardupilotmega as M

from firmware_bridge.dialects import ARDUPILOT
from firmware_bridge.telemetry import TelemetryDecoder
from sim.campaign.family import MAVLINK_FAULTS, NOMINAL, Case
from sim.mavlink.faults import STATE_REPORTS, Malformation
from sim.runners.campaign_case import run_case


def _mav() -> M.MAVLink:
    mav = M.MAVLink(None, srcSystem=1, srcComponent=1)
    mav.robust_parsing = True  # as mavutil's connections parse (the bridge's): a bad frame becomes BAD_DATA
    return mav


def _position() -> M.MAVLink_local_position_ned_message:
    return M.MAVLink_local_position_ned_message(1000, 1.0, 2.0, -10.0, 0.5, 0.0, 0.0)


def test_flipped_bytes_fail_the_checksum_and_garbled_values_arrive_in_valid_frames() -> None:
    sender = _mav()
    m = Malformation(0.0, 10.0, 1.0, np.random.default_rng(5))
    kinds = {"bad": 0, "garbled": 0, "intact": 0}
    for _ in range(400):
        data = m.garble(_position(), lambda msg: msg.pack(sender))
        assert data is not None  # probability 1: every datagram is garbled
        # a fresh parser per datagram: a flipped length byte makes a stream parser wait for (and then swallow) the
        # next datagram's bytes, as pymavlink's UDP connections do; that cost is the loss of one more report
        got = _mav().parse_buffer(data) or []
        if not got or got[0].get_type() != "LOCAL_POSITION_NED":  # BAD_DATA, or an id flipped to an unknown one
            kinds["bad"] += 1
            continue
        msg = got[0]
        values = [msg.x, msg.y, msg.z, msg.vx, msg.vy, msg.vz, msg.time_boot_ms]
        intact = values == pytest.approx([1.0, 2.0, -10.0, 0.5, 0.0, 0.0, 1000])
        kinds["intact" if intact else "garbled"] += 1
    assert m.garbled_values + m.garbled_bytes == 400
    assert kinds["garbled"] == m.garbled_values > 100 and kinds["bad"] >= 0.9 * m.garbled_bytes
    assert m.garbled_bytes > 100
    assert "LOCAL_POSITION_NED" in STATE_REPORTS


def test_the_decoder_rejects_garbled_state_and_keeps_the_last_good_one() -> None:
    dec = TelemetryDecoder(ARDUPILOT)
    dec.update(_position(), 1.0)
    bad = _position()
    bad.z = math.nan
    dec.update(bad, 1.1)
    assert dec.ignored_count == 1 and dec.position_ned_m.tolist() == [1.0, 2.0, -10.0] and dec.position_stamp_s == 1.0
    home = M.MAVLink_home_position_message(473_977_420, 85_455_940, 488_000, 0.0, 0.0, 0.0, [1, 0, 0, 0], 0, 0, 0)
    dec.update(home, 1.2)
    garbled = M.MAVLink_home_position_message(473_977_420, 85_455_940, 488_000, math.inf, 0.0, 0.0, [1, 0, 0, 0],
                                              0, 0, 0)
    dec.update(garbled, 1.3)
    assert dec.home is not None and dec.home.position_ned_m == (0.0, 0.0, 0.0) and dec.ignored_count == 2


@pytest.mark.slow
def test_a_mavlink_case_with_malformed_telemetry_stays_safe_and_replays() -> None:
    u = (MAVLINK_FAULTS.index("malformed_mavlink") + 0.5) / len(MAVLINK_FAULTS)
    case = Case("walk", 7, {**NOMINAL, "fault": u, "fault_onset_s": 5.0, "fault_duration_s": 6.0,
                            "fault_magnitude": 1.0}, "mavlink")
    row = run_case(case, "t")
    assert row["fault"] == "malformed_mavlink"
    assert row["margins"]["standoff_m"] > 0 and row["margins"]["fence_m"] > 0
    assert row["margins"]["disengaged_commands"] == 0 and row["motion_commands"] > 100
    assert run_case(case, "t")["trace_hash"] == row["trace_hash"]
