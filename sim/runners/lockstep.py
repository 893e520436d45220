"""The full MAVLink loop: world -> simulated detections -> Pipeline -> MavlinkBridge -> UDP loopback ->
:class:`~sim.mavlink.vehicle.MavlinkSimVehicle` -> telemetry back -> the VehicleState the pipeline uses.

Lock-step and deterministic under a seed: each control period the sim vehicle is stepped (physics at
``vehicle_rate_hz``), then the world's people and wind, then the bridge reads the telemetry and the pipeline runs.
The stack's clock is the sim vehicle's simulated time, so a run is faster than real time. The world's
multicopter *is* the sim vehicle's dynamics (:func:`sim.runners.mavlink_world.ground_start_dynamics`): people and
the simulated camera follow the true pose the autopilot flies; the pipeline sees only telemetry (its camera pose too).

The crew is simulated with the operator's tools only, never through the bridge: a
:class:`~sim.mavlink.ground_station.ScriptedGroundStation` waits for the pre-arm checks, selects GUIDED, arms and
takes off to the scenario's start height, and keeps the ground-station heartbeat (the dead-man) going; then, at the
script's ``engage_at_s``, the operator engages follow (:meth:`MavlinkBridge.engage`, a console action) and clicks the
subject in the video: a ``MAV_CMD_CAMERA_TRACK_POINT`` from the ground station, routed by the vehicle to the
companion's camera component, as QGroundControl does. World time ``world.t_s`` starts at that hand-over.

:mod:`sim.runners.sitl` runs the same against an external autopilot SITL in real time. Both assemble the one
control loop (:class:`drone_perception.loop.ControlLoop`) with the bridge as the vehicle link and the scripted
crew with ground-station hands.
"""

from __future__ import annotations

import logging
import math
import select
import socket
from dataclasses import dataclass, field

import numpy as np

from drone_perception.config import StackConfig
from drone_perception.interfaces import NullRecorder, Recorder
from drone_perception.loop import ControlLoop, Health, PeriodClock, VehicleLink
from drone_perception.pipeline import Pipeline, PipelineOutput
from drone_perception.realtime import release_heap, settle_heap
from drone_perception.record.header import record_run_header
from drone_perception.selection import PipelineTrackingHandler
from drone_perception.track.bytetrack import ByteTracker
from firmware_bridge.loop_link import BridgeVehicleLink, connect_bridge, open_bridge, prepare_autopilot
from sim.mavlink.faults import LinkFaultConfig, LinkFaults
from sim.mavlink.ground_station import ScriptedGroundStation
from sim.mavlink.vehicle import MavlinkSimVehicle, SimVehicleConfig
from sim.runners.crew import GroundStationHands, OperatorScript, ScriptedCrew
from sim.runners.mavlink_world import ground_start_dynamics, start_height_m
from sim.runners.parts import CompanionClock, Injection, SimPerception, SimulatedDetections
from sim.runners.truth import ScenarioResult, TruthMeter, TruthObserver
from sim.sensing.sensors import DetectionModelParams
from sim.world.scenarios import ScenarioSpec, get_scenario
from sim.world.world import World

log = logging.getLogger(__name__)


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


class LockstepPeriods:
    """``PeriodClock`` of the lock-step loop: each period the sim vehicle flies ``substeps`` physics steps in the
    world's wind (the crew's ground station ticking between them), then the world's people and wind advance;
    the stack's time is ``clock``: the companion's (the sim vehicle's, unless a fault made it jump)."""

    def __init__(self, world: World, vehicle: MavlinkSimVehicle, gcs: ScriptedGroundStation,
                 clock: LockstepClock | CompanionClock, *, dt_s: float, substeps: int) -> None:
        self.world, self.vehicle, self.gcs, self.clock = world, vehicle, gcs, clock
        self.dt_s, self.substeps = dt_s, substeps
        self.vehicle_dt_s = dt_s / substeps

    def next_period(self) -> float:
        self.vehicle.wind_ned_mps = self.world.wind_ned_mps  # the world's wind, gusts included
        for _ in range(self.substeps):
            self.vehicle.step(self.vehicle_dt_s)
            self.gcs.tick()
        self.world.step(self.dt_s)
        return self.clock()


class MavlinkScenarioLoop:
    """One scenario through the full MAVLink loop. Build, :meth:`launch`, then :meth:`step` per control period
    (tests inject faults between steps through :attr:`vehicle` and :attr:`gcs`), :meth:`result`, :meth:`close`.
    :func:`run_mavlink_scenario` does all of it."""

    def __init__(self, name: str, config: StackConfig | None = None, *, seed: int = 0,
                 recorder: Recorder | None = None, operator_script: OperatorScript | None = None,
                 detection_params: DetectionModelParams | None = None, options: MavlinkLoopOptions | None = None,
                 keep_trajectory: bool = True, spec: ScenarioSpec | None = None,
                 injection: Injection | None = None) -> None:
        self.name, self.seed = name, seed
        self.options = opts = options or MavlinkLoopOptions()
        self.injection = injection
        spec = spec if spec is not None else get_scenario(name)
        self.spec = spec
        self.rng = np.random.default_rng(seed)
        self.world = spec.build(self.rng, config or StackConfig())
        self.config = cfg = self.world.stack_config(config or StackConfig())
        self.height_m = start_height_m(self.world)
        dynamics = ground_start_dynamics(self.world)
        self.recorder: Recorder = recorder if recorder is not None else NullRecorder()
        self.dt_s = 1.0 / cfg.control_rate_hz
        self.substeps = max(1, round(opts.vehicle_rate_hz * self.dt_s))
        self.vehicle_dt_s = self.dt_s / self.substeps
        vcfg = SimVehicleConfig(gps_lock_s=0.5, wind_ned_mps=tuple(float(x) for x in self.world.wind_ned_mps))  # type: ignore[arg-type]
        self.vehicle = MavlinkSimVehicle("udpin:127.0.0.1:0", rng=np.random.default_rng(seed + 7919),
                                         params=opts.vehicle_params, config=vcfg, dynamics=dynamics)
        port = self.vehicle.local_address[1]
        self.clock = LockstepClock(self.vehicle, self.vehicle_dt_s)
        #: the bridge's and the stack's clock (a fault may make it jump); the crew's ground station keeps ``clock``
        self.companion_clock = CompanionClock(self.clock)
        self.pipeline = Pipeline(cfg, tracker=ByteTracker(cfg.tracker), recorder=self.recorder)
        self.intrinsics = self.world.intrinsics
        self.handler = PipelineTrackingHandler(self.pipeline, self.intrinsics)
        self.bridge = open_bridge(cfg, f"udpout:127.0.0.1:{port}", recorder=self.recorder,
                                  tracking_handler=self.handler, clock=self.companion_clock)
        self.handler.on_change = self.bridge.engagement.select_subject
        reader = getattr(self.bridge.link.conn, "port", None)
        self.clock.reader = reader if isinstance(reader, socket.socket) else None
        self.gcs = ScriptedGroundStation(f"udpout:127.0.0.1:{port}", pump=self._pump, clock=self.clock,
                                         heartbeat_hz=opts.gcs_heartbeat_hz)
        self.meter = TruthMeter(self.world, cfg.safety.min_standoff_m, follow=cfg.follow,
                                keep_trajectory=keep_trajectory)
        self.crew = ScriptedCrew(self.world, GroundStationHands(
            self.bridge, self.gcs, self.pipeline, target_system=self.vehicle.config.system_id,
            deadman_rc_channel=cfg.link.deadman_rc_channel, set_rc=self.vehicle.set_rc_channel,
            click_period_s=opts.click_period_s), operator_script)
        self.perception: SimPerception = SimulatedDetections(self.world, self.rng, detection_params)
        self.link = BridgeVehicleLink(self.bridge, self.intrinsics, control=True,
                                      gimbal_pitch_rad=self.world.gimbal_pitch_rad)
        periods: PeriodClock = LockstepPeriods(self.world, self.vehicle, self.gcs, self.companion_clock, dt_s=self.dt_s,
                                               substeps=self.substeps)
        vehicle_link: VehicleLink = self.link
        if injection is not None:
            periods, vehicle_link, self.perception = injection.parts(self.world, periods, vehicle_link,
                                                                     self.perception)
        self.loop = ControlLoop(
            self.pipeline, clock=periods, vehicle=vehicle_link, perception=self.perception, operator=self.crew,
            health=self._health,
            observers=[TruthObserver(self.meter, self.recorder, self.perception.subject_in_view)])
        self.handover_s = math.nan
        self.last_output: PipelineOutput | None = None

    @property
    def redesignations(self) -> int:
        """Times the crew had to click the subject again after the stack lost it."""
        return self.crew.redesignations

    # ------------------------------------------------------------------ launch (the crew)
    def _pump(self) -> None:
        """Advance the sim vehicle one physics step and let the bridge read (used while the crew waits)."""
        self.vehicle.step(self.vehicle_dt_s)
        self.bridge.poll(self.companion_clock())

    def launch(self) -> None:
        """Connect the bridge, write GUID_TIMEOUT, upload the fence, let the crew arm/GUIDED/take off; world time
        starts after."""
        cfg, opts = self.config, self.options
        record_run_header(self.recorder, cfg, stamp_s=self.clock(), scenario=self.name, link="mavlink",
                          seed=self.seed, autopilot="sim.mavlink.vehicle (lock-step)", simulator=True)
        if cfg.link.deadman_rc_channel is not None:
            self.vehicle.set_rc_channel(cfg.link.deadman_rc_channel, 2000)  # the pilot holds the switch
        self.bridge.link.service(self.companion_clock(), force=True)  # a udpin vehicle answers once it heard us
        self.vehicle.step(self.vehicle_dt_s)
        self.clock.pumping = True  # blocking bridge calls advance the sim vehicle while they wait
        try:
            connect_bridge(self.bridge, self.bridge.link.connection, timeout_s=opts.connect_timeout_s)
            prepare_autopilot(self.bridge, cfg, timeout_s=opts.connect_timeout_s,
                              fence=cfg.fence if opts.upload_fence else None,
                              write_command_timeout=opts.write_guid_timeout)
        finally:
            self.clock.pumping = False
        self.gcs.operator_launch(self.height_m, timeout_s=opts.launch_timeout_s)
        for _ in range(round(0.5 / self.vehicle_dt_s)):  # settle in the hover, dead-man flowing
            self._pump()
            self.gcs.tick()
        self.vehicle.faults = LinkFaults(opts.faults, np.random.default_rng(self.seed + 104729))
        self.handover_s = self.clock()
        settle_heap()  # as every real-time loop does: no full collection of the start-up heap inside a period
        log.info("%s: airborne at %.1f m in GUIDED after %.1f simulated s", self.name, self.height_m,
                 self.handover_s)

    def pilot_set_mode(self, mode: str) -> None:
        """The pilot switches the flight mode at the ground station (no wait for the ACK)."""
        self.crew.hands.pilot_set_mode(mode)

    # ------------------------------------------------------------------ the loop
    def _health(self, now_s: float) -> Health:
        t, o = self.world.t_s, self.options
        if o.companion_dead_at_s is not None and t >= o.companion_dead_at_s:
            return Health.DEAD
        if o.stall_at_s is not None and t >= o.stall_at_s:
            return Health.STALLED
        return self.injection.health(self.world) if self.injection is not None else Health.ALIVE

    def step(self) -> None:
        """One control period (``1 / config.control_rate_hz`` simulated seconds)."""
        if math.isnan(self.handover_s):
            raise RuntimeError("launch() first")
        period = self.loop.step()
        if period.output is not None:
            self.last_output = period.output

    def run(self, duration_s: float | None = None) -> ScenarioResult:
        steps = max(1, round((duration_s if duration_s is not None else self.spec.duration_s) / self.dt_s))
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


__all__ = ["LockstepClock", "LockstepPeriods", "MavlinkLoopOptions", "MavlinkScenarioLoop",
           "run_mavlink_scenario"]
