"""The full MAVLink loop over UDP loopback (lock-step, seeded): standoff on ground truth, faults end in hold,
every message the bridge sent is on the allowlist, a stalled pipeline ends in one hold + BRAKE."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from drone_perception.config import StackConfig
from firmware_bridge.allowlist import ALLOWED_MESSAGES
from sim.mavlink.faults import LinkFaultConfig
from sim.runners.lockstep import MavlinkLoopOptions, MavlinkScenarioLoop, run_mavlink_scenario


class ListRecorder:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, Any]] = []

    def record(self, topic: str, stamp_s: float, message: Any) -> None:
        self.rows.append((topic, stamp_s, message))

    def topic(self, name: str) -> list[tuple[float, Any]]:
        return [(s, m) for t, s, m in self.rows if t == name]


def setpoints(rec: ListRecorder, after_s: float = -np.inf) -> list[tuple[float, tuple[float, float, float]]]:
    out = []
    for stamp, m in rec.topic("/mavlink/out"):
        if m["msg_type"] == "SET_POSITION_TARGET_LOCAL_NED" and stamp > after_s:
            f = m["fields"]
            out.append((stamp, (f["vx"], f["vy"], f["vz"])))
    return out


def events(rec: ListRecorder, kind: str) -> list[tuple[float, Any]]:
    return [(s, m) for s, m in rec.topic("/autopilot/events") if m.get("kind") == kind]


@pytest.mark.parametrize(("scenario", "duration_s"), [("walk", 25.0), ("sprint_toward", 22.0)])
def test_scenarios_keep_the_standoff_through_mavlink(scenario: str, duration_s: float) -> None:
    rec = ListRecorder()
    result = run_mavlink_scenario(scenario, seed=1, recorder=rec, duration_s=duration_s)
    assert result.commands_sent > 100, "the loop never followed"
    assert result.min_separation_any_m >= result.standoff_m, result.summary()
    assert result.passed, result.failures
    moved = np.linalg.norm(np.subtract(result.trajectory["vehicle"][-1], result.trajectory["vehicle"][0]))
    assert moved > 5.0  # it followed through the bridge, not just hovered
    assert {m["msg_type"] for _, m in rec.topic("/mavlink/out")} <= ALLOWED_MESSAGES
    assert [m["link"] for _, m in rec.topic("/meta")] == ["mavlink"]


def _fly(loop: MavlinkScenarioLoop, until_s: float) -> None:
    while loop.world.t_s < until_s - 1e-9:
        loop.step()


def _fault_link_drop(loop: MavlinkScenarioLoop) -> None:
    loop.vehicle.drop_link(4.0)


def _fault_gcs_heartbeats_stop(loop: MavlinkScenarioLoop) -> None:
    loop.gcs.heartbeats_enabled = False


def _fault_pilot_loiter(loop: MavlinkScenarioLoop) -> None:
    loop.pilot_set_mode("LOITER")


def _fault_rc_switch(loop: MavlinkScenarioLoop) -> None:
    loop.vehicle.set_rc_channel(7, 1000)


RC_CONFIG = StackConfig.model_validate({"link": {"deadman_rc_channel": 7, "deadman_gcs_heartbeat": False}})


@pytest.mark.parametrize(("fault", "config", "reason"), [
    (_fault_link_drop, None, "link lost"),
    (_fault_gcs_heartbeats_stop, None, "ground-station heartbeat"),
    (_fault_rc_switch, RC_CONFIG, "dead-man released"),
    (_fault_pilot_loiter, None, "mode is LOITER"),
], ids=["link_drop", "gcs_deadman", "rc_deadman", "pilot_mode_change"])
def test_faults_end_in_hold_and_no_more_setpoints(fault: Any, config: StackConfig | None, reason: str) -> None:
    rec = ListRecorder()
    with MavlinkScenarioLoop("walk", config, seed=2, recorder=rec) as loop:
        loop.launch()
        _fly(loop, 8.0)
        assert loop.bridge.engagement.following and loop.pipeline.lock.track_id is not None
        assert len(setpoints(rec)) > 50
        fault(loop)
        _fly(loop, 14.0)
        result = loop.result()
        assert not loop.bridge.engagement.following
        assert reason in (loop.bridge.engagement.last_disengage_reason or "")
        (t_off, _), *_ = events(rec, "disengage")
        after = setpoints(rec, after_s=t_off - 1e-9)
        assert len(after) == 1 and after[0][1] == (0.0, 0.0, 0.0), after  # exactly the one hold
        assert t_off - loop.handover_s - 8.0 < 1.6  # detected within the dead-man / link timeouts
        assert result.sent_while_disengaged == 0 and result.passed
        assert np.linalg.norm(loop.vehicle.velocity_ned_mps[:2]) < 0.5  # the vehicle stopped


def test_packet_loss_ends_in_hold_and_never_breaks_the_standoff() -> None:
    rec = ListRecorder()
    opts = MavlinkLoopOptions(faults=LinkFaultConfig(loss_probability=0.2))
    with MavlinkScenarioLoop("walk", seed=3, recorder=rec, options=opts) as loop:
        loop.launch()
        _fly(loop, 20.0)
        result = loop.result()
        disengages = events(rec, "disengage")
        if loop.bridge.engagement.following:  # a lucky link: then it must have kept following safely
            assert result.commands_sent > 100
        else:
            t_off = disengages[0][0]
            after = setpoints(rec, after_s=t_off - 1e-9)
            assert len(after) == 1 and after[0][1] == (0.0, 0.0, 0.0)
        assert result.passed, result.failures


def test_allowlist_over_full_flights_and_no_arm_or_takeoff_from_the_stack() -> None:
    rec = ListRecorder()
    for name, dur in (("bystander_crossing", 25.0), ("leave_fence", 15.0)):
        run_mavlink_scenario(name, seed=4, recorder=rec, duration_s=dur, keep_trajectory=False)
    sent = rec.topic("/mavlink/out")
    assert len(sent) > 500
    assert {m["msg_type"] for _, m in sent} <= ALLOWED_MESSAGES
    commands = {m["command"] for _, m in sent if m["msg_type"] in ("COMMAND_LONG", "COMMAND_INT")}
    assert not commands & {400, 22, 183, 184, 211, 205}  # arm, takeoff, servo, relay, gripper, mount control


def test_stalled_pipeline_one_hold_then_brake() -> None:
    rec = ListRecorder()
    opts = MavlinkLoopOptions(stall_at_s=8.0)
    with MavlinkScenarioLoop("walk", seed=5, recorder=rec, options=opts) as loop:
        loop.launch()
        _fly(loop, 12.0)
        (t_stall, _), = events(rec, "stall")
        after = setpoints(rec, after_s=t_stall - 1e-9)
        assert len(after) == 1 and after[0][1] == (0.0, 0.0, 0.0)
        brakes = [m for _, m in events(rec, "mode_request") if m["mode"] == "BRAKE"]
        assert len(brakes) == 1
        assert loop.vehicle.mode == "BRAKE"
        assert np.linalg.norm(loop.vehicle.velocity_ned_mps) < 0.3


def test_dead_companion_leaves_it_to_guid_timeout() -> None:
    """The whole companion dies (no hold, no BRAKE): the autopilot's GUID_TIMEOUT (written by the bridge at
    connect) stops the vehicle on its own."""
    rec = ListRecorder()
    opts = MavlinkLoopOptions(companion_dead_at_s=8.0)
    with MavlinkScenarioLoop("walk", seed=6, recorder=rec, options=opts) as loop:
        loop.launch()
        _fly(loop, 8.0)
        assert loop.vehicle.ap.params.get("GUID_TIMEOUT") == pytest.approx(loop.config.link.guided_timeout_s)
        speed_before = float(np.linalg.norm(loop.vehicle.velocity_ned_mps[:2]))
        assert speed_before > 0.5
        _fly(loop, 8.0 + loop.config.link.guided_timeout_s + 2.0)
        assert loop.vehicle.ap.guided_timeouts == 1
        assert np.linalg.norm(loop.vehicle.velocity_ned_mps[:2]) < 0.2
        assert not setpoints(rec, after_s=loop.handover_s + 8.0 + 0.05)


def test_lockstep_runs_are_deterministic_under_a_seed() -> None:
    a, b = (run_mavlink_scenario("walk", seed=7, duration_s=8.0) for _ in range(2))
    assert a.summary() == b.summary()
    np.testing.assert_array_equal(np.array(a.trajectory["vehicle"]), np.array(b.trajectory["vehicle"]))


def _polygon_matches(got: np.ndarray, expected: Any, tol_m: float = 0.05) -> bool:
    return got.shape == (len(expected), 2) and bool(np.all(np.abs(got - np.asarray(expected)) < tol_m))


def test_fence_uploaded_as_the_second_layer_and_never_breached() -> None:
    """Before the crew arms, the bridge uploads the stack's fence to the autopilot; the autopilot's polygon (in
    its own frame; home is the scenario start, not the origin) is the stack's. Flying at the fence, the
    governor's stopping-point check keeps the vehicle inside, so the autopilot's fence never trips."""
    rec = ListRecorder()
    with MavlinkScenarioLoop("leave_fence", seed=2, recorder=rec, keep_trajectory=False) as loop:
        loop.launch()
        ap = loop.vehicle.ap
        assert np.linalg.norm(ap.home_ned_m[:2]) > 1.0  # home is away from the local origin: the shift matters
        (polygon,) = ap.fence.inclusion_polygons
        assert _polygon_matches(polygon, loop.config.fence.polygon_ne_m)
        assert ap.params.get("FENCE_ENABLE") == 1 and int(ap.params.get("FENCE_TYPE")) & (1 | 4 | 8) == 13
        assert ap.params.get("FENCE_ALT_MIN") == pytest.approx(loop.config.fence.altitude_floor_m)
        breaches: set[str] = set()
        while loop.world.t_s < loop.spec.duration_s:  # the subject walks out of the fence late in the run
            loop.step()
            breaches |= ap.breached
        result = loop.result()
    assert next(m for _, m in events(rec, "fence_upload"))["verified"]
    assert not breaches and ap.mode.name == "GUIDED"
    assert result.interventions.get("fence", 0) > 50  # it did fly at the fence: the stack's own layer acted
    assert result.min_fence_margin_m >= 0.0 and result.passed, result.failures


def test_gusts_reach_the_mavlink_vehicle_and_the_standoff_holds() -> None:
    """The sim vehicle flies in the world's wind, gusts included (not a constant), and the loop still follows."""
    winds = []
    with MavlinkScenarioLoop("strong_wind", seed=1, keep_trajectory=False) as loop:
        loop.launch()
        while loop.world.t_s < 20.0:
            loop.step()
            winds.append(loop.vehicle.wind_ned_mps)
        result = loop.result()
        with pytest.raises(ValueError, match="wind_ned_mps"):
            loop.vehicle.wind_ned_mps = (np.nan, 0.0, 0.0)
    w = np.array(winds)
    assert np.linalg.norm(w.mean(axis=0)[:2]) > 5.0  # the scenario's 8 m/s mean wind
    assert w[:, :2].std(axis=0).max() > 0.5  # and its gusts
    assert result.passed and result.min_separation_any_m >= result.standoff_m, result.failures
