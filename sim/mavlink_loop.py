"""The full MAVLink loop: world -> simulated detections -> Pipeline -> MavlinkBridge -> UDP loopback ->
:class:`~sim.mavlink_vehicle.MavlinkSimVehicle` -> telemetry back -> the VehicleState the pipeline uses.

Lock-step and deterministic under a seed: each control period the sim vehicle is stepped (physics at
``vehicle_rate_hz``), then the world's people and wind, then the bridge reads the telemetry and the pipeline runs.
The stack's clock is the sim vehicle's simulated time, so a run is faster than real time. The world's multicopter
*is* the sim vehicle's dynamics (:func:`sim.mavlink_world.ground_start_dynamics`): people and the simulated camera
follow the true pose the autopilot flies; the pipeline sees only telemetry (its camera pose too).

The crew is simulated with the operator's tools only, never through the bridge: a
:class:`~sim.gcs_script.ScriptedGroundStation` waits for the pre-arm checks, selects GUIDED, arms and takes off
to the scenario's start height, and keeps the ground-station heartbeat (the dead-man) going; then, at the script's
``engage_at_s``, the operator engages follow (:meth:`MavlinkBridge.engage`, a console action) and clicks the
subject in the video: a ``MAV_CMD_CAMERA_TRACK_POINT`` from the ground station, routed by the vehicle to the
companion's camera component, as QGroundControl does. World time ``world.t_s`` starts at that hand-over.

``sim.mavlink_sitl`` runs the same against an external autopilot SITL in real time.
"""

from __future__ import annotations

import logging
import math
import select
import socket
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_perception.config import StackConfig
from drone_perception.interfaces import NullRecorder, Recorder
from drone_perception.live import PipelineTrackingHandler, camera_from_vehicle, publish_tracking_status
from drone_perception.pipeline import Pipeline
from drone_perception.realtime import release_heap, settle_heap
from drone_perception.record import topics
from drone_perception.track.bytetrack import ByteTracker
from drone_perception.track.lock import LockState
from drone_perception.types import CameraModel, OperatorInput, to_jsonable
from firmware_bridge.bridge import MavlinkBridge
from firmware_bridge.camera_tracking import MAV_COMP_ID_CAMERA
from sim.gcs_script import ScriptedGroundStation
from sim.mav_faults import LinkFaultConfig, LinkFaults
from sim.mavlink_vehicle import MavlinkSimVehicle, SimVehicleConfig
from sim.mavlink_world import ground_start_dynamics, start_height_m
from sim.operator import OperatorScript
from sim.runner import ScenarioResult, TruthMeter
from sim.scenarios import get_scenario
from sim.sensors import DetectionModelParams, simulate_detections

log = logging.getLogger(__name__)
M = mavlink2


@dataclass(frozen=True)
class MavlinkLoopOptions:
    """Set-up of one lock-step run.

    ``vehicle_rate_hz``: physics and telemetry stepping of the sim vehicle (>= the control rate).
    ``faults``: link faults of the sim vehicle, switched on at the hand-over (the launch runs on a clean link).
    ``gcs_heartbeat_hz``: the ground station's heartbeat (the dead-man) rate. ``launch_timeout_s``: wall-clock
    budget of the scripted launch. ``connect_timeout_s``: simulated seconds for connect and parameter writes.
    ``stall_at_s``: from this world time the pipeline produces nothing (a hung pipeline; the bridge's stall check
    still runs). ``companion_dead_at_s``: from this world time the whole companion (pipeline and bridge) is gone.
    ``vehicle_params``: ArduCopter parameters of the sim vehicle (e.g. ``{"GUID_TIMEOUT": 1.0}``); the bridge
    still writes GUID_TIMEOUT = ``config.link.guided_timeout_s`` at connect unless ``write_guid_timeout`` is off.
    ``upload_fence``: the bridge uploads the stack's fence to the autopilot (the second layer) and verifies it
    before the crew arms, as on a real vehicle.
    """

    vehicle_rate_hz: float = 100.0
    faults: LinkFaultConfig = field(default_factory=LinkFaultConfig)
    gcs_heartbeat_hz: float = 2.0
    launch_timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    stall_at_s: float | None = None
    companion_dead_at_s: float | None = None
    vehicle_params: dict[str, float] = field(default_factory=dict)
    write_guid_timeout: bool = True
    upload_fence: bool = True
    click_period_s: float = 0.5


class LockstepClock:
    """The stack's clock in lock-step: the sim vehicle's simulated time (s). While :attr:`pumping` (a blocking
    bridge call such as connect or a parameter write is waiting), every reading advances the vehicle by
    ``pump_dt_s``, so the answer gets produced and the call's own deadline (in simulated seconds) can expire."""

    def __init__(self, vehicle: MavlinkSimVehicle, pump_dt_s: float) -> None:
        self.vehicle = vehicle
        self.pump_dt_s = pump_dt_s
        self.pumping = False
        #: The reader's socket; while it holds unread input, time stands still (no backlog can build up).
        self.reader: socket.socket | None = None

    def __call__(self) -> float:
        if self.pumping and not self._input_waiting():
            self.vehicle.step(self.pump_dt_s)
        return self.vehicle.time_s

    def _input_waiting(self) -> bool:
        if self.reader is None:
            return False
        readable, _, _ = select.select([self.reader], [], [], 0.0)
        return bool(readable)


def subject_image_point(camera: CameraModel, foot_ned_m: np.ndarray, height_m: float) -> tuple[float, float] | None:
    """Where the operator clicks: the subject's body centre in normalised image coordinates (x right, y down),
    or None when it is behind the camera or outside the image."""
    centre = np.asarray(foot_ned_m, dtype=float) + np.array([0.0, 0.0, -height_m / 2.0])
    p_cam = camera.R_ned_from_cam.T @ (centre - camera.position_ned_m)
    if p_cam[2] <= 0.1:
        return None
    k = camera.intrinsics
    u = (k.fx_px * p_cam[0] / p_cam[2] + k.cx_px) / k.size_wh_px[0]
    v = (k.fy_px * p_cam[1] / p_cam[2] + k.cy_px) / k.size_wh_px[1]
    return (float(u), float(v)) if 0.0 <= u <= 1.0 and 0.0 <= v <= 1.0 else None


class MavlinkScenarioLoop:
    """One scenario through the full MAVLink loop. Build, :meth:`launch`, then :meth:`step` per control period
    (tests inject faults between steps through :attr:`vehicle` and :attr:`gcs`), :meth:`result`, :meth:`close`.
    :func:`run_mavlink_scenario` does all of it."""

    def __init__(self, name: str, config: StackConfig | None = None, *, seed: int = 0,
                 recorder: Recorder | None = None, operator_script: OperatorScript | None = None,
                 detection_params: DetectionModelParams | None = None, options: MavlinkLoopOptions | None = None,
                 keep_trajectory: bool = True) -> None:
        self.name, self.seed = name, seed
        self.options = opts = options or MavlinkLoopOptions()
        spec = get_scenario(name)
        self.spec = spec
        self.rng = np.random.default_rng(seed)
        self.world = spec.build(self.rng, config or StackConfig())
        self.config = cfg = self.world.stack_config(config or StackConfig())
        self.height_m = start_height_m(self.world)
        dynamics = ground_start_dynamics(self.world)
        self.recorder: Recorder = recorder if recorder is not None else NullRecorder()
        self.script = operator_script or OperatorScript()
        self.det_params = detection_params or DetectionModelParams()
        self.dt_s = 1.0 / cfg.control_rate_hz
        self.substeps = max(1, round(opts.vehicle_rate_hz * self.dt_s))
        self.vehicle_dt_s = self.dt_s / self.substeps
        vcfg = SimVehicleConfig(gps_lock_s=0.5, wind_ned_mps=tuple(float(x) for x in self.world.wind_ned_mps))  # type: ignore[arg-type]
        self.vehicle = MavlinkSimVehicle("udpin:127.0.0.1:0", rng=np.random.default_rng(seed + 7919),
                                         params=opts.vehicle_params, config=vcfg, dynamics=dynamics)
        port = self.vehicle.local_address[1]
        self.clock = LockstepClock(self.vehicle, self.vehicle_dt_s)
        self.pipeline = Pipeline(cfg, tracker=ByteTracker(cfg.tracker), recorder=self.recorder)
        self.intrinsics = self.world.intrinsics
        self.handler = PipelineTrackingHandler(self.pipeline, self.intrinsics)
        link_cfg = cfg.link.model_copy(update={"connection": f"udpout:127.0.0.1:{port}"})
        self.bridge = MavlinkBridge.open(link_cfg, control_rate_hz=cfg.control_rate_hz, recorder=self.recorder,
                                         tracking_handler=self.handler, clock=self.clock)
        self.handler.on_change = self.bridge.engagement.select_subject
        reader = getattr(self.bridge.link.conn, "port", None)
        self.clock.reader = reader if isinstance(reader, socket.socket) else None
        self.gcs = ScriptedGroundStation(f"udpout:127.0.0.1:{port}", pump=self._pump, clock=self.clock,
                                         heartbeat_hz=opts.gcs_heartbeat_hz)
        self.meter = TruthMeter(self.world, cfg.safety.min_standoff_m, keep_trajectory=keep_trajectory)
        self.handover_s = math.nan
        self._engaged_once = False
        self._next_click_s = -math.inf
        self._deadman_held = True
        self._lost_since_s: float | None = None
        #: Times the crew had to click the subject again after the stack lost it.
        self.redesignations = 0
        self._next_status_s = -math.inf
        self.last_output: Any = None

    # ------------------------------------------------------------------ launch (the crew)
    def _pump(self) -> None:
        """Advance the sim vehicle one physics step and let the bridge read (used while the crew waits)."""
        self.vehicle.step(self.vehicle_dt_s)
        self.bridge.poll(self.clock())

    def _blocking(self, fn: Any, *a: Any, **kw: Any) -> Any:
        self.clock.pumping = True
        try:
            return fn(*a, **kw)
        finally:
            self.clock.pumping = False

    def launch(self) -> None:
        """Connect the bridge, write GUID_TIMEOUT, upload the fence, let the crew arm/GUIDED/take off; world time
        starts after."""
        cfg, opts = self.config, self.options
        self.recorder.record(topics.META, self.clock(), {
            "config": cfg.model_dump(mode="json"), "scenario": self.name, "seed": self.seed, "link": "mavlink",
            "autopilot": "sim.mavlink_vehicle (lock-step)", "simulator": True, "tethered": cfg.fence.tethered})
        self.recorder.record(topics.FENCE, self.clock(), to_jsonable(cfg.fence.model_dump()))
        if cfg.link.deadman_rc_channel is not None:
            self.vehicle.set_rc_channel(cfg.link.deadman_rc_channel, 2000)  # the pilot holds the switch
        self.bridge.link.service(self.clock(), force=True)  # a udpin vehicle answers once it heard us
        self.vehicle.step(self.vehicle_dt_s)
        self._blocking(self.bridge.connect, opts.connect_timeout_s)
        if opts.write_guid_timeout:
            self._blocking(self.bridge.configure_command_timeout, cfg.link.guided_timeout_s,
                           timeout_s=opts.connect_timeout_s)
        if opts.upload_fence:  # the autopilot's own fence: the second layer, verified by download
            self._blocking(self.bridge.upload_fence, cfg.fence, timeout_s=opts.connect_timeout_s,
                           altitude_floor=cfg.link.fence_altitude_floor)
        self.gcs.operator_launch(self.height_m, timeout_s=opts.launch_timeout_s)
        for _ in range(round(0.5 / self.vehicle_dt_s)):  # settle in the hover, dead-man flowing
            self._pump()
            self.gcs.tick()
        self.vehicle.faults = LinkFaults(opts.faults, np.random.default_rng(self.seed + 104729))
        self.handover_s = self.clock()
        settle_heap()  # as the live loop does: no full collection of the start-up heap inside a period
        log.info("%s: airborne at %.1f m in GUIDED after %.1f simulated s", self.name, self.height_m,
                 self.handover_s)

    # ------------------------------------------------------------------ operator (the crew, during follow)
    def _operator(self, now: float, camera: CameraModel) -> None:
        s, t = self.script, self.world.t_s
        engage = t >= s.engage_at_s and (s.disengage_at_s is None or t < s.disengage_at_s)
        if engage and not self._engaged_once:
            ok, why = self.bridge.engage(now)
            self._engaged_once = ok
            if not ok:
                log.info("operator engage refused at t=%.2f: %s", t, why)
        if s.disengage_at_s is not None and t >= s.disengage_at_s and self.bridge.engagement.following:
            self.bridge.disengage(now, "operator disengaged (script)")
        held = not (s.deadman_lost_s is not None and s.deadman_lost_s[0] <= t < s.deadman_lost_s[1])
        if held != self._deadman_held:
            self._deadman_held = held
            self.gcs.heartbeats_enabled = held
            if self.config.link.deadman_rc_channel is not None:
                self.vehicle.set_rc_channel(self.config.link.deadman_rc_channel, 2000 if held else 1000)
        lost = self.pipeline.lock.state in (LockState.LOST, LockState.NONE)
        redesignate_s = getattr(s, "redesignate_after_s", None)
        if not lost:
            self._lost_since_s = None
        elif self.pipeline.lock.track_id is not None and redesignate_s is not None:
            self._lost_since_s = now if self._lost_since_s is None else self._lost_since_s
            if now - self._lost_since_s >= redesignate_s:  # the crew notices and clicks the subject again
                self.pipeline.release_subject()
                self.redesignations += 1
                self._lost_since_s = None
        if self._engaged_once and self.pipeline.lock.track_id is None and now >= self._next_click_s:
            self._next_click_s = now + self.options.click_period_s
            subject = self.world.subject
            point = subject_image_point(camera, subject.position_ned_m, subject.height_m)
            if point is not None:
                self.gcs.send(self.gcs.link.mav.command_long_encode(
                    self.vehicle.config.system_id, MAV_COMP_ID_CAMERA, M.MAV_CMD_CAMERA_TRACK_POINT, 0,
                    point[0], point[1], 0.0, 0, 0, 0, 0))

    def pilot_set_mode(self, mode: str) -> None:
        """The pilot switches the flight mode at the ground station (no wait for the ACK)."""
        from sim.mav_autopilot import CopterMode

        self.gcs.send(self.gcs.link.mav.command_long_encode(
            self.vehicle.config.system_id, M.MAV_COMP_ID_AUTOPILOT1, M.MAV_CMD_DO_SET_MODE, 0,
            M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, int(CopterMode[mode]), 0, 0, 0, 0, 0))

    # ------------------------------------------------------------------ the loop
    def _alive(self, t: float, at: float | None) -> bool:
        return at is None or t < at

    def step(self) -> None:
        """One control period (``1 / config.control_rate_hz`` simulated seconds)."""
        if math.isnan(self.handover_s):
            raise RuntimeError("launch() first")
        self.vehicle.wind_ned_mps = self.world.wind_ned_mps  # the world's wind, gusts included
        for _ in range(self.substeps):
            self.vehicle.step(self.vehicle_dt_s)
            self.gcs.tick()
        self.world.step(self.dt_s)
        now = self.clock()
        t = self.world.t_s
        op = OperatorInput(engaged=False, deadman_ok=False, subject_track_id=None, stamp_s=now)
        true_camera = self.world.camera_model()
        detections, gt_ids = simulate_detections(self.world, true_camera, self.rng, self.det_params)
        engaged = sending = mode_request = False
        limits: frozenset[str] = frozenset()
        if self._alive(t, self.options.companion_dead_at_s):
            self.bridge.poll(now)
            self._operator(now, true_camera)
            op = self.bridge.operator_input(now)
            if self._alive(t, self.options.stall_at_s):
                state = self.bridge.vehicle_state(now)
                camera = camera_from_vehicle(self.intrinsics, state, self.world.gimbal_pitch_rad)
                out = self.pipeline.step(now_s=now, vehicle=state, operator=op, camera=camera,
                                         detections=replace(detections, stamp_s=now))
                self.last_output = out
                if out.send and self.bridge.send(out.safe, now):
                    self.meter.command(out.safe, op)
                    sending = True
                engaged, limits = op.engaged, out.safe.limits_applied
                mode_request = out.safe.mode_request is not None
                if now >= self._next_status_s:
                    self._next_status_s = now + 0.2
                    publish_tracking_status(self.bridge, out, self.intrinsics, now)
            if self.bridge.engagement.following:  # after a disengage silence is expected, not a stall
                self.bridge.check_stall(now)
        in_view = bool(np.any(gt_ids == self.world.subject.id))
        truth = self.meter.update(now, engaged=engaged, sending=sending, limits=limits, subject_in_view=in_view,
                                  mode_request=mode_request)
        self.recorder.record(topics.TRUTH, now, truth)

    def run(self, duration_s: float | None = None) -> ScenarioResult:
        steps = round((duration_s if duration_s is not None else self.spec.duration_s) / self.dt_s)
        for _ in range(steps):
            self.step()
        return self.result()

    def result(self) -> ScenarioResult:
        return self.meter.result(self.name, self.seed, self.dt_s, redesignations=self.redesignations)

    def close(self) -> None:
        release_heap()
        self.bridge.close()
        self.gcs.close()
        self.vehicle.close()

    def __enter__(self) -> MavlinkScenarioLoop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_mavlink_scenario(name: str, config: StackConfig | None = None, *, seed: int = 0,
                         recorder: Recorder | None = None, duration_s: float | None = None,
                         options: MavlinkLoopOptions | None = None, operator_script: OperatorScript | None = None,
                         keep_trajectory: bool = True) -> ScenarioResult:
    """Launch and fly scenario ``name`` through the full MAVLink loop (lock-step); see the module docstring."""
    with MavlinkScenarioLoop(name, config, seed=seed, recorder=recorder, options=options,
                             operator_script=operator_script, keep_trajectory=keep_trajectory) as loop:
        loop.launch()
        return loop.run(duration_s)


def _run_one(name: str, config: StackConfig, args: Any) -> dict[str, Any]:
    """One scenario for the CLI: record, plot and audit as ``drone_perception.cli.sim.run_one`` does."""
    from pathlib import Path

    from drone_perception.cli.sim import run_and_report
    from sim.mavlink_world import run_sitl_scenario

    duration_s = getattr(args, "duration_s", None)

    def run_it(recorder: Recorder | None) -> ScenarioResult:
        if args.connect:
            gcs = getattr(args, "gcs", None) or DEFAULT_SITL_GCS
            return run_sitl_scenario(name, config, connect=args.connect, gcs_connect=gcs, seed=args.seed,
                                     recorder=recorder, duration_s=duration_s)
        return run_mavlink_scenario(name, config, seed=args.seed, recorder=recorder, duration_s=duration_s)

    summary, _ = run_and_report(Path(args.out) / f"{name}_mavlink", args, run_it)
    summary["link"] = "mavlink"
    return summary


#: Where the scripted crew listens for an external SITL (ArduPilot's sim_vehicle.py/MAVProxy sends to 14551).
DEFAULT_SITL_GCS = "udpin:127.0.0.1:14551"


def run_mavlink_scenarios(names: list[str], config: StackConfig, args: Any) -> int:
    """``drone-perception sim --link mavlink [--connect URL]``: run, print the usual summary; exit code 0 = pass."""
    from drone_perception.cli.sim import _print_summaries
    from drone_perception.errors import ConfigError

    if getattr(args, "perception", "sim") != "sim":
        raise ConfigError(f"--perception {args.perception}: only 'sim' detections run on --link mavlink")
    summaries = [_run_one(name, config, args) for name in names]
    _print_summaries(summaries, as_json=args.json)
    return 0 if all(s["passed"] for s in summaries) else 1


__all__ = ["DEFAULT_SITL_GCS", "LockstepClock", "MavlinkLoopOptions", "MavlinkScenarioLoop", "run_mavlink_scenario",
           "run_mavlink_scenarios", "subject_image_point"]
