"""The simulated world on a MAVLink vehicle: people and camera follow the vehicle the autopilot flies.

``sim.world.World`` normally flies its own :class:`~sim.vehicle.Multicopter` through its GUIDED model. On the
MAVLink path the autopilot is elsewhere (``sim.mavlink_vehicle`` in lock-step, or an external SITL), so:

* :func:`ground_start_dynamics` swaps the world's multicopter for one standing on the ground below the scenario's
  start point (same yaw), which the MAVLink sim vehicle then flies as its own dynamics (one object, one truth);
  the world's built-in autopilot is disarmed so :meth:`World.step` moves only people and wind;
* :class:`ReportedPose` stands in for the multicopter when only telemetry is known (external SITL).

Ground truth is measured with :class:`sim.runner.TruthMeter`, as in every other runner.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from drone_perception.config import StackConfig
from drone_perception.config.safety import FenceConfig
from drone_perception.interfaces import NullRecorder, Recorder
from drone_perception.realtime import release_heap, settle_heap
from drone_perception.record import topics
from drone_perception.types import VehicleState
from sim.operator import OperatorScript
from sim.runner import ScenarioResult, TruthMeter
from sim.vehicle import Multicopter, MulticopterParams
from sim.world import World

if TYPE_CHECKING:
    from firmware_bridge.bridge import MavlinkBridge


def ground_start_dynamics(world: World) -> Multicopter:
    """Replace ``world.vehicle`` by a multicopter on the ground (z = 0) below the scenario's start point, same
    yaw; disarm the world's own autopilot. Returns the new multicopter (give it to the MAVLink sim vehicle)."""
    start = np.array(world.vehicle.position_ned_m, dtype=float)
    start[2] = 0.0
    dyn = Multicopter(MulticopterParams(), start, yaw_rad=float(world.vehicle.yaw_rad))
    world.vehicle = dyn
    world.autopilot.armed = False  # World.step must not fly it: the MAVLink autopilot does
    return dyn


def start_height_m(world: World) -> float:
    """Height above ground (m) of the scenario's start point (read before :func:`ground_start_dynamics`)."""
    return -float(world.vehicle.position_ned_m[2])


class ReportedPose:
    """Duck-types the parts of :class:`~sim.vehicle.Multicopter` the world reads (``_pos``, ``_vel``,
    ``yaw_rad``, ``attitude_rpy_rad``), set from the autopilot's reported :class:`VehicleState` (NED m, m/s, rad).
    Used with an external SITL, whose true state we cannot see."""

    def __init__(self, position_ned_m: np.ndarray, yaw_rad: float) -> None:
        self._pos = np.array(position_ned_m, dtype=float)
        self._vel = np.zeros(3)
        self.yaw_rad = float(yaw_rad)
        self.attitude_rpy_rad = np.array([0.0, 0.0, yaw_rad])

    @property
    def position_ned_m(self) -> np.ndarray:
        return self._pos.copy()

    def update(self, state: VehicleState) -> bool:
        """Take position, velocity and attitude from ``state`` when finite; False when it carried none."""
        pos = np.asarray(state.position_ned_m, dtype=float)
        att = np.asarray(state.attitude_rpy_rad, dtype=float)
        if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(att))):
            return False
        self._pos = pos.copy()
        vel = np.asarray(state.velocity_ned_mps, dtype=float)
        self._vel = vel.copy() if np.all(np.isfinite(vel)) else np.zeros(3)
        self.attitude_rpy_rad = att.copy()
        self.yaw_rad = float(att[2])
        return True


# ---------------------------------------------------------------------------------------------- external SITL
def shift_fence(fence: FenceConfig, by_ne_m: np.ndarray) -> FenceConfig:
    """``fence`` moved by ``by_ne_m`` (north, east metres): the same fence in a frame shifted by that much."""
    dn, de = float(by_ne_m[0]), float(by_ne_m[1])
    return fence.model_copy(update={
        "polygon_ne_m": tuple((n + dn, e + de) for n, e in fence.polygon_ne_m),
        "tether_anchor_ne_m": (fence.tether_anchor_ne_m[0] + dn, fence.tether_anchor_ne_m[1] + de)})


def _wait_for_position(bridge: MavlinkBridge, timeout_s: float) -> np.ndarray:
    """The vehicle's first valid local position (m, NED), polling the bridge; LinkTimeout after ``timeout_s``."""
    import time

    from firmware_bridge.errors import LinkTimeout

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pos = np.asarray(bridge.poll(time.monotonic(), timeout_s=0.05).position_ned_m, dtype=float)
        if np.all(np.isfinite(pos)):
            return pos
    raise LinkTimeout(f"no valid LOCAL_POSITION_NED within {timeout_s:.0f} s (is the autopilot's EKF ready?)")


def run_sitl_scenario(name: str, config: StackConfig, *, connect: str, gcs_connect: str, seed: int = 0,
                      recorder: Recorder | None = None, duration_s: float | None = None,
                      connect_timeout_s: float = 10.0, launch_timeout_s: float = 90.0,
                      operator_script: OperatorScript | None = None, upload_fence: bool = True) -> ScenarioResult:
    """Scenario ``name`` against an external autopilot SITL on ``connect`` (bridge) in real time.

    The scripted crew (``gcs_connect``, a second MAVLink endpoint of the same SITL: ``udpin:HOST:PORT`` that the
    SITL or MAVProxy sends to) arms, selects GUIDED and takes off; people and the camera then follow the SITL's
    reported pose, translated so that the hand-over point is the scenario's start point. ArduCopter modes only.
    Before the launch the bridge writes the setpoint timeout and (``upload_fence``) uploads and verifies the
    stack's fence, shifted into the SITL's frame (with the FENCE_ALT_MIN floor: an autopilot without it never
    answers that write, and the upload stops with a timeout).
    Raises ``BridgeError``/``LinkTimeout`` "cannot connect to ..." when nothing answers within
    ``connect_timeout_s`` (wall seconds).
    """
    import time

    from drone_perception.live import PipelineTrackingHandler, camera_from_vehicle
    from drone_perception.pipeline import Pipeline
    from drone_perception.track.bytetrack import ByteTracker
    from firmware_bridge.bridge import MavlinkBridge
    from firmware_bridge.camera_tracking import MAV_COMP_ID_CAMERA
    from firmware_bridge.errors import BridgeError, LinkTimeout
    from sim.gcs_script import ScriptedGroundStation
    from sim.mav_link import SimLinkError, SimTimeout
    from sim.mavlink_loop import subject_image_point
    from sim.scenarios import get_scenario
    from sim.sensors import DetectionModelParams, simulate_detections

    spec = get_scenario(name)
    rng = np.random.default_rng(seed)
    world = spec.build(rng, config)
    config = world.stack_config(config)
    rec: Recorder = recorder if recorder is not None else NullRecorder()
    height = start_height_m(world)
    start = world.vehicle.position_ned_m
    pose = ReportedPose(start, float(world.vehicle.yaw_rad))
    world.vehicle = pose  # type: ignore[assignment]
    world.autopilot.armed = False
    pipeline = Pipeline(config, tracker=ByteTracker(config.tracker), recorder=rec)
    handler = PipelineTrackingHandler(pipeline, world.intrinsics)
    try:
        bridge = MavlinkBridge.open(config.link.model_copy(update={"connection": connect}),
                                    control_rate_hz=config.control_rate_hz, recorder=rec, tracking_handler=handler)
    except BridgeError as exc:
        raise BridgeError(f"cannot connect to {connect}: {exc}") from None
    handler.on_change = bridge.engagement.select_subject
    try:
        try:
            bridge.connect(timeout_s=connect_timeout_s)
        except LinkTimeout as exc:
            raise LinkTimeout(f"cannot connect to {connect}: no autopilot within {connect_timeout_s:.0f} s "
                              f"(is the SITL running?): {exc}") from None
        rec.record(topics.META, time.monotonic(), {
            "config": config.model_dump(mode="json"), "scenario": name, "seed": seed, "link": "mavlink",
            "autopilot": f"external SITL at {connect}", "simulator": True, "tethered": config.fence.tethered})
        bridge.configure_command_timeout(config.link.guided_timeout_s, timeout_s=connect_timeout_s)
        # The scenario frame is the SITL's local frame shifted so that the vehicle's ground position is the
        # scenario's start point; fixed here, before the launch, so the fence uploaded to the autopilot (the
        # second layer) and the pose the stack sees use the same shift.
        ground = _wait_for_position(bridge, connect_timeout_s)
        offset = np.array([start[0] - ground[0], start[1] - ground[1], 0.0])
        if upload_fence:
            bridge.upload_fence(shift_fence(config.fence, -offset[:2]), timeout_s=connect_timeout_s,
                                altitude_floor=config.link.fence_altitude_floor)
        try:
            def pump() -> None:
                bridge.poll(time.monotonic(), timeout_s=0.01)

            gcs = ScriptedGroundStation(gcs_connect, pump=pump, heartbeat_hz=2.0)
            gcs.operator_launch(height, timeout_s=launch_timeout_s)
        except (SimTimeout, SimLinkError) as exc:
            raise BridgeError(f"the scripted crew on {gcs_connect} could not launch the SITL vehicle: {exc}") from None
        script = operator_script or OperatorScript()
        det = DetectionModelParams()
        meter = TruthMeter(world, config.safety.min_standoff_m)
        dt_s = 1.0 / config.control_rate_hz
        steps = round((duration_s if duration_s is not None else spec.duration_s) / dt_s)
        engaged_once, next_click = False, -math.inf
        settle_heap()
        next_tick = time.monotonic()
        for _ in range(steps):
            next_tick += dt_s
            time.sleep(max(0.0, next_tick - time.monotonic()))
            world.step(dt_s)
            gcs.tick()
            now = time.monotonic()
            raw = bridge.poll(now)
            state = replace(raw, position_ned_m=np.asarray(raw.position_ned_m) + offset)
            pose.update(state)
            if world.t_s >= script.engage_at_s and not engaged_once:
                engaged_once = bridge.engage(now)[0]
            cam_true = world.camera_model()
            if engaged_once and pipeline.lock.track_id is None and now >= next_click:
                next_click = now + 0.5
                point = subject_image_point(cam_true, world.subject.position_ned_m, world.subject.height_m)
                if point is not None:
                    gcs.send(gcs.link.mav.command_long_encode(bridge.link.target_system or 1, MAV_COMP_ID_CAMERA,
                                                              2004, 0, point[0], point[1], 0, 0, 0, 0, 0))
            detections, gt_ids = simulate_detections(world, cam_true, rng, det)
            op = bridge.operator_input(now)
            out = pipeline.step(now_s=now, vehicle=state, operator=op, detections=replace(detections, stamp_s=now),
                                camera=camera_from_vehicle(world.intrinsics, state, world.gimbal_pitch_rad))
            sent = bool(out.send and bridge.send(out.safe, now))
            if sent:
                meter.command(out.safe, op)
            if bridge.engagement.following:
                bridge.check_stall(now)
            rec.record(topics.TRUTH, now, meter.update(
                now, engaged=op.engaged, sending=sent, limits=out.safe.limits_applied,
                subject_in_view=bool(np.any(gt_ids == world.subject.id)),
                mode_request=out.safe.mode_request is not None))
        if bridge.engagement.following:
            bridge.disengage(time.monotonic(), "scenario ended")
        gcs.close()
        return meter.result(name, seed, dt_s)
    finally:
        release_heap()
        bridge.close()


__all__ = ["ReportedPose", "ground_start_dynamics", "run_sitl_scenario", "shift_fence", "start_height_m"]
