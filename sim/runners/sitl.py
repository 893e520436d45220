"""A scenario against an external autopilot SITL (ArduPilot's ``arducopter``, or any MAVLink autopilot speaking
ArduCopter modes) in real time, or on ArduPilot SITL's clock sped up (SIM_SPEEDUP, :class:`SitlClock`), through the
one control loop.

The bridge connects on ``connect``; the scripted crew uses a second MAVLink endpoint of the same SITL
(``gcs_connect``, ``udpin:HOST:PORT`` that the SITL or MAVProxy sends to) to arm, select GUIDED and take off, then
turns the vehicle to the scenario's start heading (the camera toward the subject), engages follow, clicks the
subject and keeps the dead-man going as in every simulated mode. People and the camera follow the SITL's reported
pose (:class:`~sim.runners.mavlink_world.ReportedPose`), translated so that the hand-over point is the scenario's
start point. Faults (:class:`SitlFaults`): a stalled pipeline, a dead companion, a cut link.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pymavlink.dialects.v20 import ardupilotmega as mav2

from drone_perception.config import StackConfig
from drone_perception.config.safety import FenceConfig
from drone_perception.interfaces import NullRecorder, Recorder
from drone_perception.loop import ControlLoop, Health
from drone_perception.pipeline import Pipeline
from drone_perception.record.header import record_run_header
from drone_perception.selection import PipelineTrackingHandler
from drone_perception.track.bytetrack import ByteTracker
from drone_perception.types import VehicleState
from firmware_bridge.bridge import MavlinkBridge
from firmware_bridge.errors import BridgeError, LinkTimeout
from firmware_bridge.loop_link import BridgeVehicleLink, connect_bridge, open_bridge, prepare_autopilot
from sim.mavlink.ground_station import ScriptedGroundStation
from sim.mavlink.link import SimCommandRejected, SimLinkError, SimTimeout
from sim.runners.crew import GroundStationHands, OperatorScript, ScriptedCrew
from sim.runners.direct import periods_for
from sim.runners.mavlink_world import ReportedPose, shift_fence, start_height_m
from sim.runners.parts import CompanionClock, SimulatedDetections
from sim.runners.truth import ScenarioResult, TruthMeter, TruthObserver
from sim.world.scenarios import get_scenario
from sim.world.world import World

log = logging.getLogger(__name__)

#: Where the scripted crew listens for an external SITL (ArduPilot's sim_vehicle.py/MAVProxy sends to 14551).
DEFAULT_SITL_GCS = "udpin:127.0.0.1:14551"


@dataclass(frozen=True)
class SitlFaults:
    """Companion and link faults in world seconds from the hand-over, as the lock-step loop has them: from
    ``stall_at_s`` the pipeline produces nothing (the bridge's stall check still runs: one hold, then BRAKE);
    from ``companion_dead_at_s`` the whole companion is gone (the autopilot's own GUID_TIMEOUT stops it);
    during ``link_cut_s`` ([start, end)) the stack's link to the autopilot carries nothing either way:
    ``cut_link(True)`` at the first period whose world time reaches the start, ``cut_link(False)`` at the end
    (e.g. :meth:`sim.runners.link_relay.LinkRelay.set_cut` between the bridge and the SITL); each change is
    recorded on ``/sim/link_cut`` at the stack's time. ``clock_jump`` (world s, seconds): from that world time the
    companion's clock (the bridge's and the stack's) reads that much ahead of the SITL's, the crew's and the
    world's (:class:`~sim.runners.parts.CompanionClock`), recorded on ``/sim/clock_jump``."""

    stall_at_s: float | None = None
    companion_dead_at_s: float | None = None
    link_cut_s: tuple[float, float] | None = None
    cut_link: Callable[[bool], None] | None = None
    clock_jump: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.link_cut_s is not None:
            start, end = self.link_cut_s
            if not (0.0 <= start < end):
                raise ValueError(f"link_cut_s: need 0 <= start < end (world s), got {self.link_cut_s}")
            if self.cut_link is None:
                raise ValueError("link_cut_s needs cut_link (what cuts the link, e.g. LinkRelay.set_cut)")
        if self.clock_jump is not None and not (self.clock_jump[0] >= 0.0 and 0.0 <= self.clock_jump[1] <= 60.0):
            raise ValueError(f"clock_jump: need (world s >= 0, 0-60 s forward), got {self.clock_jump}")

    def link_switch(self, on_change: Callable[[bool], None] | None = None) -> Callable[[float], None]:
        """Told the world time every period: cuts and restores the link at ``link_cut_s`` (and tells
        ``on_change(cut)`` after each change)."""
        cut = [False]

        def at(world_t_s: float) -> None:
            want = self.link_cut_s is not None and self.link_cut_s[0] <= world_t_s < self.link_cut_s[1]
            if want != cut[0] and self.cut_link is not None:
                cut[0] = want
                self.cut_link(want)
                if on_change is not None:
                    on_change(want)
        return at

    def clock_switch(self, companion: CompanionClock,
                     on_jump: Callable[[], None] | None = None) -> Callable[[float], None]:
        """Told the world time every period: jumps ``companion`` once at ``clock_jump`` (then tells ``on_jump()``)."""
        jumped = [False]

        def at(world_t_s: float) -> None:
            if self.clock_jump is not None and not jumped[0] and world_t_s >= self.clock_jump[0]:
                jumped[0] = True
                companion.jump(self.clock_jump[1], at_s=-math.inf)
                if on_jump is not None:
                    on_jump()
        return at

    def health(self, world: World) -> Callable[[float], Health]:
        def at(now_s: float) -> Health:
            t = world.t_s
            if self.companion_dead_at_s is not None and t >= self.companion_dead_at_s:
                return Health.DEAD
            if self.stall_at_s is not None and t >= self.stall_at_s:
                return Health.STALLED
            return Health.ALIVE
        return at


#: Longest world step (s) after a late period; people's motion models are integrated in steps no longer than it.
MAX_WORLD_STEP_S = 0.25

#: What the simulator's truth reads on the crew's own port (message id -> Hz): the vehicle as the autopilot
#: reports it, independent of the stack's link (which a test may stall or kill).
TRUTH_STREAMS: dict[int, float] = {32: 20.0, 30: 20.0}  # LOCAL_POSITION_NED, ATTITUDE


class CrewSeenPose:
    """Keeps the world's :class:`ReportedPose` (the simulator's truth of the vehicle) where the autopilot reports
    it, shifted into the scenario frame by ``offset_ned_m``: from the stack's own telemetry while it flows
    (:meth:`from_stack`, so the simulated camera and the stack's camera agree as in every other mode), and from
    the crew's port when the stack has read nothing new for ``STACK_SILENT_S`` (a stalled or dead companion, a
    cut link: the stack's last state then is stale, and a truth frozen on it would hide the coast)."""

    STACK_SILENT_S = 0.15

    def __init__(self, gcs: ScriptedGroundStation, pose: ReportedPose, offset_ned_m: np.ndarray,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.gcs, self.pose, self.offset_ned_m, self.clock = gcs, pose, offset_ned_m, clock
        self._stamp: tuple[int, int] = (-1, -1)
        self._stack_s = -float("inf")
        self._stack_stamp_s = float("nan")

    def from_stack(self, state: VehicleState) -> None:
        if state.stamp_s == self._stack_stamp_s:  # nothing new arrived on the stack's link
            return
        if self.pose.update(state):
            self._stack_s, self._stack_stamp_s = self.clock(), state.stamp_s

    def update(self) -> None:
        if self.clock() - self._stack_s < self.STACK_SILENT_S:
            return
        lp, att = self.gcs.latest.get("LOCAL_POSITION_NED"), self.gcs.latest.get("ATTITUDE")
        if lp is None or att is None or (lp.time_boot_ms, att.time_boot_ms) == self._stamp:
            return
        self._stamp = (lp.time_boot_ms, att.time_boot_ms)
        self.pose.update(VehicleState(
            position_ned_m=np.array([lp.x, lp.y, lp.z]) + self.offset_ned_m,
            velocity_ned_mps=np.array([lp.vx, lp.vy, lp.vz]), attitude_rpy_rad=np.array([att.roll, att.pitch,
                                                                                            att.yaw]),
            armed=True, mode="UNKNOWN", link_ok=True, stamp_s=self.clock()))


class SitlClock:
    """The stack's, the crew's and the world's clock against a SITL (s): ``time.monotonic()`` until
    :meth:`set_rate`, then running ``rate`` times faster than the wall clock, as the SITL's own clock does at
    SIM_SPEEDUP ``rate``; continuous across the change.

    After :meth:`follow` it runs on the autopilot's own clock: ``sample()`` returns the autopilot's latest
    ``time_boot_ms`` as seen on the crew's port (ATTITUDE at 20 Hz of its time); the clock reads the last sample
    plus the wall time since it was first seen times ``rate``, never more than ``FOLLOW_HORIZON_S`` of autopilot
    time past it, and never backwards. So a SITL that cannot keep up with SIM_SPEEDUP on a busy machine slows
    the world and the stack down with it (a wall-clock model would let the people run ahead of the vehicle's
    physics). When no new sample has come for ``FREE_RUN_AFTER_S`` wall seconds (a dead SITL, a cut crew port)
    it runs free on the wall clock again, so every timeout measured on it still expires.
    """

    #: Autopilot seconds the clock may run past the autopilot's latest report.
    FOLLOW_HORIZON_S = 0.1
    #: Wall seconds without a new report after which the clock runs free at ``rate``.
    FREE_RUN_AFTER_S = 0.5

    def __init__(self) -> None:
        self.rate = 1.0
        self._wall0 = self._t0 = time.monotonic()
        self._sample: Callable[[], int | None] | None = None
        self._last_ms: int | None = None
        self._ap0_s = self._base_s = self._seen_wall = self._out = 0.0

    def _free(self, wall: float) -> float:
        return self._t0 + (wall - self._wall0) * self.rate

    def __call__(self) -> float:
        wall = time.monotonic()
        if self._sample is None:
            return self._free(wall)
        ms = self._sample()
        if ms is not None and ms != self._last_ms:
            if self._last_ms is None or ms < self._last_ms:  # the first report, or the autopilot rebooted
                self._ap0_s, self._base_s = ms / 1000.0, self._out
            self._last_ms, self._seen_wall = ms, wall
        # before the first report: where the clock stood at follow(), waiting for it (then running free)
        reported = self._base_s if self._last_ms is None else self._base_s + self._last_ms / 1000.0 - self._ap0_s
        since = wall - self._seen_wall
        if since <= self.FREE_RUN_AFTER_S:
            t = reported + min(since * self.rate, self.FOLLOW_HORIZON_S)
        else:  # continuous with the line above at the switch (rate * FREE_RUN_AFTER_S >= the horizon)
            t = reported + self.FOLLOW_HORIZON_S + (since - self.FREE_RUN_AFTER_S) * self.rate
        self._out = max(self._out, t)
        return self._out

    def set_rate(self, rate: float) -> None:
        if not (math.isfinite(rate) and rate > 0.0):
            raise ValueError(f"rate: must be > 0, got {rate}")
        now = self()
        self._wall0, self._t0, self.rate = time.monotonic(), now, float(rate)

    def follow(self, sample: Callable[[], int | None]) -> None:
        """From now on run on the autopilot's clock, ``sample()`` its latest time_boot_ms (None: none yet). The
        caller keeps the reports coming in (the crew's ground station reads every period)."""
        self._out = self._base_s = self()
        self._sample, self._last_ms, self._seen_wall = sample, None, time.monotonic()

    @property
    def following(self) -> bool:
        return self._sample is not None

    def sleep_until(self, t_s: float) -> None:
        """Sleep the wall time the clock needs at ``rate`` to read ``t_s`` (following the autopilot, it may then
        still read less: :class:`RealTimePeriods` waits on, reading the reports)."""
        time.sleep(max(0.0, (t_s - self()) / self.rate))


class RealTimePeriods:
    """``PeriodClock`` on the SITL's clock (``clock``, real time unless sped up): sleeps to the next tick of
    ``dt_s``, then lets the crew's ground station read (the vehicle's pose for the simulator's truth) and advances
    the world's people and wind by the time that really passed (the autopilot does not wait: a late period must
    not slow the people down); the stack's time is ``clock()``. ``on_world_time(t_s)``: told the world time every
    period, after the world's step (link faults)."""

    def __init__(self, world: World, gcs: ScriptedGroundStation, dt_s: float, seen: CrewSeenPose,
                 on_world_time: Callable[[float], None] | None = None,
                 clock: SitlClock | None = None, stack_clock: Callable[[], float] | None = None) -> None:
        self.world, self.gcs, self.dt_s, self.seen = world, gcs, dt_s, seen
        self.on_world_time = on_world_time
        self.clock = clock or SitlClock()
        self.stack_clock = stack_clock  # the companion's (None: ``clock``)
        self._next_tick = self._last = self.clock()

    def next_period(self) -> float:
        self._next_tick = max(self._next_tick + self.dt_s, self.clock())  # no catch-up burst after a stall
        self.clock.sleep_until(self._next_tick)
        if self.clock.following:  # the autopilot may be behind its SIM_SPEEDUP: wait for it, reading its reports
            give_up = time.monotonic() + SitlClock.FREE_RUN_AFTER_S + 0.05
            while self.clock() < self._next_tick and time.monotonic() < give_up:
                self.gcs.tick()
                time.sleep(0.001)
        self.gcs.tick()
        self.seen.update()
        now = self.clock()
        self.world.step(min(max(now - self._last, 1e-3), MAX_WORLD_STEP_S))
        self._last = now
        if self.on_world_time is not None:
            self.on_world_time(self.world.t_s)
        return now if self.stack_clock is None else self.stack_clock()


#: How close (rad) the crew turns the vehicle to the scenario's start heading, and how fast (deg/s).
HEADING_TOLERANCE_RAD = math.radians(5.0)
TURN_RATE_DEG_S = 45.0


def _turn_to_heading(gcs: ScriptedGroundStation, yaw_rad: float, *, timeout_s: float) -> None:
    """The crew turns the hovering vehicle to ``yaw_rad`` (the scenario's start heading: the camera toward the
    subject), as a pilot frames the shot before engaging follow; the SITL's own heading after take-off is
    whatever its ``--home`` says. MAV_CMD_CONDITION_YAW (absolute, shortest way) from the ground station in
    GUIDED; waits until the crew's ATTITUDE is within ``HEADING_TOLERANCE_RAD``. SimTimeout otherwise. An autopilot
    that refuses the command keeps its heading (logged): the run goes on, and its mission verdict says whether the
    camera found the subject."""
    def error_rad() -> float:
        att = gcs.latest.get("ATTITUDE")
        return math.inf if att is None else abs(math.remainder(float(att.yaw) - yaw_rad, math.tau))

    gcs.wait_until("the vehicle's ATTITUDE", lambda: gcs.latest.get("ATTITUDE") is not None, timeout_s)
    if error_rad() < HEADING_TOLERANCE_RAD:
        return
    deg = math.degrees(yaw_rad) % 360.0
    try:
        gcs.command(mav2.MAV_CMD_CONDITION_YAW, [deg, TURN_RATE_DEG_S, 0.0, 0.0], timeout_s)
    except SimCommandRejected as exc:
        log.warning("the autopilot refused to turn to the start heading %.0f deg (%s): it keeps %.0f deg off",
                    deg, exc, math.degrees(error_rad()))
        return
    gcs.wait_until(f"the start heading {deg:.0f} deg", lambda: error_rad() < HEADING_TOLERANCE_RAD, timeout_s)


def _autopilot_time(gcs: ScriptedGroundStation) -> tuple[float, float]:
    """(the autopilot's clock from its latest ATTITUDE on the crew's port, the wall clock then) in seconds."""
    gcs.tick()
    att = gcs.latest.get("ATTITUDE")
    return (float(att.time_boot_ms) / 1000.0 if att is not None else math.nan), time.monotonic()


def _attitude_ms(gcs: ScriptedGroundStation) -> int | None:
    att = gcs.latest.get("ATTITUDE")
    return None if att is None else int(att.time_boot_ms)


def _wait_for_position(bridge: MavlinkBridge, timeout_s: float) -> np.ndarray:
    """The vehicle's first valid local position (m, NED), polling the bridge; LinkTimeout after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pos = np.asarray(bridge.poll(bridge.link.now(), timeout_s=0.05).position_ned_m, dtype=float)
        if np.all(np.isfinite(pos)):
            return pos
    raise LinkTimeout(f"no valid LOCAL_POSITION_NED within {timeout_s:.0f} s (is the autopilot's EKF ready?)")


#: Wall seconds to wait for a SITL that is just booting: ArduCopter SITL needs ~20 s to its EKF origin and
#: ~40 s to use GPS on this machine kind (shared/sitl/README.md).
DEFAULT_SITL_WAIT_S = 120.0


#: Wall seconds the crew's ground-station heartbeat has to reach the bridge after the launch.
CREW_HEARD_WAIT_S = 5.0


def _check_crew_reaches_bridge(bridge: MavlinkBridge, gcs: ScriptedGroundStation, config: StackConfig, *,
                               connect: str, gcs_connect: str) -> None:
    """The dead-man must reach the stack, or follow can never engage: say why at once instead of flying a
    scenario that cannot do its job. ``BridgeError`` naming the topology fix."""
    deadline = time.monotonic() + CREW_HEARD_WAIT_S
    why: str | None = "not checked"
    while time.monotonic() < deadline:
        gcs.tick()
        bridge.poll(bridge.link.now(), timeout_s=0.05)
        why = bridge.engagement.deadman_problem(bridge.link.now())
        if why is None:
            return
    raise BridgeError(
        f"the stack on {connect} does not see the crew's dead-man from {gcs_connect} ({why}): follow could never "
        "engage. MAVProxy forwards what its --out clients send to the autopilot only, never to its other "
        "outputs, so a bridge on a MAVProxy output never hears the ground station. Connect the bridge to an "
        "autopilot port of its own, as a companion on TELEM2 would be (SITL: --connect tcp:127.0.0.1:5762, "
        "its SERIAL1), or configure an RC dead-man (link.deadman_rc_channel)")


def run_sitl_scenario(name: str, config: StackConfig, *, connect: str, gcs_connect: str = DEFAULT_SITL_GCS,
                      seed: int = 0, recorder: Recorder | None = None, duration_s: float | None = None,
                      connect_timeout_s: float = DEFAULT_SITL_WAIT_S, launch_timeout_s: float = DEFAULT_SITL_WAIT_S,
                      operator_script: OperatorScript | None = None, upload_fence: bool = True,
                      progress: Callable[[str], None] | None = None,
                      faults: SitlFaults | None = None, autopilot_fence: FenceConfig | None = None,
                      on_launched: Callable[[ScriptedGroundStation], None] | None = None,
                      speedup: float = 1.0) -> ScenarioResult:
    """Scenario ``name`` against an external autopilot SITL on ``connect`` (bridge) in real time.

    The SITL may be started before, with or after the stack: the bridge keeps trying to connect and waits for
    the autopilot's first position estimate for up to ``connect_timeout_s`` (wall seconds), the crew for the
    pre-arm checks, GUIDED, arming and the take-off for up to ``launch_timeout_s``; ``progress(text)`` is told
    every 5 s what is being waited for. Before the launch the bridge writes the setpoint timeout and
    (``upload_fence``) uploads and verifies the stack's fence, shifted into the SITL's frame (with the
    FENCE_ALT_MIN floor unless ``link.fence_altitude_floor`` is off). Raises ``BridgeError``/``LinkTimeout``
    "cannot connect to ..." when nothing answers in time. The simulator's truth (people, camera, every figure)
    follows the vehicle as the autopilot reports it: on the stack's link while the stack reads it, on the crew's
    port when the companion has stalled or died (:class:`CrewSeenPose`).

    ``autopilot_fence`` (scenario frame): uploaded to the autopilot in place of the stack's fence, e.g. one
    tighter than the governor's, to test the autopilot's own layer (its FENCE_ACTION) on a breach the governor
    does not foresee. ``on_launched(gcs)``: told the crew's ground station once the vehicle is airborne, before
    the scenario starts (e.g. to read the autopilot's parameters as the crew would).

    ``speedup`` (ArduPilot SITL only): at the hand-over the crew sets SIM_SPEEDUP to it (read back) and the
    stack, the crew and the world run on a clock that much faster than the wall clock (:class:`SitlClock`):
    the scenario flies in 1/``speedup`` of its duration. Recorded on ``/sim/sitl_clock``: the autopilot's own
    clock (ATTITUDE time_boot_ms on the crew's port) against the wall clock over the scenario, the speed-up
    reached.
    """
    if not (math.isfinite(speedup) and speedup >= 1.0):
        raise ValueError(f"speedup: must be >= 1, got {speedup}")
    clock = SitlClock()
    companion = CompanionClock(clock)  # the bridge's and the stack's; the crew and the world keep ``clock``
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
    bridge = open_bridge(config, connect, recorder=rec, tracking_handler=handler, wait_s=connect_timeout_s,
                         progress=progress, clock=companion)
    handler.on_change = bridge.engagement.select_subject
    gcs: ScriptedGroundStation | None = None
    try:
        connect_bridge(bridge, connect, timeout_s=connect_timeout_s, hint=" (is the SITL running?)",
                       progress=progress)
        record_run_header(rec, config, stamp_s=clock(), scenario=name, link="mavlink", seed=seed,
                          autopilot=f"external SITL at {connect}", simulator=True)
        # The scenario frame is the SITL's local frame shifted so that the vehicle's ground position is the
        # scenario's start point; fixed here, before the launch, so the fence uploaded to the autopilot (the
        # second layer) and the pose the stack sees use the same shift.
        ground = _wait_for_position(bridge, connect_timeout_s)
        offset = np.array([start[0] - ground[0], start[1] - ground[1], 0.0])
        prepare_autopilot(bridge, config, timeout_s=connect_timeout_s,
                          fence=shift_fence(autopilot_fence or config.fence, -offset[:2]) if upload_fence else None)
        try:
            def pump() -> None:  # the bridge keeps reading (and its heartbeats going) while the crew waits
                bridge.poll(companion(), timeout_s=0.01)

            gcs = ScriptedGroundStation(gcs_connect, pump=pump, heartbeat_hz=2.0, clock=clock)
            gcs.progress = progress
            gcs.operator_launch(height, timeout_s=launch_timeout_s)
            for msg_id, hz in TRUTH_STREAMS.items():
                gcs.set_message_interval(msg_id, hz, launch_timeout_s)
            _turn_to_heading(gcs, float(world.vehicle.yaw_rad), timeout_s=launch_timeout_s)
        except (SimTimeout, SimLinkError) as exc:
            raise BridgeError(f"the scripted crew on {gcs_connect} could not launch the SITL vehicle: {exc}") from None
        if config.link.deadman_rc_channel is not None:  # the pilot holds the dead-man switch (an RC override)
            gcs.hold_rc({config.link.deadman_rc_channel: 2000})
        _check_crew_reaches_bridge(bridge, gcs, config, connect=connect, gcs_connect=gcs_connect)
        if on_launched is not None:
            on_launched(gcs)
        target = bridge.link.target_system or 1
        crew = ScriptedCrew(world, GroundStationHands(
            bridge, gcs, pipeline, target_system=target, deadman_rc_channel=config.link.deadman_rc_channel,
            set_rc=lambda channel, pwm_us: gcs.hold_rc({channel: pwm_us}) if gcs is not None else None),
            operator_script)
        seen = CrewSeenPose(gcs, pose, offset, clock)
        meter = TruthMeter(world, config.safety.min_standoff_m, follow=config.follow)
        perception = SimulatedDetections(world, rng)
        link = BridgeVehicleLink(bridge, world.intrinsics, control=True, gimbal_pitch_rad=world.gimbal_pitch_rad,
                                 offset_ned_m=offset, on_state=seen.from_stack)
        dt_s = 1.0 / config.control_rate_hz
        faults = faults or SitlFaults()
        if speedup != 1.0:
            got = gcs.set_param("SIM_SPEEDUP", speedup, timeout_s=launch_timeout_s)
            if abs(got - speedup) > 1e-3:
                raise BridgeError(f"the SITL keeps SIM_SPEEDUP {got:g}, asked for {speedup:g}")
            clock.set_rate(speedup)
        ap_start = _autopilot_time(gcs)
        clock_start = clock()
        if speedup != 1.0:  # from the hand-over on, the world and the stack run on the autopilot's clock
            clock.follow(lambda: _attitude_ms(gcs))
        link_switch = faults.link_switch(
            lambda cut: rec.record("/sim/link_cut", companion(), {"cut": cut, "stamp_s": companion()}))
        clock_switch = faults.clock_switch(companion, lambda: rec.record("/sim/clock_jump", companion(), {
            "jump_s": companion.jump_s, "stamp_s": companion(), "world_t_s": world.t_s}))

        def on_world_time(t_s: float) -> None:
            clock_switch(t_s)
            link_switch(t_s)

        loop = ControlLoop(pipeline, clock=RealTimePeriods(world, gcs, dt_s, seen, on_world_time, clock, companion),
                           vehicle=link, perception=perception, operator=crew, health=faults.health(world),
                           observers=[TruthObserver(meter, rec, perception.subject_in_view)])
        loop.run(periods_for(duration_s if duration_s is not None else spec.duration_s, dt_s), freeze_heap=True)
        ap_end = _autopilot_time(gcs)
        rec.record("/sim/sitl_clock", clock(), {
            "speedup_set": speedup, "autopilot_s": ap_end[0] - ap_start[0], "wall_s": ap_end[1] - ap_start[1],
            "speedup_reached": (ap_end[0] - ap_start[0]) / max(ap_end[1] - ap_start[1], 1e-9),
            # the stack's clock over the same span: equal to the autopilot's when it followed it
            "stack_s": clock() - clock_start, "followed_autopilot": clock.following})
        if bridge.engagement.following and loop.health(companion()) is Health.ALIVE:
            bridge.disengage(companion(), "scenario ended")
        return meter.result(name, seed, dt_s, redesignations=crew.redesignations)
    finally:
        if gcs is not None:
            gcs.close()
        bridge.close()


__all__ = ["DEFAULT_SITL_GCS", "CrewSeenPose", "RealTimePeriods", "SitlClock", "SitlFaults", "run_sitl_scenario"]
