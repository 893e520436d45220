"""Simulated MAVLink vehicle: parameters, fence upload/readback through the mission protocol, breach -> RTL."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from pymavlink.dialects.v20 import ardupilotmega as M

from sim.mavlink.fence import GeoOrigin
from sim.mavlink.ground_station import ScriptedGroundStation
from sim.mavlink.link import SimCommandRejected, SimTimeout
from sim.mavlink.params import DEFAULT_PARAMS
from sim.mavlink.vehicle import MavlinkSimVehicle

DT_S = 0.02
VEL_MASK = 0b0000_1101_1100_0111  # velocity only, yaw ignored, yaw rate 0


def _client(v: MavlinkSimVehicle, component_id: int = M.MAV_COMP_ID_MISSIONPLANNER,
            system_id: int = 255) -> ScriptedGroundStation:
    return ScriptedGroundStation(f"udpout:127.0.0.1:{v.local_address[1]}", system_id=system_id,
                                 component_id=component_id, pump=lambda: v.step(DT_S), clock=lambda: v.time_s)


@pytest.fixture
def vehicle() -> Iterator[MavlinkSimVehicle]:
    v = MavlinkSimVehicle("udpin:127.0.0.1:0", rng=np.random.default_rng(0))
    yield v
    v.close()


def _square_latlon(half_m: float, center_ne: tuple[float, float] = (0.0, 0.0)) -> list[tuple[float, float]]:
    o = GeoOrigin()
    n0, e0 = center_ne
    return [o.latlon_from_ne(n0 + dn, e0 + de) for dn, de in
            [(half_m, half_m), (half_m, -half_m), (-half_m, -half_m), (-half_m, half_m)]]


def _download_fence(gcs: ScriptedGroundStation) -> list[tuple[int, int, int, float]]:
    mav = gcs.link.mav
    fence = M.MAV_MISSION_TYPE_FENCE
    gcs.send(mav.mission_request_list_encode(1, 1, fence))
    count = gcs.recv_match("MISSION_COUNT", 5, lambda m: m.mission_type == fence).count
    out = []
    for seq in range(count):
        gcs.send(mav.mission_request_int_encode(1, 1, seq, fence))
        it = gcs.recv_match("MISSION_ITEM_INT", 5, lambda m, s=seq: m.seq == s)
        out.append((it.command, it.x, it.y, it.param1))
    return out


@pytest.mark.parametrize(("name", "value", "read_back"), [
    ("GUID_TIMEOUT", 0.5, 0.5),
    ("FENCE_ALT_MAX", 42.5, 42.5),
    ("FENCE_ENABLE", 1.4, 1.0),  # integer parameter: stored rounded, as the autopilot does
    ("RTL_ALT", 2000.0, 2000.0),
])
def test_param_set_and_read_back(vehicle: MavlinkSimVehicle, name: str, value: float, read_back: float) -> None:
    with _client(vehicle) as gcs:
        assert gcs.get_param(name, 5) == pytest.approx(DEFAULT_PARAMS[name][0])
        assert gcs.set_param(name, value, 5) == pytest.approx(read_back)
        assert gcs.get_param(name, 5) == pytest.approx(read_back)
    assert vehicle.ap.params.get(name) == pytest.approx(read_back)


def test_unknown_param_gets_no_reply(vehicle: MavlinkSimVehicle) -> None:
    with _client(vehicle) as gcs, pytest.raises(SimTimeout):
        gcs.get_param("NO_SUCH_PARAM", 0.3)


def test_param_request_list_sends_every_param_once(vehicle: MavlinkSimVehicle) -> None:
    with _client(vehicle) as gcs:
        gcs.send(gcs.link.mav.param_request_list_encode(1, 1))
        got = {}
        for _ in range(len(DEFAULT_PARAMS)):
            m = gcs.recv_match("PARAM_VALUE", 5)
            got[m.param_id] = (m.param_index, m.param_count)
    assert set(got) == set(DEFAULT_PARAMS)
    assert sorted(i for i, _ in got.values()) == list(range(len(DEFAULT_PARAMS)))
    assert {c for _, c in got.values()} == {len(DEFAULT_PARAMS)}


def test_fence_upload_reads_back_identically(vehicle: MavlinkSimVehicle) -> None:
    square = _square_latlon(30.0)
    with _client(vehicle) as gcs:
        gcs.upload_fence(square, timeout_s=5)
        items = _download_fence(gcs)
        assert gcs.get_param("FENCE_TOTAL", 5) == 4
    assert items == [(M.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION, round(la * 1e7), round(lo * 1e7), 4.0)
                     for la, lo in square]


def test_degenerate_fence_is_refused(vehicle: MavlinkSimVehicle) -> None:
    with _client(vehicle) as gcs, pytest.raises(SimCommandRejected, match="MAV_MISSION_RESULT"):
        gcs.upload_fence(_square_latlon(30.0)[:2], timeout_s=5)
    assert vehicle.ap.fence.empty


def test_arming_refused_outside_the_fence(vehicle: MavlinkSimVehicle) -> None:
    with _client(vehicle) as gcs:
        gcs.set_param("FENCE_ENABLE", 1, 5)
        gcs.upload_fence(_square_latlon(20.0, center_ne=(100.0, 0.0)), timeout_s=5)
        gcs.wait_until("gps lock", lambda: vehicle.time_s > 2.5, 5)
        gcs.set_mode("GUIDED", 5)
        gcs.heartbeat()
        assert gcs.command(M.MAV_CMD_COMPONENT_ARM_DISARM, [1], 5, check=False) == M.MAV_RESULT_FAILED
        assert "Fence" in gcs.recv_match("STATUSTEXT", 5).text
    assert not vehicle.armed


@pytest.mark.parametrize(("fence_type", "velocity_ned_mps", "breach"), [
    (4, (5.0, 0.0, 0.0), "polygon"),  # fly north out of a 60 m square
    (1, (0.0, 0.0, -2.0), "alt_max"),  # climb through FENCE_ALT_MAX = 20 m
])
def test_fence_breach_triggers_rtl_home_and_landing(vehicle: MavlinkSimVehicle, fence_type: int,
                                                    velocity_ned_mps: tuple[float, float, float],
                                                    breach: str) -> None:
    with _client(vehicle) as gcs, _client(vehicle, M.MAV_COMP_ID_ONBOARD_COMPUTER, 1) as comp:
        comp.heartbeats_enabled = False
        gcs.set_param("FENCE_ENABLE", 1, 5)
        gcs.set_param("FENCE_TYPE", fence_type, 5)
        gcs.set_param("FENCE_ALT_MAX", 20.0, 5)
        gcs.upload_fence(_square_latlon(30.0), timeout_s=5)
        gcs.operator_launch(10.0, timeout_s=10)
        t_start = vehicle.time_s
        while vehicle.mode == "GUIDED" and vehicle.time_s < t_start + 30.0:
            comp.send(comp.link.mav.set_position_target_local_ned_encode(
                0, 1, 1, M.MAV_FRAME_LOCAL_NED, VEL_MASK, 0, 0, 0, *velocity_ned_mps, 0, 0, 0, 0, 0))
            vehicle.step(DT_S)
        assert vehicle.mode == "RTL"
        text = gcs.recv_match("STATUSTEXT", 5, lambda m: "Fence" in m.text)
        assert breach in text.text and text.severity == M.MAV_SEVERITY_CRITICAL
        gcs.wait_until("RTL landed and disarmed", lambda: not vehicle.armed, timeout_s=20)
    assert np.linalg.norm(vehicle.position_ned_m[:2]) < 1.5
    assert vehicle.position_ned_m[2] == pytest.approx(0.0, abs=0.06)


def test_altitude_floor_applies_only_after_climbing_above_it(vehicle: MavlinkSimVehicle) -> None:
    """ArduCopter FENCE_ALT_MIN (FENCE_TYPE bit 8): no breach on the take-off from below the floor; once the
    vehicle has been above it, descending through it is a breach (-> RTL)."""
    with _client(vehicle) as gcs, _client(vehicle, M.MAV_COMP_ID_ONBOARD_COMPUTER, 1) as comp:
        comp.heartbeats_enabled = False
        gcs.set_param("FENCE_ENABLE", 1, 5)
        gcs.set_param("FENCE_TYPE", 8, 5)
        assert gcs.set_param("FENCE_ALT_MIN", 5.0, 5) == pytest.approx(5.0)
        gcs.operator_launch(10.0, timeout_s=10)
        assert vehicle.mode == "GUIDED" and not vehicle.ap.breached  # climbed through the floor: no breach
        t_start = vehicle.time_s
        while vehicle.mode == "GUIDED" and vehicle.time_s < t_start + 20.0:
            comp.send(comp.link.mav.set_position_target_local_ned_encode(
                0, 1, 1, M.MAV_FRAME_LOCAL_NED, VEL_MASK, 0, 0, 0, 0.0, 0.0, 1.0, 0, 0, 0, 0, 0))
            vehicle.step(DT_S)
        assert vehicle.mode == "RTL"
        assert -vehicle.position_ned_m[2] == pytest.approx(5.0, abs=0.5)  # breached at the floor, not before
        text = gcs.recv_match("STATUSTEXT", 5, lambda m: "Fence" in m.text)
        assert "alt_min" in text.text
