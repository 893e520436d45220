"""Simulated MAVLink vehicle over loopback UDP, lock-step: modes, arming rules, takeoff, GUIDED timeout."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import numpy as np
import pytest
from pymavlink.dialects.v20 import ardupilotmega as M

from sim.mavlink.autopilot import CopterMode
from sim.mavlink.ground_station import ScriptedGroundStation
from sim.mavlink.link import SimCommandRejected, SimLinkError
from sim.mavlink.vehicle import MavlinkSimVehicle

DT_S = 0.01
VEL_MASK = (M.POSITION_TARGET_TYPEMASK_X_IGNORE | M.POSITION_TARGET_TYPEMASK_Y_IGNORE
            | M.POSITION_TARGET_TYPEMASK_Z_IGNORE | M.POSITION_TARGET_TYPEMASK_AX_IGNORE
            | M.POSITION_TARGET_TYPEMASK_AY_IGNORE | M.POSITION_TARGET_TYPEMASK_AZ_IGNORE
            | M.POSITION_TARGET_TYPEMASK_YAW_IGNORE)


def _client(v: MavlinkSimVehicle, component_id: int = M.MAV_COMP_ID_MISSIONPLANNER,
            system_id: int = 255) -> ScriptedGroundStation:
    return ScriptedGroundStation(f"udpout:127.0.0.1:{v.local_address[1]}", system_id=system_id,
                                 component_id=component_id, pump=lambda: v.step(DT_S), clock=lambda: v.time_s)


@pytest.fixture
def vehicle() -> Iterator[MavlinkSimVehicle]:
    v = MavlinkSimVehicle("udpin:127.0.0.1:0", rng=np.random.default_rng(0), params={"GUID_TIMEOUT": 3.0})
    yield v
    v.close()


def test_heartbeat_identifies_an_arducopter_quad(vehicle: MavlinkSimVehicle) -> None:
    with _client(vehicle) as gcs:
        hb = gcs.wait_heartbeat(timeout_s=5)
    assert hb.type == M.MAV_TYPE_QUADROTOR
    assert hb.autopilot == M.MAV_AUTOPILOT_ARDUPILOTMEGA
    assert hb.custom_mode == CopterMode.STABILIZE
    assert hb.base_mode & M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
    assert not hb.base_mode & M.MAV_MODE_FLAG_SAFETY_ARMED
    assert hb.get_header().mlen > 0 and hb.get_msgbuf()[0] == 0xFD  # MAVLink 2 framing


@pytest.mark.parametrize(("mode", "expected"), [
    ("GUIDED", M.MAV_RESULT_ACCEPTED),
    ("LOITER", M.MAV_RESULT_ACCEPTED),
    ("BRAKE", M.MAV_RESULT_ACCEPTED),
    ("LAND", M.MAV_RESULT_ACCEPTED),
    ("RTL", M.MAV_RESULT_ACCEPTED),
    ("AUTO", M.MAV_RESULT_FAILED),  # not simulated: refused, never faked
    ("FLIP", M.MAV_RESULT_FAILED),
])
def test_mode_change_is_acked_and_reported_in_heartbeat(vehicle: MavlinkSimVehicle, mode: str,
                                                        expected: int) -> None:
    with _client(vehicle) as gcs:
        gcs.wait_until("gps lock", lambda: vehicle.time_s > 2.5, timeout_s=5)
        number = int(CopterMode[mode])
        result = gcs.command(M.MAV_CMD_DO_SET_MODE, [M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, number], 5, check=False)
        assert result == expected
        want = number if expected == M.MAV_RESULT_ACCEPTED else int(CopterMode.STABILIZE)
        hb = gcs.recv_match("HEARTBEAT", 5, lambda m: m.custom_mode == want)
    assert hb.custom_mode == want
    assert vehicle.mode == CopterMode(want).name


def test_position_mode_refused_before_gps_lock(vehicle: MavlinkSimVehicle) -> None:
    with _client(vehicle) as gcs:
        result = gcs.command(M.MAV_CMD_DO_SET_MODE, [1, int(CopterMode.GUIDED)], 5, check=False)
    assert result == M.MAV_RESULT_FAILED
    assert vehicle.mode == "STABILIZE"


def test_arming_refused_before_prearm_then_accepted(vehicle: MavlinkSimVehicle) -> None:
    with _client(vehicle) as gcs:
        gcs.heartbeat()
        early = gcs.command(M.MAV_CMD_COMPONENT_ARM_DISARM, [1], 5, check=False)
        text = gcs.recv_match("STATUSTEXT", 5)
        assert early == M.MAV_RESULT_FAILED and not vehicle.armed
        assert "PreArm" in text.text
        gcs.wait_prearm_ok(timeout_s=5)
        gcs.arm(timeout_s=5)
    assert vehicle.armed


@pytest.mark.parametrize(("component_id", "claims_gcs"), [
    (M.MAV_COMP_ID_ONBOARD_COMPUTER, True),  # the companion, even if it heartbeats as a GCS
    (M.MAV_COMP_ID_ONBOARD_COMPUTER2, True),
    (M.MAV_COMP_ID_CAMERA, False),  # never identified as a ground station
])
def test_arming_and_takeoff_refused_from_non_ground_station(vehicle: MavlinkSimVehicle, component_id: int,
                                                             claims_gcs: bool) -> None:
    with _client(vehicle) as gcs, _client(vehicle, component_id=component_id, system_id=1) as comp:
        comp.heartbeats_enabled = claims_gcs
        gcs.wait_prearm_ok(timeout_s=5)
        gcs.set_mode("GUIDED", 5)
        comp.tick()
        assert comp.command(M.MAV_CMD_COMPONENT_ARM_DISARM, [1], 5, check=False) == M.MAV_RESULT_DENIED
        assert not vehicle.armed
        gcs.arm(5)
        assert comp.command(M.MAV_CMD_NAV_TAKEOFF, [0, 0, 0, 0, 0, 0, 5], 5, check=False) == M.MAV_RESULT_DENIED
        assert comp.command(M.MAV_CMD_COMPONENT_ARM_DISARM, [0], 5, check=False) == M.MAV_RESULT_DENIED
    assert vehicle.armed and vehicle.position_ned_m[2] == pytest.approx(0.0, abs=0.06)
    assert [what for _, what, _ in vehicle.ap.forbidden_requests] == ["arm", "takeoff", "disarm"]


def test_takeoff_reaches_height_and_holds(vehicle: MavlinkSimVehicle) -> None:
    with _client(vehicle) as gcs:
        with pytest.raises(SimCommandRejected):
            gcs.takeoff(10.0, timeout_s=5)  # not armed yet
        gcs.operator_launch(10.0, timeout_s=10)
        gcs.wait_until("settled", lambda: vehicle.time_s > 15.0, timeout_s=10)
    assert vehicle.mode == "GUIDED" and vehicle.armed
    assert -vehicle.position_ned_m[2] == pytest.approx(10.0, abs=0.2)
    assert np.linalg.norm(vehicle.velocity_ned_mps) < 0.1


def test_land_descends_and_disarms(vehicle: MavlinkSimVehicle) -> None:
    with _client(vehicle) as gcs:
        gcs.operator_launch(5.0, timeout_s=10)
        gcs.set_mode("LAND", 5)
        gcs.wait_until("landed and disarmed", lambda: not vehicle.armed, timeout_s=10)
    assert vehicle.position_ned_m[2] == pytest.approx(0.0, abs=0.06)


SETTLE_S = 10.0


@pytest.mark.parametrize(("guid_timeout_s", "speed_mps"), [(3.0, 2.0), (1.0, 2.0), (3.0, 5.0)])
def test_velocity_setpoint_flown_for_guid_timeout_then_brake(guid_timeout_s: float, speed_mps: float) -> None:
    """The vehicle keeps the last setpoint for exactly GUID_TIMEOUT, then brakes: the extra distance equals
    that of the same dynamics (a copy taken when the last setpoint arrived) flown open-loop the same way."""
    with MavlinkSimVehicle("udpin:127.0.0.1:0", rng=np.random.default_rng(1),
                           params={"GUID_TIMEOUT": guid_timeout_s}) as v, _client(v) as gcs, \
            _client(v, component_id=M.MAV_COMP_ID_ONBOARD_COMPUTER, system_id=1) as comp:
        gcs.operator_launch(10.0, timeout_s=10)
        comp.heartbeats_enabled = False
        snapshot, steps_since = None, 0
        for k in range(300):  # 3 s of setpoints at 10 Hz, then the companion goes silent
            if k % 10 == 0:
                comp.send(comp.link.mav.set_position_target_local_ned_encode(
                    0, 1, 1, M.MAV_FRAME_LOCAL_NED, VEL_MASK, 0, 0, 0, speed_mps, 0, 0, 0, 0, 0, 0, 0))
            before = copy.deepcopy(v.ap.dyn)
            received = v.ap.last_setpoint_s
            v.step(DT_S)
            if v.ap.last_setpoint_s != received:
                snapshot, steps_since = before, 0
            steps_since += 1
        assert snapshot is not None
        n_total = round((guid_timeout_s + SETTLE_S) / DT_S)
        for _ in range(n_total - steps_since):
            v.step(DT_S)
        start_m = snapshot.position_ned_m
        extra_m = float(v.position_ned_m[0] - start_m[0])
        assert v.mode == "GUIDED" and v.ap.guided_timeouts == 1
        assert np.linalg.norm(v.velocity_ned_mps) < 0.05
    speed_at_last_setpoint = float(snapshot.velocity_ned_mps[0])
    sp = np.array([speed_mps, 0.0, 0.0])
    for k in range(n_total):  # open-loop oracle: setpoint for GUID_TIMEOUT, then zero
        snapshot.step(DT_S, sp if k * DT_S <= guid_timeout_s + 1e-9 else np.zeros(3), 0.0, np.zeros(3))
    expected_m = float(snapshot.position_ned_m[0] - start_m[0])
    assert extra_m == pytest.approx(expected_m, abs=speed_mps * DT_S + 1e-6)  # within one step of timing
    assert extra_m > speed_at_last_setpoint * guid_timeout_s  # a silent companion is not a stop


def test_port_in_use_is_a_clear_error(vehicle: MavlinkSimVehicle) -> None:
    port = vehicle.local_address[1]
    with pytest.raises(SimLinkError, match="in use"):
        MavlinkSimVehicle(f"udpin:127.0.0.1:{port}", rng=np.random.default_rng(0))


@pytest.mark.parametrize("url", ["tcp:127.0.0.1:5760", "udpin:127.0.0.1", "udpin:127.0.0.1:99999", "udpout:h:0"])
def test_bad_listen_url_is_a_clear_error(url: str) -> None:
    with pytest.raises(SimLinkError, match="link URL"):
        MavlinkSimVehicle(url, rng=np.random.default_rng(0))
